use traced::traced;

struct Item {
    id: u64,
}

#[traced(attributes(item.id = item.id, item = item))]
fn store(item: Item) -> u64 {
    item.id
}

fn main() {
    store(Item { id: 1 });
}
