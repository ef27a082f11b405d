//! A test binary that installs its own tracer provider and also uses `traced::testing`: a capture
//! (or `without_provider`) takes the provider's place only while it lives, so the binary's other
//! tests keep exporting to their provider whatever order the tests run in.

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use traced::traced;
use traced_tests::in_memory_tracer_provider;

#[traced(name = "work")]
fn work() {}

struct UsersTelemetry {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

/// The user's own provider, set globally once; tests take turns with it.
fn users_telemetry() -> (MutexGuard<'static, ()>, &'static UsersTelemetry) {
    static TURN: Mutex<()> = Mutex::new(());
    static TELEMETRY: OnceLock<UsersTelemetry> = OnceLock::new();
    let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let telemetry = TELEMETRY.get_or_init(|| {
        let (provider, exporter) = in_memory_tracer_provider();
        opentelemetry::global::set_tracer_provider(provider.clone());
        UsersTelemetry { exporter, provider }
    });
    telemetry.exporter.reset();
    (turn, telemetry)
}

fn exported_names(exporter: &InMemorySpanExporter) -> Vec<String> {
    let spans = exporter.get_finished_spans().expect("the in-memory exporter answers");
    spans.into_iter().map(|span| span.name.into_owned()).collect()
}

#[test]
fn the_users_global_provider_is_back_after_a_capture() {
    let (_turn, users) = users_telemetry();
    let exporter = &users.exporter;
    {
        let capture = traced::testing::capture();
        work();
        assert_eq!(capture.spans().len(), 1);
    }
    assert!(exported_names(exporter).is_empty(), "the captured span went to the capture only");

    work();
    opentelemetry::global::tracer("manual").in_span("manual", |_| ());
    assert_eq!(exported_names(exporter), ["work", "manual"]);
}

#[test]
fn the_users_global_provider_is_back_after_running_without_one() {
    let (_turn, users) = users_telemetry();
    let exporter = &users.exporter;
    {
        let _none = traced::testing::without_provider();
        work();
    }
    assert!(exported_names(exporter).is_empty(), "nothing is exported without a provider");

    work();
    assert_eq!(exported_names(exporter), ["work"]);
}

#[test]
fn an_sdk_provider_installed_for_traced_is_back_after_a_capture() {
    let (_turn, users) = users_telemetry();
    let (provider, exporter) = in_memory_tracer_provider();
    traced::install_tracer_provider(&provider);
    drop(traced::testing::capture());

    work();
    provider.tracer("manual").in_span("manual", |_| ());
    assert_eq!(exported_names(&exporter), ["work", "manual"]);
    // The other tests' provider, for `#[traced]` and globally.
    traced::install_tracer_provider(&users.provider);
}
