//! `#[traced]` on impl blocks: inherent, generic, trait and `#[async_trait]` impls (both orders),
//! per-method overrides, `skip`, and the items of an impl that are not methods with a body.

use std::fmt;

use async_trait::async_trait;
use traced::traced;

struct Store<T> {
    items: Vec<T>,
}

#[traced(kind = client, attributes(db.system.name = "memory"))]
impl<T: Clone + Send> Store<T>
where
    T: fmt::Debug,
{
    const LIMIT: usize = 8;

    fn new() -> Self {
        Self { items: Vec::new() }
    }

    #[traced(name = "store-get", attributes(index))]
    pub fn get(&self, index: usize) -> Option<T> {
        self.items.get(index).cloned()
    }

    #[traced::traced(kind = internal)]
    pub(crate) fn put(&mut self, item: T) -> Result<usize, String> {
        if self.items.len() >= Self::LIMIT {
            return Err("full".to_owned());
        }
        self.items.push(item);
        Ok(self.items.len())
    }

    #[traced(skip)]
    fn len(&self) -> usize {
        self.items.len()
    }

    async fn fetch(&self, index: usize) -> Option<T> {
        self.get(index)
    }

    const fn limit() -> usize {
        Self::LIMIT
    }
}

struct Item;

#[traced]
impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "item")
    }
}

#[async_trait]
trait Load {
    async fn load(&self, id: u64) -> Result<u64, String>;
}

#[traced(attributes(id))]
#[async_trait]
impl Load for Item {
    async fn load(&self, id: u64) -> Result<u64, String> {
        Ok(id)
    }
}

struct Other;

#[async_trait]
#[traced(root)]
impl Load for Other {
    #[traced(name = "other-load")]
    async fn load(&self, id: u64) -> Result<u64, String> {
        Ok(id)
    }
}

trait Native {
    async fn run(&self) -> u8;
}

#[traced]
impl Native for Other {
    async fn run(&self) -> u8 {
        1
    }
}

fn main() {
    let mut store = Store::<u8>::new();
    let _ = store.put(1);
    let _ = store.get(0);
    let _ = store.len();
    let _ = store.fetch(0);
    let _ = Store::<u8>::limit();
    let _ = Item.to_string();
    let _ = Item.load(1);
    let _ = Other.load(1);
    let _ = Other.run();
}
