//! Functions in trait implementations, trait default methods and native `async fn` in traits.

use traced::traced;

trait Store {
    fn get(&self, id: u64) -> Option<String>;

    #[traced(attributes(id))]
    fn get_or_default(&self, id: u64) -> String {
        self.get(id).unwrap_or_default()
    }

    async fn load(&self, id: u64) -> Result<String, String>;
}

struct Memory;

impl Store for Memory {
    #[traced(kind = client, attributes(id))]
    fn get(&self, id: u64) -> Option<String> {
        (id == 1).then(|| "one".to_owned())
    }

    #[traced(name = "memory.load", attributes(id))]
    async fn load(&self, id: u64) -> Result<String, String> {
        tokio::task::yield_now().await;
        self.get(id).ok_or_else(|| format!("no item {id}"))
    }
}

impl std::fmt::Display for Memory {
    #[traced]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory")
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let store = Memory;
    assert_eq!(store.get_or_default(1), "one");
    assert_eq!(store.get_or_default(2), "");
    assert_eq!(store.load(1).await, Ok("one".to_owned()));
    assert_eq!(store.load(3).await, Err("no item 3".to_owned()));
    assert_eq!(store.to_string(), "memory");
}
