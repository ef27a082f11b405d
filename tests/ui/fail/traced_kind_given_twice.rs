use traced::traced;

#[traced(kind = server, kind = client)]
fn load_item() {}

fn main() {
    load_item();
}
