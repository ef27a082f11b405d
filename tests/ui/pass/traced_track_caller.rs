//! `#[track_caller]` functions keep reporting their caller's location.

use std::panic::Location;

use traced::traced;

#[traced]
#[track_caller]
fn where_called() -> &'static Location<'static> {
    Location::caller()
}

#[traced(attributes(expected))]
#[track_caller]
fn check(expected: bool) -> u32 {
    assert!(expected, "check failed");
    1
}

fn main() {
    let line = line!() + 1;
    let location = where_called();
    assert_eq!((location.file(), location.line()), (file!(), line));

    assert_eq!(check(true), 1);
    let panicked_at = std::sync::Arc::new(std::sync::Mutex::new(None));
    let record = std::sync::Arc::clone(&panicked_at);
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut slot) = record.lock() {
            *slot = info.location().map(|location| location.line());
        }
    }));
    let line = line!() + 1;
    assert!(std::panic::catch_unwind(|| check(false)).is_err());
    assert_eq!(*panicked_at.lock().unwrap(), Some(line));
}
