use traced::traced;

#[traced(kind = server, attributes)]
fn load_item(id: u64) -> u64 {
    id
}

fn main() {
    load_item(1);
}
