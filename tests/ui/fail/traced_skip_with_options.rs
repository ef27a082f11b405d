use traced::traced;

struct Store;

#[traced]
impl Store {
    #[traced(skip, name = "store-get")]
    fn get(&self) {}
}

fn main() {
    Store.get();
}
