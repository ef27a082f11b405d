use traced::traced;

#[traced(metrics = true)]
fn load_item(id: u64) -> u64 {
    id
}

fn main() {
    load_item(1);
}
