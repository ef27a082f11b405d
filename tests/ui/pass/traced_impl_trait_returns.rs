//! `impl Trait` in return position, alone and inside a `Result`, sync and async.

use std::fmt::Display;

use traced::traced;

#[traced]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[traced]
fn checked(n: i64) -> Result<impl Display, String> {
    if n < 0 {
        return Err(format!("{n} is negative"));
    }
    Ok(n * 2)
}

#[traced]
async fn later(n: u32) -> impl Display {
    n + 1
}

#[traced]
async fn parsed(text: &str) -> Result<impl Display + '_, std::num::ParseIntError> {
    let n: u32 = text.parse()?;
    Ok(format!("{text}={n}"))
}

#[traced]
fn make_adder(k: u32) -> Box<impl Fn(u32) -> u32> {
    Box::new(move |v| v + k)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(checked(2).map(|v| v.to_string()), Ok("4".to_owned()));
    assert!(checked(-1).is_err());
    assert_eq!(later(1).await.to_string(), "2");
    assert_eq!(parsed("7").await.map(|v| v.to_string()), Ok("7=7".to_owned()));
    assert!(parsed("x").await.is_err());
    assert_eq!(make_adder(2)(3), 5);
}
