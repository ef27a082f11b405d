//! A tracer provider set with plain `opentelemetry::global::set_tracer_provider` after `#[traced]`
//! spans already ran with none installed (own binary: it owns the process-wide providers).
//!
//! When it is picked up: on a thread that had not found the global empty, at its first `#[traced]`
//! call; on a thread whose spans found no provider, at its 1,025th call after the install at the latest
//! (it skips asking the global for 2, 4, ... up to 1,024 calls after each empty answer), and then at
//! every call. `traced::install_tracer_provider` takes effect at every thread's next call.

use opentelemetry_sdk::trace::InMemorySpanExporter;
use traced::traced;
use traced_tests::in_memory_tracer_provider;

#[traced]
fn work() {}

fn exported(exporter: &InMemorySpanExporter) -> usize {
    exporter.get_finished_spans().unwrap_or_default().len()
}

#[test]
fn a_provider_set_later_gets_the_spans_within_1025_calls_and_install_at_once() {
    // Nothing installed: this thread learns that the global is empty and skips it up to 1,024 calls.
    for _ in 0..5000 {
        work();
    }

    let (users, users_spans) = in_memory_tracer_provider();
    opentelemetry::global::set_tracer_provider(users.clone());
    std::thread::spawn(work).join().expect("no panic");
    assert_eq!(exported(&users_spans), 1, "a thread that never found the global empty: its first call");

    let mut calls = 0;
    while exported(&users_spans) == 1 {
        work();
        calls += 1;
        assert!(calls <= 1025, "picked up by the 1,025th call after the install");
    }
    for _ in 0..100 {
        work();
    }
    assert_eq!(exported(&users_spans), 2 + 100, "once picked up, every call");

    // The user takes the provider away again, this thread learns it, then `traced` installs one.
    opentelemetry::global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
    for _ in 0..5000 {
        work();
    }
    assert_eq!(exported(&users_spans), 102, "the replaced provider gets nothing more");
    let (installed, installed_spans) = in_memory_tracer_provider();
    traced::install_tracer_provider(&installed);
    work();
    assert_eq!(exported(&installed_spans), 1, "`install_tracer_provider` takes effect at the next call");
}
