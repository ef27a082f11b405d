//! Generic functions with bounds and `where` clauses, const generics, lifetimes (elided ones too),
//! `dyn Trait + '_` returns, `impl Trait` arguments.

use std::borrow::Cow;
use std::fmt::Display;

use traced::traced;

#[traced(attributes(label = label.to_string()))]
fn describe<T: Display + Clone, U>(label: T, extra: U) -> String
where
    U: AsRef<str>,
{
    format!("{label}{}", extra.as_ref())
}

#[traced]
fn longest<'a, 'b: 'a>(a: &'a str, b: &'b str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[traced(attributes(name = name.as_ref()))]
fn greet<'a>(name: Cow<'a, str>) -> Cow<'a, str> {
    if name.is_empty() { Cow::Borrowed("nobody") } else { name }
}

#[traced]
fn sum_all(values: impl IntoIterator<Item = u32>, scale: &impl Fn(u32) -> u32) -> u32 {
    values.into_iter().map(scale).sum()
}

#[traced]
async fn first<'a, T>(items: &'a [T]) -> Option<&'a T>
where
    T: Sync,
{
    items.first()
}

#[traced(attributes(length = N))]
fn total<const N: usize>(values: [u32; N]) -> u32 {
    values.iter().sum()
}

#[traced]
fn evens<'a>(values: &'a [u32]) -> Box<dyn Iterator<Item = &'a u32> + 'a> {
    Box::new(values.iter().filter(|v| *v % 2 == 0))
}

#[traced]
fn odds(values: &[u32]) -> Box<dyn Iterator<Item = &u32> + '_> {
    Box::new(values.iter().filter(|v| *v % 2 == 1))
}

struct Wrapper<T>(T);

impl<T: Clone + Send> Wrapper<T> {
    #[traced]
    fn get(&self) -> T {
        self.0.clone()
    }

    #[traced]
    async fn replace<U: Into<T>>(&mut self, value: U) -> T {
        std::mem::replace(&mut self.0, value.into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(describe(1, "x"), "1x");
    assert_eq!(longest("abc", "de"), "abc");
    assert_eq!(greet(Cow::Borrowed("")), "nobody");
    assert_eq!(sum_all(vec![1, 2], &|v| v * 10), 30);
    assert_eq!(first(&[5, 6]).await, Some(&5));
    assert_eq!(total([1, 2, 3]), 6);
    assert_eq!(evens(&[1, 2, 4]).count(), 2);
    assert_eq!(odds(&[1, 2, 4]).count(), 1);
    let mut wrapper = Wrapper(String::from("a"));
    assert_eq!(wrapper.replace("b").await, "a");
    assert_eq!(wrapper.get(), "b");
}
