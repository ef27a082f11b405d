use traced::traced;

#[traced(skip)]
fn load_item(id: u64) -> u64 {
    id
}

struct Store;

impl Store {
    #[traced(skip)]
    fn get(&self) {}
}

#[traced(skip)]
impl Store {
    fn put(&self) {}
}

fn main() {
    load_item(1);
    Store.get();
    Store.put();
}
