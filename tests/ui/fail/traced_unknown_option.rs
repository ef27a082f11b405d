use traced::traced;

#[traced(nmae = "load-item")]
fn load_item() {}

fn main() {
    load_item();
}
