//! `#[traced]` spans in recycled attribute `Vec`s carry exactly what the SDK would give them otherwise:
//! the same attributes in the same order, the same span limits and dropped count, with the code
//! attributes on or off, with the site's own attributes and a sampler's; and a `Vec` is taken only for
//! a span that records attributes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::trace::{
    Link, Span as _, SpanBuilder, SpanKind, TraceContextExt as _, TraceId, TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample, Span, SpanData, SpanProcessor,
};

use super::code_location::set_code_attributes;
use super::id_generator::SharedIdGenerator;
use super::recycled_attributes::{self, SMALL};
use super::sampling::SharedSampler;
use super::{start_span, Attributes, Site};

static SITE: Site = Site::new("recycled", SpanKind::Internal).with_code("shop", "shop::load", "src/shop.rs", 7);

const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

/// Keeps every ended span and where its attribute `Vec`'s buffer was.
#[derive(Debug, Clone, Default)]
struct Ended(Arc<Mutex<Vec<(usize, SpanData)>>>);

impl Ended {
    fn take(&self) -> Vec<(usize, SpanData)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SpanProcessor for Ended {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let buffer = span.attributes.as_ptr() as usize;
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push((buffer, span));
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// A sampler that keeps every span and adds an attribute of its own.
#[derive(Debug, Clone)]
struct Noting;

impl ShouldSample for Noting {
    fn should_sample(
        &self,
        _parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: SamplingDecision::RecordAndSample,
            attributes: vec![KeyValue::new("sampler.note", "kept")],
            trace_state: TraceState::default(),
        }
    }
}

/// A provider installed for `#[traced]` as `traced::init()` does (sampler and ids known), keeping at
/// most `limit` attributes a span.
fn install(sampler: SharedSampler, limit: u32) -> (SdkTracerProvider, Ended) {
    // As once `traced`'s exporters handed `Vec`s back.
    recycled_attributes::in_use();
    let ended = Ended::default();
    let ids = SharedIdGenerator::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(ended.clone())
        .with_sampler(sampler.clone())
        .with_id_generator(ids.clone())
        .with_max_attributes_per_span(limit)
        .build();
    crate::install_tracer_provider_with_sampler_and_ids(&provider, sampler, ids);
    (provider, ended)
}

fn push(count: usize) -> impl FnOnce(&mut Attributes) {
    move |attributes| {
        for (value, key) in KEYS.iter().take(count).enumerate() {
            attributes.push(key, &(value as i64));
        }
    }
}

/// What the span gets from the plain SDK: the site's attributes in the builder, the code attributes
/// set once it is built (as `#[traced]` did before it took recycled `Vec`s).
fn plain_sdk(parent: &Context, user: usize, code: bool) -> SpanData {
    let ended = Ended::default();
    let reference = SdkTracerProvider::builder()
        .with_span_processor(ended.clone())
        .with_sampler(Sampler::AlwaysOn)
        .with_max_attributes_per_span(LIMIT)
        .build();
    let mut builder = SpanBuilder::from_name("recycled");
    let attributes: Vec<KeyValue> =
        KEYS.iter().take(user).enumerate().map(|(v, k)| KeyValue::new(*k, v as i64)).collect();
    if !attributes.is_empty() {
        builder.attributes = Some(attributes);
    }
    let mut span = reference.tracer("t").build_with_context(builder, parent);
    if code {
        span.set_attributes([
            KeyValue::new("code.function.name", "shop::load"),
            KeyValue::new("code.file.path", "src/shop.rs"),
            KeyValue::new("code.line.number", 7_i64),
        ]);
    }
    span.end();
    ended.take().pop().expect("ended").1
}

const LIMIT: u32 = 5;

fn same(recycled: &SpanData, plain: &SpanData) {
    assert_eq!(recycled.attributes, plain.attributes);
    assert_eq!(recycled.dropped_attributes_count, plain.dropped_attributes_count);
}

#[test]
fn roots_and_children_of_sampled_parents_carry_what_the_sdk_gives_them() {
    let _turn = crate::testing::without_provider();
    let (_provider, ended) = install(SharedSampler::parent_based(Sampler::AlwaysOn), LIMIT);
    for code in [true, false] {
        set_code_attributes(code);
        for user in [0, 1, 2, 6] {
            // A root decided by `traced`, then a child of it (the SDK's `ParentBased` keeps it).
            {
                let root = start_span(&SITE, push(user));
                let _entered = root.enter();
                drop(start_span(&SITE, push(user)));
            }
            let spans = ended.take();
            assert_eq!(spans.len(), 2);
            let (child, root) = (&spans[0].1, &spans[1].1);
            assert_eq!(child.parent_span_id, root.span_context.span_id());
            same(root, &plain_sdk(&Context::new(), user, code));
            let parent = Context::new().with_remote_span_context(root.span_context.clone());
            same(child, &plain_sdk(&parent, user, code));
            let expected = user + if code { 3 } else { 0 };
            assert_eq!(root.attributes.len(), expected.min(LIMIT as usize), "user {user}, code {code}");
            assert_eq!(root.dropped_attributes_count as usize, expected.saturating_sub(LIMIT as usize));
        }
    }
    set_code_attributes(true);
}

#[test]
fn a_recycled_vec_is_used_and_arrives_empty() {
    let _turn = crate::testing::without_provider();
    let (_provider, ended) = install(SharedSampler::parent_based(Sampler::AlwaysOn), 128);
    let mut dirty = Vec::with_capacity(SMALL);
    dirty.push(KeyValue::new("left.by.another.span", "secret"));
    let buffer = dirty.as_ptr() as usize;
    // This thread's cache takes it (emptied), and the next span that records attributes uses it.
    recycled_attributes::keep(dirty);
    drop(start_span(&SITE, push(1)));
    let (used, span) = ended.take().pop().expect("ended");
    assert_eq!(used, buffer, "the span's attributes are in the recycled Vec");
    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["a", "code.function.name", "code.file.path", "code.line.number"]);
}

