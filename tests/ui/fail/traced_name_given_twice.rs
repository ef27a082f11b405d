use traced::traced;

#[traced(name = "load-item", name = "fetch-item")]
fn load_item() {}

fn main() {
    load_item();
}
