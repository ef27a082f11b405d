//! `#[traced(metrics)]`: autometrics' `function.calls` counter and `function.calls.duration` histogram,
//! read from an in-memory exporter behind the global meter provider of this test binary.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::Sampler;
use traced::traced;

/// The global meter provider, installed before any instrumented call (instruments are created from the
/// provider in place at a site's first call).
fn meters() -> &'static (SdkMeterProvider, InMemoryMetricExporter) {
    static METERS: OnceLock<(SdkMeterProvider, InMemoryMetricExporter)> = OnceLock::new();
    METERS.get_or_init(|| {
        let exporter = InMemoryMetricExporter::default();
        let provider =
            SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
        opentelemetry::global::set_meter_provider(provider.clone());
        (provider, exporter)
    })
}

type Labels = BTreeMap<String, String>;

/// Every point of the metric `name` whose `function` label is `function`: (labels, count or value).
fn points(name: &str, function: &str) -> Vec<(Labels, u64)> {
    let (provider, exporter) = meters();
    exporter.reset();
    provider.force_flush().expect("flush metrics");
    let exported: Vec<ResourceMetrics> = exporter.get_finished_metrics().expect("exported metrics");
    let Some(metric) = exported
        .iter()
        .rev()
        .find_map(|resource| resource.scope_metrics().flat_map(|scope| scope.metrics()).find(|m| m.name() == name))
    else {
        return Vec::new();
    };
    let labels = |attributes: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| -> Labels {
        attributes.map(|kv| (kv.key.to_string(), kv.value.to_string())).collect()
    };
    let all: Vec<(Labels, u64)> = match metric.data() {
        AggregatedMetrics::U64(MetricData::Sum(sum)) => {
            sum.data_points().map(|point| (labels(&mut point.attributes()), point.value())).collect()
        }
        AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
            histogram.data_points().map(|point| (labels(&mut point.attributes()), point.count())).collect()
        }
        other => panic!("{name} has unexpected data: {other:?}"),
    };
    let mut mine: Vec<(Labels, u64)> =
        all.into_iter().filter(|(labels, _)| labels.get("function").map(String::as_str) == Some(function)).collect();
    mine.sort();
    mine
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
}

#[derive(Debug)]
struct Refused;

#[traced(metrics)]
fn checkout(fail: bool) -> Result<u8, Refused> {
    if fail {
        return Err(Refused);
    }
    Ok(1)
}

#[test]
fn calls_are_counted_by_result_and_timed_with_autometrics_names_and_labels() {
    meters();
    let _capture = traced::testing::capture();
    for fail in [false, true, false] {
        let _ = checkout(fail);
    }
    let module = "traced_metrics";
    let calls = points("function.calls", "checkout");
    let caller = [("caller.function", ""), ("caller.module", "")];
    let with =
        |result| labels(&[&[("function", "checkout"), ("module", module), ("result", result)], &caller[..]].concat());
    assert_eq!(calls, [(with("error"), 1), (with("ok"), 2)]);
    let durations = points("function.calls.duration", "checkout");
    assert_eq!(durations, [(labels(&[("function", "checkout"), ("module", module)]), 3)]);
}

#[traced(metrics)]
fn leaf() -> u8 {
    1
}

#[traced]
fn untracked_middle() -> u8 {
    leaf()
}

#[traced(metrics)]
fn entry() -> u8 {
    untracked_middle() + leaf()
}

#[traced(metrics)]
async fn async_leaf() {
    tokio::task::yield_now().await;
}

#[traced(metrics)]
async fn async_entry() {
    tokio::task::yield_now().await;
    async_leaf().await;
}

#[tokio::test]
async fn the_caller_is_the_enclosing_metrics_function_across_await_points_and_none_outside() {
    meters();
    let _capture = traced::testing::capture();
    leaf();
    entry();
    async_entry().await;
    let calls = points("function.calls", "leaf");
    let from = |caller: &str, caller_module: &str| {
        labels(&[
            ("function", "leaf"),
            ("module", "traced_metrics"),
            ("caller.function", caller),
            ("caller.module", caller_module),
        ])
    };
    assert_eq!(calls, [(from("", ""), 1), (from("entry", "traced_metrics"), 2)], "no `result` for a non-Result");
    let async_calls = points("function.calls", "async_leaf");
    assert_eq!(async_calls.len(), 1);
    assert_eq!(async_calls[0].0.get("caller.function").map(String::as_str), Some("async_entry"));
}

#[traced(metrics)]
fn unsampled() {}

#[traced(metrics, level = trace)]
fn filtered_level() {}

#[test]
fn calls_are_recorded_whether_the_span_is_sampled_or_created_or_not() {
    meters();
    let capture = traced::testing::capture_with_sampler(Sampler::AlwaysOff);
    unsampled();
    filtered_level();
    assert!(capture.spans().is_empty());
    assert_eq!(points("function.calls", "unsampled").len(), 1);
    assert_eq!(points("function.calls", "filtered_level").first().map(|(_, count)| *count), Some(1));
}

struct Cart;

#[traced(metrics)]
impl Cart {
    fn add(&self) {}

    #[traced(skip)]
    fn peek(&self) {}
}

#[test]
fn impl_block_methods_are_named_type_colon_colon_method() {
    meters();
    let _capture = traced::testing::capture();
    Cart.add();
    Cart.peek();
    assert_eq!(points("function.calls", "Cart::add").len(), 1);
    assert!(points("function.calls", "Cart::peek").is_empty());
}
