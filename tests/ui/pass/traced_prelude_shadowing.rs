//! Generated code names nothing from the user's prelude: it compiles where `Result`, `Option`, `Box`,
//! `drop` and `opentelemetry` mean something else, and in a `#![no_implicit_prelude]` module.

#![allow(dead_code)]

mod shadowing {
    type Result = ();
    type Option = ();
    type Box = ();
    type Vec = ();
    type String = ();
    mod opentelemetry {}
    mod core {}
    mod std {}
    fn drop() {}
    fn call_once() {}

    #[::traced::traced(attributes(value))]
    pub fn sync_value(value: u32) -> u32 {
        value * 2
    }

    #[::traced::traced]
    pub fn sync_result(value: u32) -> ::core::result::Result<u32, ()> {
        if value == 0 { ::core::result::Result::Err(()) } else { ::core::result::Result::Ok(value) }
    }

    #[::traced::traced(attributes(value))]
    pub async fn async_value(value: u32) -> u32 {
        value + 1
    }

    #[::traced::traced]
    pub async fn async_unit() {}
}

mod without_prelude {
    #![no_implicit_prelude]

    #[::traced::traced(attributes(value))]
    pub fn sync_result(value: u32) -> ::core::result::Result<u32, ()> {
        ::core::result::Result::Ok(value)
    }

    #[::traced::traced(attributes(value))]
    pub async fn async_value(value: u32) -> u32 {
        value
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(shadowing::sync_value(2), 4);
    assert!(shadowing::sync_result(0).is_err());
    assert_eq!(shadowing::async_value(2).await, 3);
    shadowing::async_unit().await;
    assert_eq!(without_prelude::sync_result(1), Ok(1));
    assert_eq!(without_prelude::async_value(1).await, 1);
}
