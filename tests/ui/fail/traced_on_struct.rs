use traced::traced;

#[traced]
struct Item {
    id: u64,
}

fn main() {
    let item = Item { id: 1 };
    assert_eq!(item.id, 1);
}
