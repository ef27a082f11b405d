use traced::traced;

#[traced(attributes(".item.id" = id))]
fn load_item(id: u64) -> u64 {
    id
}

fn main() {
    load_item(1);
}
