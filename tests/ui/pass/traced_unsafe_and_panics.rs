//! `unsafe fn` (sync and async) and functions that panic: the panic unwinds through the span.

use traced::traced;

#[traced]
unsafe fn read_raw(pointer: *const u32) -> u32 {
    *pointer
}

#[traced]
async unsafe fn read_raw_later(pointer: *const u32) -> u32 {
    *pointer
}

#[traced]
fn explode(message: &str) -> u32 {
    panic!("{message}")
}

#[traced]
async fn explode_later() {
    panic!("later")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let value = 7;
    assert_eq!(unsafe { read_raw(&value) }, 7);
    assert_eq!(unsafe { read_raw_later(&value) }.await, 7);
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(|| explode("boom")).is_err());
    let task = tokio::spawn(explode_later());
    assert!(task.await.is_err_and(|error| error.is_panic()));
}
