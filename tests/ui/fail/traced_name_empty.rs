use traced::traced;

#[traced(name = "")]
fn load_item() {}

fn main() {
    load_item();
}
