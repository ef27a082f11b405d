//! Free functions, sync and async, with every option.

use traced::traced;

/// Doc comments and other attributes stay on the function.
#[traced]
#[inline]
#[must_use]
pub(crate) fn plain(a: u32, b: u32) -> u32 {
    a + b
}

#[traced]
fn returns_nothing(counter: &mut u32) {
    *counter += 1;
}

#[traced]
#[allow(clippy::unused_unit)]
fn returns_unit_explicitly(counter: &mut u32) -> () {
    if *counter > 5 {
        return;
    }
    *counter += 1;
}

#[traced(name = "load-item", kind = server, attributes(item.id = item_id, "query.present" = q.is_some(), q))]
async fn load_item(item_id: u64, q: Option<String>) -> String {
    format!("{item_id}:{}", q.unwrap_or_default())
}

#[traced(kind = client, attributes(exception.type = "none", demo.io_delay_seconds = 0.25, tags = vec!["a", "b"]))]
async fn keywords_and_values() {}

#[traced(kind = producer)]
fn produce() -> bool {
    true
}

#[traced(kind = consumer, attributes(r#type = 1u8))]
fn consume() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut counter = 0;
    returns_nothing(&mut counter);
    assert_eq!(counter, 1);
    returns_unit_explicitly(&mut counter);
    assert_eq!(counter, 2);
    assert_eq!(plain(1, 2), 3);
    assert_eq!(load_item(7, Some("x".into())).await, "7:x");
    keywords_and_values().await;
    assert!(produce());
    consume();
}