#[test]
fn a_samplers_attributes_keep_their_place() {
    let _turn = crate::testing::without_provider();
    let (_provider, ended) = install(SharedSampler::new(Noting), 128);
    drop(start_span(&SITE, push(2)));
    let span = ended.take().pop().expect("ended").1;
    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "sampler.note", "code.function.name", "code.file.path", "code.line.number"]);
}

#[test]
fn a_vec_is_taken_only_for_attributes_and_comes_back_from_a_dropped_span() {
    let _turn = crate::testing::without_provider();
    // Without the sampler the decision is the SDK's: a span without attributes of its own takes none
    // (the SDK's span gets the code attributes as before).
    let ended = Ended::default();
    let provider = SdkTracerProvider::builder().with_span_processor(ended.clone()).build();
    crate::install_tracer_provider(&provider);
    recycled_attributes::in_use();
    let mut mine = Vec::with_capacity(SMALL);
    mine.push(KeyValue::new("k", 1_i64));
    let buffer = mine.as_ptr() as usize;
    recycled_attributes::keep(mine);
    drop(start_span(&SITE, push(0)));
    let (used, span) = ended.take().pop().expect("ended");
    assert_ne!(used, buffer);
    assert_eq!(span.attributes.len(), 3);
    // The next span with an attribute takes it.
    drop(start_span(&SITE, push(1)));
    assert_eq!(ended.take().pop().expect("ended").0, buffer);

    // A span the sampler drops leaves its Vec to the next one.
    let kept = Vec::with_capacity(SMALL);
    let buffer = kept.as_ptr() as usize;
    recycled_attributes::keep(kept);
    let (_provider, ended) = install(SharedSampler::parent_based(Sampler::AlwaysOff), 128);
    let unsampled = start_span(&SITE, push(2));
    assert!(!unsampled.context().expect("current").span().span_context().is_sampled());
    drop(unsampled);
    assert!(ended.take().is_empty());
    let (_provider, ended) = install(SharedSampler::parent_based(Sampler::AlwaysOn), 128);
    drop(start_span(&SITE, push(1)));
    let (used, span) = ended.take().pop().expect("ended");
    assert_eq!(used, buffer, "the dropped span's Vec");
    assert_eq!(span.attributes.len(), 4);
}
