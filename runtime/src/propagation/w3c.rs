//! The SDK's W3C propagators with the limits the specifications set, and without empty headers.
//!
//! [`TraceContext`] wraps `TraceContextPropagator`: a `traceparent` that is not exactly well formed
//! starts a fresh trace; `tracestate` (its header fields combined) keeps at most 32 list-members and
//! 512 characters, dropping members longer than 128 characters first, then from the end (W3C Trace
//! Context, "tracestate limits"); an empty `tracestate` is never sent (the SDK sends one when there
//! is none).
//!
//! [`Baggage`] wraps `BaggagePropagator`: a `baggage` header (fields combined) over 8,192 bytes is
//! dropped whole, as the SDK does; a valid one (W3C grammar, at most 180 list-members, percent-encoded
//! UTF-8 values) is sent on unchanged, byte for byte, as long as the application did not change the
//! baggage: the SDK keeps at most 64 entries in an unordered map, re-encodes them, and cuts values at
//! an `=`. Baggage the application set is encoded here (keys, values and properties percent-encoded:
//! the SDK writes properties decoded) and cut to 8,192 bytes, dropping list-members from the end. An empty `baggage` is never sent.

use std::borrow::Cow;

use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use super::is_well_formed_traceparent;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";

/// Most `tracestate` list-members kept.
pub(crate) const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Longest `tracestate` kept, in characters.
pub(crate) const MAX_TRACESTATE_LEN: usize = 512;
/// Members longer than this are the first dropped from a `tracestate` over [`MAX_TRACESTATE_LEN`].
const LONG_TRACESTATE_MEMBER: usize = 128;
/// Longest `baggage` accepted or sent, in bytes.
pub(crate) const MAX_BAGGAGE_BYTES: usize = 8192;
/// Most `baggage` list-members sent on unchanged.
pub(crate) const MAX_BAGGAGE_MEMBERS: usize = 180;

/// W3C `traceparent`/`tracestate`; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct TraceContext {
    inner: TraceContextPropagator,
}

impl TraceContext {
    /// Every header the extraction reads (this one's and the SDK's `TraceContextPropagator`'s).
    pub(crate) const READS: &'static [&'static str] = &[TRACEPARENT, TRACESTATE];

    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl TextMapPropagator for TraceContext {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.inner.inject_context(cx, &mut TraceStateInjector(injector));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(traceparent) = extractor.get(TRACEPARENT).filter(|value| is_well_formed_traceparent(value)) else {
            return cx.clone();
        };
        let tracestate = combined(extractor, TRACESTATE).map(|state| limit_tracestate(&state).into_owned());
        let limited = Fields { traceparent, tracestate: tracestate.as_deref() };
        self.inner.extract_with_context(cx, &limited)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.inner.fields()
    }
}

/// The two fields the SDK propagator reads, after our checks.
struct Fields<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl Extractor for Fields<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(self.traceparent),
            TRACESTATE => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys = vec![TRACEPARENT];
        keys.extend(self.tracestate.map(|_| TRACESTATE));
        keys
    }
}

/// Passes the SDK's fields on, except an empty `tracestate`; a long one is cut to the limits.
struct TraceStateInjector<'a>(&'a mut dyn Injector);

impl Injector for TraceStateInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if key != TRACESTATE {
            self.0.set(key, value);
            return;
        }
        let limited = limit_tracestate(&value);
        if !limited.is_empty() {
            self.0.set(key, limited.into_owned());
        }
    }
}

/// Every value of `key`, joined with `,` as HTTP combines repeated list fields; `None` when absent.
fn combined<'a>(extractor: &'a dyn Extractor, key: &str) -> Option<Cow<'a, str>> {
    let values = extractor.get_all(key)?;
    match values.as_slice() {
        [] => None,
        [one] => Some(Cow::Borrowed(*one)),
        _ => Some(Cow::Owned(values.join(","))),
    }
}

fn trim_ows(text: &str) -> &str {
    text.trim_matches(|c| c == ' ' || c == '\t')
}

