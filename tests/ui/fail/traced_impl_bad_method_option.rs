use traced::traced;

struct Store;

#[traced(kind = client, attributes(id))]
impl Store {
    #[traced(kind = sever)]
    fn get(&self, id: u64) -> u64 {
        id
    }

    fn put(&self, item: u64) -> u64 {
        item
    }
}

fn main() {
    Store.get(1);
    Store.put(1);
}
