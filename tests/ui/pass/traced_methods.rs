//! Methods with every receiver, associated functions, and borrows returned from `self`.

use traced::traced;

struct Cart {
    items: Vec<u32>,
    owner: String,
}

impl Cart {
    #[traced]
    fn new(owner: &str) -> Self {
        Cart { items: Vec::new(), owner: owner.to_owned() }
    }

    #[traced(attributes(cart.size = self.items.len()))]
    fn total(&self) -> u32 {
        self.items.iter().sum()
    }

    #[traced(attributes(item = item))]
    fn add(&mut self, item: u32) -> &mut Self {
        self.items.push(item);
        self
    }

    #[traced]
    fn owner(&self) -> &str {
        &self.owner
    }

    #[traced]
    fn last_mut(&mut self) -> Option<&mut u32> {
        self.items.last_mut()
    }

    #[traced(attributes(owner = self.owner.as_str()))]
    fn into_items(self) -> Vec<u32> {
        self.items
    }

    #[traced]
    async fn total_later(&self) -> u32 {
        tokio::task::yield_now().await;
        self.total()
    }

    #[traced]
    async fn clear(&mut self) {
        self.items.clear();
    }

    #[traced]
    async fn into_owner(self) -> String {
        self.owner
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut cart = Cart::new("ada");
    cart.add(2).add(3);
    if let Some(last) = cart.last_mut() {
        *last += 1;
    }
    assert_eq!(cart.total(), 6);
    assert_eq!(cart.total_later().await, 6);
    assert_eq!(cart.owner(), "ada");
    cart.clear().await;
    assert_eq!(cart.total(), 0);
    cart.add(1);
    let owner = Cart { items: vec![], owner: "bo".into() }.into_owner().await;
    assert_eq!(owner, "bo");
    assert_eq!(cart.into_items(), vec![1]);
}
