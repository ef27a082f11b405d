//! What a request to a known route shares with every other request to it: the `http.route` value and
//! the span name `{METHOD} {route}`, interned once, so a matched request allocates neither.
//! Per-request path, guarded by the `http_overhead` benchmark: a lookup hashes the template and reads
//! one atomic per probed slot, no lock. Only the first request of a route (and of a method on it)
//! takes the intern table's lock.
//!
//! Bounded twice: a layer keeps at most [`SLOTS`] routes (a route past that is served as before, with
//! per-request copies), and the process interns at most
//! [`ROUTE_BUDGET_BYTES`](super::interned::ROUTE_BUDGET_BYTES) of route text in total (interned text
//! lives as long as the process, shared by every layer). Templates come from the app's
//! router, never from the client, so neither bound is reached by traffic.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use opentelemetry::metrics::{BoundHistogram, Histogram};
use opentelemetry::KeyValue;

use super::interned::ROUTES;
use crate::http::semconv::RequestMethod;
use crate::privacy::{self, caps};

/// Routes one layer keeps.
pub(crate) const SLOTS: usize = 128;
/// Slots looked at for one template before giving up (open addressing).
const PROBES: usize = 8;
/// `http.server.request.duration` attribute sets one route keeps (method, scheme, version, status).
pub(crate) const METRIC_SETS: usize = 16;
/// Slots looked at for one attribute set.
const METRIC_SET_PROBES: usize = 4;

/// The interned routes of one layer.
pub(crate) struct RouteCache {
    slots: Box<[OnceLock<Route>]>,
    /// Span-name slots per route: one per known method, and one for the others (`HTTP {route}`).
    names_per_route: usize,
}

/// One route template and the span names of the methods seen on it.
pub(crate) struct Route {
    template: &'static str,
    /// Whether `url.path` of a request to the template's own path is the template (nothing to cut or
    /// redact in it).
    template_is_path_value: bool,
    names: Box<[OnceLock<Option<&'static str>>]>,
    metric_sets: Box<[OnceLock<MetricSet>]>,
}

/// One attribute set of the duration histogram, built and bound once, recorded by every request like it.
struct MetricSet {
    key: u64,
    /// The duration histogram bound to the set: recording skips the SDK's hashing and lookup of it.
    bound: BoundHistogram<f64>,
}

impl RouteCache {
    /// An empty cache for a layer that knows `known_methods` methods.
    pub(crate) fn new(known_methods: usize) -> Self {
        Self { slots: (0..SLOTS).map(|_| OnceLock::new()).collect(), names_per_route: known_methods + 1 }
    }

    /// The route of `template` and its slot, interned on first sight; `None` when the cache or the
    /// budget is full.
    pub(crate) fn get(&self, template: &str) -> Option<(usize, &Route)> {
        let start = fnv1a(template.as_bytes()) as usize;
        for probe in 0..PROBES {
            let index = (start + probe) % SLOTS;
            let slot = &self.slots[index];
            let route = match slot.get() {
                Some(route) => route,
                None => {
                    let interned = ROUTES.intern(template)?;
                    // Another thread may fill the slot first, with this route or another one.
                    slot.get_or_init(|| Route::new(interned, self.names_per_route))
                }
            };
            if route.template == template {
                return Some((index, route));
            }
        }
        None
    }

    /// The route in `slot`, as [`get`](Self::get) returned it.
    pub(crate) fn route(&self, slot: usize) -> Option<&Route> {
        self.slots.get(slot)?.get()
    }

    fn len(&self) -> usize {
        self.slots.iter().filter(|slot| slot.get().is_some()).count()
    }
}

impl Clone for RouteCache {
    /// An empty cache of the same shape: a builder method copies the configuration before any request.
    fn clone(&self) -> Self {
        Self::new(self.names_per_route - 1)
    }
}

impl fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteCache").field("routes", &self.len()).finish()
    }
}

