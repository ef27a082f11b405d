use traced::traced;

#[traced(attributes(item.id = id, "item.id" = id + 1))]
fn load_item(id: u64) -> u64 {
    id
}

fn main() {
    load_item(1);
}