/// `tracestate` within the W3C limits: at most 32 non-empty list-members, at most 512 characters
/// (members over 128 characters dropped first, then members from the end). Borrowed when it fits.
pub(crate) fn limit_tracestate(state: &str) -> Cow<'_, str> {
    let fits = state.len() <= MAX_TRACESTATE_LEN
        && state.split(',').count() <= MAX_TRACESTATE_MEMBERS
        && state.split(',').all(|member| !trim_ows(member).is_empty());
    if fits {
        return Cow::Borrowed(state);
    }
    let mut members: Vec<&str> =
        state.split(',').map(trim_ows).filter(|member| !member.is_empty()).take(MAX_TRACESTATE_MEMBERS).collect();
    let length =
        |members: &[&str]| members.iter().map(|member| member.len()).sum::<usize>() + members.len().saturating_sub(1);
    while length(&members) > MAX_TRACESTATE_LEN {
        match members.iter().rposition(|member| member.len() > LONG_TRACESTATE_MEMBER) {
            Some(long) => members.remove(long),
            None => members.remove(members.len() - 1),
        };
    }
    Cow::Owned(members.join(","))
}

/// W3C `baggage`; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Baggage {
    inner: BaggagePropagator,
}

impl Baggage {
    /// Every header the extraction reads (this one's and the SDK's `BaggagePropagator`'s).
    pub(crate) const READS: &'static [&'static str] = &[BAGGAGE];

    pub(crate) fn new() -> Self {
        Self::default()
    }
}

/// The `baggage` header a context was extracted from, with the baggage the SDK read from it.
#[derive(Debug, Clone)]
struct Received {
    header: String,
    entries: Vec<(String, String, String)>,
}

/// `to` with the `baggage` header `from` was extracted from, when it has one: a context that copies
/// `from`'s baggage (a new root's) sends that header on as `from` would.
pub(crate) fn with_received_baggage(from: &Context, to: Context) -> Context {
    match from.get::<Received>() {
        Some(received) => to.with_value(received.clone()),
        None => to,
    }
}

/// The context's baggage, sorted (the SDK keeps it in a map whose order differs between maps).
fn entries(cx: &Context) -> Vec<(String, String, String)> {
    let mut entries: Vec<_> = cx
        .baggage()
        .iter()
        .map(|(key, (value, metadata))| (key.to_string(), value.to_string(), metadata.as_str().to_owned()))
        .collect();
    entries.sort_unstable();
    entries
}

impl TextMapPropagator for Baggage {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if let Some(received) = cx.get::<Received>() {
            if received.entries == entries(cx) {
                injector.set(BAGGAGE, received.header.clone());
                return;
            }
        }
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let members: Vec<String> = baggage
            .iter()
            .map(|(key, (value, metadata))| member(key.as_str(), value.as_str(), metadata.as_str()))
            .collect();
        set_within_limit(injector, members.join(","));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(header) = combined(extractor, BAGGAGE) else { return cx.clone() };
        if header.len() > MAX_BAGGAGE_BYTES {
            return cx.clone();
        }
        let extracted = self.inner.extract_with_context(cx, &OneField(&header));
        if !is_valid_baggage(&header) {
            return extracted;
        }
        let received = Received { header: header.into_owned(), entries: entries(&extracted) };
        extracted.with_value(received)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.inner.fields()
    }
}

/// The `baggage` field alone.
struct OneField<'a>(&'a str);

impl Extractor for OneField<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == BAGGAGE).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![BAGGAGE]
    }
}

/// Bytes encoded in a baggage key, value or property: every byte that is no `baggage-octet`, and
/// `=` and `%` (the SDK reads a value up to a second `=`; a literal `%` would decode as an escape).
const ENCODED: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'"').add(b',').add(b';').add(b'\\').add(b'=').add(b'%');

/// One list-member, `key=value;property...`, percent-encoded as the SDK does for the key and value, and
/// for the properties too: the SDK writes them as it decoded them, so a `,` received encoded in a
/// property would split the member and send a member the application never had.
fn member(key: &str, value: &str, metadata: &str) -> String {
    let encode = |text: &str| percent_encoding::utf8_percent_encode(text.trim(), ENCODED).to_string();
    let mut member = format!("{}={}", encode(key), encode(value));
    for property in metadata.split(';').map(str::trim).filter(|property| !property.is_empty()) {
        member.push(';');
        match property.split_once('=') {
            Some((key, value)) => member.push_str(&format!("{}={}", encode(key), encode(value))),
            None => member.push_str(&encode(property)),
        }
    }
    member
}

/// Sets `baggage` cut to 8,192 bytes (dropping list-members from the end: every `,` separates
/// members, the ones inside keys, values and properties being encoded), never empty.
fn set_within_limit(injector: &mut dyn Injector, mut value: String) {
    while value.len() > MAX_BAGGAGE_BYTES {
        let cut = value.rfind(',').unwrap_or(0);
        value.truncate(cut);
    }
    if !trim_ows(&value).is_empty() {
        injector.set(BAGGAGE, value);
    }
}

