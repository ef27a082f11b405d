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
fn middle() -> u8 {
    leaf()
}

#[traced(metrics)]
fn entry() -> u8 {
    middle() + leaf()
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
async fn the_caller_is_the_enclosing_traced_function_across_await_points_and_none_outside() {
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
    assert_eq!(
        calls,
        [(from("", ""), 1), (from("entry", "traced_metrics"), 1), (from("middle", "traced_metrics"), 1)],
        "no `result` for a non-Result; the plain `middle` is the caller inside it, `entry` again after it"
    );
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

// ---- a `#[traced]` function without `metrics` as the caller ------------------------------------------
//
// Plain functions are tracked once the process has called a `metrics` function (before that they cost
// one atomic load and are nobody's caller): each test below makes such a call first.

#[traced(metrics)]
fn start_tracking() {}

#[traced(metrics)]
fn stock(fail: bool) -> Result<u8, Refused> {
    if fail {
        Err(Refused)
    } else {
        Ok(1)
    }
}

#[traced]
fn plain_outer() -> u8 {
    stock(false).unwrap_or(0) + stock(true).unwrap_or(0)
}

mod web {
    use super::*;

    #[traced(metrics)]
    pub(super) async fn fetch_price() -> u8 {
        tokio::task::yield_now().await;
        2
    }

    #[traced]
    pub(super) async fn plain_handler() -> u8 {
        tokio::task::yield_now().await;
        let price = fetch_price().await;
        // After an await point the handler may be polled on another thread: still the caller there.
        tokio::task::yield_now().await;
        price + super::stock(false).unwrap_or(0)
    }
}

#[test]
fn a_plain_traced_sync_function_is_the_caller_of_the_metrics_functions_it_calls() {
    meters();
    let _capture = traced::testing::capture();
    start_tracking();
    assert_eq!(plain_outer(), 1);
    let from_outer = |result| {
        labels(&[
            ("function", "stock"),
            ("module", "traced_metrics"),
            ("result", result),
            ("caller.function", "plain_outer"),
            ("caller.module", "traced_metrics"),
        ])
    };
    let calls: Vec<_> = points("function.calls", "stock")
        .into_iter()
        .filter(|(labels, _)| labels["caller.function"] == "plain_outer")
        .collect();
    assert_eq!(calls, [(from_outer("error"), 1), (from_outer("ok"), 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_traced_async_function_is_the_caller_across_await_points_and_in_its_module() {
    meters();
    let _capture = traced::testing::capture();
    start_tracking();
    assert_eq!(tokio::spawn(web::plain_handler()).await.expect("handler"), 3);
    let handler = [("caller.function", "plain_handler"), ("caller.module", "traced_metrics::web")];
    let price = points("function.calls", "fetch_price");
    let expected = labels(&[&[("function", "fetch_price"), ("module", "traced_metrics::web")], &handler[..]].concat());
    assert_eq!(price, [(expected, 1)]);
    let stock: Vec<_> = points("function.calls", "stock")
        .into_iter()
        .filter(|(labels, _)| labels["caller.function"] == "plain_handler")
        .collect();
    assert_eq!(stock.len(), 1);
    assert_eq!(stock[0].0["caller.module"], "traced_metrics::web");
}

#[traced(metrics)]
fn nested_leaf() {}

#[traced]
fn nested_inner() {
    nested_leaf();
}

#[traced]
async fn nested_async_inner() {
    tokio::task::yield_now().await;
    nested_leaf();
}

#[traced]
fn nested_outer() {
    nested_leaf();
    nested_inner();
    nested_leaf();
}

#[traced(metrics)]
async fn nested_metrics_outer() {
    nested_async_inner().await;
    nested_leaf();
}

struct Basket;

#[traced]
impl Basket {
    fn total(&self) {
        nested_leaf();
    }
}

#[tokio::test]
async fn each_caller_is_restored_when_the_traced_function_it_called_returns() {
    meters();
    let _capture = traced::testing::capture();
    start_tracking();
    nested_outer();
    nested_metrics_outer().await;
    Basket.total();
    nested_leaf();
    let callers: Vec<(String, u64)> = points("function.calls", "nested_leaf")
        .into_iter()
        .map(|(labels, count)| (labels["caller.function"].clone(), count))
        .collect();
    let expected = [
        ("", 1),
        ("Basket::total", 1),
        ("nested_async_inner", 1),
        ("nested_inner", 1),
        ("nested_metrics_outer", 1),
        ("nested_outer", 2),
    ];
    assert_eq!(callers, expected.map(|(caller, count)| (caller.to_owned(), count)));
}

#[traced(metrics)]
fn quiet_leaf() {}

#[traced(level = trace)]
fn below_the_threshold() {
    quiet_leaf();
}

#[test]
fn a_function_whose_span_is_filtered_out_at_run_time_is_still_the_caller() {
    meters();
    let capture = traced::testing::capture();
    start_tracking();
    below_the_threshold();
    assert!(capture.spans_named("below_the_threshold").is_empty(), "trace is below `info`");
    let calls = points("function.calls", "quiet_leaf");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0["caller.function"], "below_the_threshold");
}