impl Route {
    fn new(template: &'static str, names: usize) -> Self {
        Self {
            template,
            template_is_path_value: privacy::path_value(template, caps::URL_PATH) == template,
            names: (0..names).map(|_| OnceLock::new()).collect(),
            metric_sets: (0..METRIC_SETS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The template, for `http.route` (and `url.path` when the path is the template itself).
    pub(crate) fn template(&self) -> &'static str {
        self.template
    }

    /// Whether `path` is this route's template and records as it (so `url.path` can share it).
    pub(crate) fn is_path(&self, path: &str) -> bool {
        self.template_is_path_value && self.template == path
    }

    /// `histogram` bound to the attribute set of `key`, which `build` makes the first time; `None` when
    /// the route keeps [`METRIC_SETS`] other sets already. The cache must be dropped with the histogram
    /// (the layer rebuilds it whenever it changes its instruments).
    pub(crate) fn bound(
        &self,
        key: u64,
        histogram: &Histogram<f64>,
        build: impl FnOnce() -> Vec<KeyValue>,
    ) -> Option<&BoundHistogram<f64>> {
        let start = key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60;
        let mut build = Some(build);
        for probe in 0..METRIC_SET_PROBES {
            let slot = &self.metric_sets[(start as usize + probe) % METRIC_SETS];
            let set = match (slot.get(), build.take()) {
                (Some(set), unused) => {
                    build = unused;
                    set
                }
                (None, Some(build)) => slot.get_or_init(|| MetricSet { key, bound: histogram.bind(&build()) }),
                (None, None) => return None,
            };
            if set.key == key {
                return Some(&set.bound);
            }
        }
        None
    }

    /// `{METHOD} {route}` for `method` (`HTTP {route}` for an unknown one).
    pub(crate) fn span_name(&self, method: &RequestMethod) -> Cow<'static, str> {
        let interned = self
            .names
            .get(method.index)
            .and_then(|slot| *slot.get_or_init(|| ROUTES.intern(&join(&method.span_name(), self.template))));
        match interned {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(join(&method.span_name(), self.template)),
        }
    }
}

/// `{method} {route}`.
pub(crate) fn join(method: &str, route: &str) -> String {
    let mut name = String::with_capacity(method.len() + 1 + route.len());
    name.push_str(method);
    name.push(' ');
    name.push_str(route);
    name
}

/// FNV-1a: a few instructions per byte, good enough to spread route templates over the slots.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::http::semconv::KnownMethods;

    #[test]
    fn a_route_is_interned_once_and_named_per_method() {
        let known = KnownMethods::default();
        let cache = RouteCache::new(known.names().len());
        let (slot, first) = cache.get("/items/{item_id}").expect("room for a route");
        let (_, again) = cache.get(&String::from("/items/{item_id}")).expect("cached");
        assert!(std::ptr::eq(first, again) && std::ptr::eq(first, cache.route(slot).expect("filled")));
        assert_eq!(first.template(), "/items/{item_id}");
        let get = first.span_name(&known.classify(&Method::GET));
        assert_eq!(get, "GET /items/{item_id}");
        assert!(matches!(get, Cow::Borrowed(_)), "an interned name is borrowed");
        assert_eq!(first.span_name(&known.classify(&Method::POST)), "POST /items/{item_id}");
        let purge = Method::from_bytes(b"PURGE").expect("valid method");
        assert_eq!(first.span_name(&known.classify(&purge)), "HTTP /items/{item_id}");
        assert!(first.is_path("/items/{item_id}") && !first.is_path("/items/1"));
        assert_eq!(cache.get("/").expect("another route").1.template(), "/");
        let (_, nested_url) = cache.get("/go/http://user:pw@host/x").expect("room");
        assert!(!nested_url.is_path("/go/http://user:pw@host/x"), "its url.path is redacted per request");
    }

    #[test]
    fn a_full_cache_still_answers_by_missing() {
        let cache = RouteCache::new(KnownMethods::default().names().len());
        let templates: Vec<String> = (0..SLOTS * 2).map(|index| format!("/full-cache-test/{index}")).collect();
        let cached = templates.iter().filter(|template| cache.get(template).is_some()).count();
        assert!(cached <= SLOTS);
        assert!(cached >= SLOTS / 2, "only {cached} of {SLOTS} slots used");
        for template in &templates {
            if let Some((_, route)) = cache.get(template) {
                assert_eq!(route.template(), template);
            }
        }
    }

    #[test]
    fn metric_sets_are_bound_once_per_key_and_bounded() {
        use opentelemetry::metrics::MeterProvider as _;
        use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
        use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

        let exporter = InMemoryMetricExporter::default();
        let provider =
            SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
        let histogram = provider.meter("routes").f64_histogram("duration").build();
        let cache = RouteCache::new(1);
        let (_, route) = cache.get("/metric-sets").expect("room");
        let mut built = 0;
        let mut kept = 0;
        for round in 0..2 {
            for key in 0..100_u64 {
                let bound = route.bound(key, &histogram, || {
                    built += 1;
                    vec![KeyValue::new("key", key as i64)]
                });
                if let Some(bound) = bound {
                    bound.record(1.0);
                    kept += usize::from(round == 0);
                }
            }
        }
        assert!((METRIC_SETS / 2..=METRIC_SETS).contains(&kept), "{kept} sets kept");
        assert_eq!(built, kept, "each set is built once, a full route builds none");
        provider.force_flush().expect("flush");
        let metrics = exporter.get_finished_metrics().expect("exported");
        let data = &metrics.last().expect("one export").scope_metrics().next().expect("scope").metrics().next();
        let Some(AggregatedMetrics::F64(MetricData::Histogram(histogram))) = data.map(|metric| metric.data()) else {
            panic!("a histogram: {data:?}");
        };
        let points: Vec<_> = histogram.data_points().collect();
        assert_eq!(points.len(), kept);
        assert!(points.iter().all(|point| point.count() == 2), "both rounds reach the same bound set");
    }

    #[test]
    fn a_cloned_cache_starts_empty_with_the_same_shape() {
        let cache = RouteCache::new(3);
        cache.get("/a").expect("room");
        let clone = cache.clone();
        assert_eq!((cache.len(), clone.len(), clone.names_per_route), (1, 0, 4));
    }
}