/// Whether `header` is a W3C `baggage-string` within the limits: at most 180 list-members
/// `key OWS "=" OWS value *(OWS ";" OWS property)`, keys tokens, values baggage-octets whose
/// percent-decoding is UTF-8.
pub(crate) fn is_valid_baggage(header: &str) -> bool {
    if header.len() > MAX_BAGGAGE_BYTES || header.split(',').count() > MAX_BAGGAGE_MEMBERS {
        return false;
    }
    header.split(',').all(|member| {
        let mut parts = member.split(';');
        let first = parts.next().unwrap_or_default();
        let Some((key, value)) = first.split_once('=') else { return false };
        is_token(trim_ows(key))
            && is_value(trim_ows(value))
            && parts.all(|property| match property.split_once('=') {
                Some((key, value)) => is_token(trim_ows(key)) && is_value(trim_ows(value)),
                None => is_token(trim_ows(property)),
            })
    })
}

fn is_baggage_octet(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_value(text: &str) -> bool {
    let octets = text.bytes().all(is_baggage_octet);
    octets && percent_encoding::percent_decode_str(text).decode_utf8().is_ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::trace::TraceContextExt as _;
    use opentelemetry::KeyValue;

    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn round_trip(propagator: &dyn TextMapPropagator, input: &HashMap<String, String>) -> HashMap<String, String> {
        let cx = propagator.extract(input);
        let mut output = HashMap::new();
        propagator.inject_context(&cx, &mut output);
        output
    }

    #[test]
    fn no_tracestate_in_means_no_tracestate_out() {
        let output = round_trip(&TraceContext::new(), &headers(&[("traceparent", PARENT)]));
        assert_eq!(output, headers(&[("traceparent", PARENT)]), "no empty tracestate");
        let output = round_trip(&TraceContext::new(), &headers(&[("traceparent", PARENT), ("tracestate", "a=1,b=2")]));
        assert_eq!(output.get("tracestate").map(String::as_str), Some("a=1,b=2"));
    }

    #[test]
    fn a_malformed_traceparent_starts_a_fresh_trace_and_drops_its_tracestate() {
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            let cx = TraceContext::new().extract(&headers(&[("traceparent", bad), ("tracestate", "a=1")]));
            assert!(!cx.span().span_context().is_valid(), "{bad}");
        }
    }

    #[test]
    fn tracestate_is_cut_to_32_members_and_512_characters() {
        let many: Vec<String> = (0..40).map(|i| format!("k{i}=v")).collect();
        let many = many.join(",");
        let limited = limit_tracestate(&many);
        assert_eq!(limited.split(',').count(), 32);
        assert!(limited.ends_with("k31=v"));

        let long = format!(
            "a=1,big={},b=2,{}",
            "x".repeat(300),
            (0..60).map(|i| format!("m{i}=vvvv")).collect::<Vec<_>>().join(",")
        );
        let limited = limit_tracestate(&long);
        assert!(limited.len() <= MAX_TRACESTATE_LEN, "{}", limited.len());
        assert!(limited.starts_with("a=1,b=2,m0=vvvv"), "the long member goes first: {limited}");
        assert!(matches!(limit_tracestate("a=1,b=2"), Cow::Borrowed("a=1,b=2")));
        assert_eq!(limit_tracestate(" a=1 ,, b=2"), "a=1,b=2");
    }

    #[test]
    fn repeated_tracestate_fields_are_combined() {
        #[derive(Debug)]
        struct Repeated;
        impl Extractor for Repeated {
            fn get(&self, key: &str) -> Option<&str> {
                self.get_all(key).and_then(|values| values.first().copied())
            }
            fn get_all(&self, key: &str) -> Option<Vec<&str>> {
                match key {
                    "traceparent" => Some(vec![PARENT]),
                    "tracestate" => Some(vec!["a=1", "b=2"]),
                    _ => None,
                }
            }
            fn keys(&self) -> Vec<&str> {
                vec!["traceparent", "tracestate"]
            }
        }
        let cx = TraceContext::new().extract(&Repeated);
        assert_eq!(cx.span().span_context().trace_state().header(), "a=1,b=2");
    }

    #[test]
    fn valid_baggage_is_sent_on_unchanged_and_changed_baggage_is_encoded() {
        let received = "z=1, a = b==;prop, m=%20x%F0%9F%90%B1";
        let output = round_trip(&Baggage::new(), &headers(&[("baggage", received)]));
        assert_eq!(output.get("baggage").map(String::as_str), Some(received));

        let cx = Baggage::new().extract(&headers(&[("baggage", received)]));
        let changed = cx.with_baggage(vec![KeyValue::new("only", "this")]);
        let mut output = HashMap::new();
        Baggage::new().inject_context(&changed, &mut output);
        assert_eq!(output.get("baggage").map(String::as_str), Some("only=this"));
    }

    #[test]
    fn baggage_limits_hold_both_ways() {
        let members: Vec<String> = (0..180).map(|i| format!("k{i}=v")).collect();
        let at_limit = members.join(",");
        assert!(is_valid_baggage(&at_limit));
        let output = round_trip(&Baggage::new(), &headers(&[("baggage", &at_limit)]));
        assert_eq!(output.get("baggage"), Some(&at_limit), "all 180 members go on, not the SDK's 64");
        assert!(!is_valid_baggage(&format!("{at_limit},k180=v")));

        let fat = format!("k={}", "v".repeat(MAX_BAGGAGE_BYTES));
        let cx = Baggage::new().extract(&headers(&[("baggage", &fat)]));
        assert_eq!(cx.baggage().len(), 0, "over 8,192 bytes is dropped whole");

        // Application baggage whose encoding grows past the limit loses members from the end.
        let commas = ",".repeat(2000);
        let cx = Context::new().with_baggage(vec![
            KeyValue::new("a", commas.clone()),
            KeyValue::new("b", commas.clone()),
            KeyValue::new("c", "1"),
        ]);
        let mut output = HashMap::new();
        Baggage::new().inject_context(&cx, &mut output);
        let sent = output.get("baggage").map_or(0, String::len);
        assert!(sent > 0 && sent <= MAX_BAGGAGE_BYTES, "{sent}");
        assert!(Baggage::new().extract(&output).baggage().len() < 3);
    }

    #[test]
    fn decoded_properties_are_encoded_again() {
        // The SDK decodes `%C3%A9` in a property and would send `é` raw, which is no header text.
        let received = "a=1;p=%C3%A9 x,broken";
        let output = round_trip(&Baggage::new(), &headers(&[("baggage", received)]));
        let sent = output.get("baggage").expect("baggage is sent");
        assert!(sent.is_ascii() && !sent.contains(' '), "{sent}");
        assert!(is_valid_baggage(sent), "{sent}");
    }

    #[test]
    fn a_comma_decoded_in_a_property_does_not_become_a_member_downstream() {
        // Valid: the property's value is `,smuggled=1;q` percent-encoded.
        let received = "a=1;p=%2Csmuggled%3D1%3Bq";
        let cx = Baggage::new().extract(&headers(&[("baggage", received)]));
        // The application adds an entry, so the baggage is encoded again.
        let changed = cx.with_baggage(
            cx.baggage()
                .iter()
                .map(|(key, (value, metadata))| {
                    opentelemetry::baggage::KeyValueMetadata::new(key.clone(), value.clone(), metadata.clone())
                })
                .chain([opentelemetry::baggage::KeyValueMetadata::new("b", "2", "")])
                .collect::<Vec<_>>(),
        );
        let mut sent = HashMap::new();
        Baggage::new().inject_context(&changed, &mut sent);
        let header = sent.get("baggage").expect("baggage is sent");
        assert!(is_valid_baggage(header), "{header}");
        let downstream = Baggage::new().extract(&sent);
        let mut keys: Vec<String> = downstream.baggage().iter().map(|(key, _)| key.to_string()).collect();
        keys.sort();
        assert_eq!(keys, ["a", "b"], "{header}");
    }

    #[test]
    fn empty_or_invalid_baggage_is_never_sent() {
        let output = round_trip(&Baggage::new(), &headers(&[("baggage", "")]));
        assert!(output.is_empty(), "{output:?}");
        for invalid in ["a", "a=1,,b=2", "a=\"q\"", "a=%FF", "=1", "a=1;=x"] {
            assert!(!is_valid_baggage(invalid), "{invalid}");
        }
        for valid in ["a=", "a=1;p", "a=1 ; p = 2", "k!#$=%41"] {
            assert!(is_valid_baggage(valid), "{valid}");
        }
    }
}
