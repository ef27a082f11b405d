//! After `traced::install_tracer_provider`, a provider set later with plain
//! `opentelemetry::global::set_tracer_provider` receives the `#[traced]` spans: the user's last word wins.
//! (Own binary: it owns the process-wide providers.)

use opentelemetry_sdk::trace::InMemorySpanExporter;
use traced::traced;
use traced_tests::in_memory_tracer_provider;

#[traced]
fn work() {}

fn names(exporter: &InMemorySpanExporter) -> Vec<String> {
    exporter.get_finished_spans().unwrap_or_default().into_iter().map(|span| span.name.into_owned()).collect()
}

#[test]
fn a_global_provider_set_after_install_takes_over_and_install_takes_back() {
    let (installed, installed_spans) = in_memory_tracer_provider();
    traced::install_tracer_provider(&installed);
    work();
    assert_eq!(names(&installed_spans), ["work"]);

    let (users, users_spans) = in_memory_tracer_provider();
    opentelemetry::global::set_tracer_provider(users.clone());
    work();
    assert_eq!(names(&users_spans), ["work"], "the user's provider set last gets the span");
    assert_eq!(names(&installed_spans), ["work"], "the replaced provider gets nothing more");

    traced::install_tracer_provider(&installed);
    work();
    assert_eq!(names(&installed_spans), ["work", "work"]);
    assert_eq!(names(&users_spans), ["work"]);
}
