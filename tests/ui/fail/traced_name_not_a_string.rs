use traced::traced;

#[traced(name = 5)]
fn load_item() {}

fn main() {
    load_item();
}
