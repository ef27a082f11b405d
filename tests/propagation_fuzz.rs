//! Property test of every propagator `OTEL_PROPAGATORS` can name (tracecontext, baggage, b3, b3multi,
//! and their composite): 100,000 seeded header sets, valid, near-valid (one to three mutations of a
//! valid set, or a set at or past a limit) and random bytes, each extracted and injected again through
//! `traced::propagation` as the layer and the client use it: every set through the composite of all
//! four, and a quarter of them through each propagator alone (its own canonical output checked). Checked for each: no panic; the parent is
//! exactly the one an independent reading of the specifications finds (none: a fresh trace); a valid
//! header in comes out unchanged; what goes out is within the W3C limits and never empty.
//!
//! Half the chunks install them with `set_propagators` (as `traced::init()` does: a set carrying none of
//! their fields skips them), half with `set_text_map_propagator` (always asked).
//!
//! Its own binary: it installs the global propagator. `TRACED_FUZZ_SEED` replays another seed.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;
use rand::rngs::SmallRng as StdRng;
use rand::{Rng, SeedableRng};
use traced::telemetry::PropagatorKind;

const SETS: usize = 100_000;
const CHUNK: usize = 1_000;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";
const B3: &str = "b3";
const B3_TRACE_ID: &str = "x-b3-traceid";
const B3_SPAN_ID: &str = "x-b3-spanid";
const B3_SAMPLED: &str = "x-b3-sampled";
const B3_FLAGS: &str = "x-b3-flags";
const FIELDS: [&str; 8] = [TRACEPARENT, TRACESTATE, BAGGAGE, B3, B3_TRACE_ID, B3_SPAN_ID, B3_SAMPLED, B3_FLAGS];

/// A header set and whether the generator made every header in it valid and canonical.
struct Case {
    headers: Vec<(&'static str, Vec<u8>)>,
    canonical: bool,
}

impl Case {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_slice())
    }

    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(HeaderName::from_static(name), value);
            }
        }
        map
    }
}

// ---- the generator ----

fn hex(rng: &mut StdRng, len: usize) -> String {
    (0..len).map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)])).collect()
}

fn nonzero_hex(rng: &mut StdRng, len: usize) -> String {
    loop {
        let id = hex(rng, len);
        if id.bytes().any(|b| b != b'0') {
            return id;
        }
    }
}

fn pick<'a>(rng: &mut StdRng, choices: &[&'a str]) -> &'a str {
    choices[rng.random_range(0..choices.len())]
}

fn word(rng: &mut StdRng, alphabet: &[u8], min: usize, max: usize) -> String {
    let len = rng.random_range(min..=max);
    (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const KEY_REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-*/";
const STATE_VALUE: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&'()*+-./:<>?@[]^_`{|}~";
const TOKEN: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&'*+-.^_`|~";
const BAGGAGE_VALUE: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&'()*+-./:<=>?@[]^_`{|}~";

/// A tracestate of distinct keys within 32 members and 512 characters.
fn tracestate(rng: &mut StdRng) -> String {
    let wanted = if rng.random_bool(0.02) { 32 } else { rng.random_range(1..=4) };
    let mut members: Vec<String> = Vec::new();
    for index in 0..wanted {
        let key = format!("{}{}{index}", word(rng, LOWER, 1, 1), word(rng, KEY_REST, 0, 6));
        let key = if rng.random_bool(0.1) { format!("{key}@{}", word(rng, LOWER, 1, 5)) } else { key };
        let member = format!("{key}={}", word(rng, STATE_VALUE, 1, 12));
        if members.iter().map(|m| m.len() + 1).sum::<usize>() + member.len() > 512 {
            break;
        }
        members.push(member);
    }
    members.join(",")
}

/// A valid baggage header within 180 members and 8,192 bytes, with OWS, properties and
/// percent-encoded UTF-8.
fn baggage(rng: &mut StdRng) -> String {
    let wanted = if rng.random_bool(0.005) { 180 } else { rng.random_range(1..=6) };
    let mut members: Vec<String> = Vec::new();
    for _ in 0..wanted {
        let mut value = word(rng, BAGGAGE_VALUE, 0, 16);
        if rng.random_bool(0.2) {
            value.push_str(pick(rng, &["%20", "%2C", "%F0%9F%90%B1", "%C3%A9"]));
        }
        let ows = if rng.random_bool(0.1) { " " } else { "" };
        let mut member = format!("{}{ows}={ows}{value}", word(rng, TOKEN, 1, 10));
        if rng.random_bool(0.1) {
            member.push_str(&format!(";{}", word(rng, TOKEN, 1, 6)));
        }
        if rng.random_bool(0.1) {
            member.push_str(&format!(";{}={}", word(rng, TOKEN, 1, 6), word(rng, BAGGAGE_VALUE, 0, 6)));
        }
        if members.iter().map(|m| m.len() + 1).sum::<usize>() + member.len() > 8192 {
            break;
        }
        members.push(member);
    }
    members.join(",")
}

/// Canonical, valid headers: one trace identity for every trace header, so they agree.
fn valid(rng: &mut StdRng) -> Case {
    let (trace, span, sampled) = (nonzero_hex(rng, 32), nonzero_hex(rng, 16), rng.random_bool(0.5));
    let flag = if sampled { "1" } else { "0" };
    let mut headers: Vec<(&'static str, Vec<u8>)> = Vec::new();
    if rng.random_bool(0.7) {
        headers.push((TRACEPARENT, format!("00-{trace}-{span}-0{flag}").into_bytes()));
        if rng.random_bool(0.5) {
            headers.push((TRACESTATE, tracestate(rng).into_bytes()));
        }
    }
    if rng.random_bool(0.6) {
        headers.push((BAGGAGE, baggage(rng).into_bytes()));
    }
    if rng.random_bool(0.3) {
        headers.push((B3, format!("{trace}-{span}-{flag}").into_bytes()));
    }
    if rng.random_bool(0.3) {
        headers.push((B3_TRACE_ID, trace.clone().into_bytes()));
        headers.push((B3_SPAN_ID, span.clone().into_bytes()));
        headers.push((B3_SAMPLED, flag.as_bytes().to_vec()));
    }
    Case { headers, canonical: true }
}

/// A valid set with one to three mutations, or with a header at or past a limit.
fn near_valid(rng: &mut StdRng) -> Case {
    let mut case = valid(rng);
    case.canonical = false;
    if case.headers.is_empty() || rng.random_bool(0.25) {
        let (trace, span) = (nonzero_hex(rng, 32), nonzero_hex(rng, 16));
        let special: (&'static str, String) = match rng.random_range(0..16) {
            0 => (TRACEPARENT, format!("ff-{trace}-{span}-01")),
            1 => (TRACEPARENT, format!("00-{}-{span}-01", "0".repeat(32))),
            2 => (TRACEPARENT, format!("00-{trace}-{}-01", "0".repeat(16))),
            3 => (TRACEPARENT, format!("00-{trace}-{span}-01-extra")),
            4 => (TRACEPARENT, format!("01-{trace}-{span}-03-future")),
            5 => (TRACEPARENT, format!(" 00-{trace}-{span}-{}\t", hex(rng, 2))),
            6 => (TRACESTATE, (0..40).map(|i| format!("k{i}=v{i}")).collect::<Vec<_>>().join(",")),
            7 => (TRACESTATE, format!("a=1,big={},b=2", "x".repeat(250))),
            8 => (BAGGAGE, (0..181).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join(",")),
            9 => (BAGGAGE, format!("k={}", "v".repeat(9000))),
            10 => (BAGGAGE, "k=%FF,a=1".to_owned()),
            11 => (B3, format!("{}-{span}-d", &trace[16..])),
            12 => (B3, format!("{trace}-{span}-1-{}", hex(rng, 16))),
            13 => (B3, format!("{trace}-{span}-true")),
            14 => (B3_SAMPLED, pick(rng, &["true", "false", "2", ""]).to_owned()),
            _ => (pick(rng, &FIELDS), String::new()),
        };
        case.headers.retain(|(name, _)| *name != special.0);
        case.headers.push((special.0, special.1.into_bytes()));
        if rng.random_bool(0.3) && !case.headers.iter().any(|(name, _)| *name == TRACEPARENT) {
            case.headers.push((TRACEPARENT, format!("00-{trace}-{span}-01").into_bytes()));
        }
        return case;
    }
    for _ in 0..rng.random_range(1..=3) {
        let index = rng.random_range(0..case.headers.len());
        let value = &mut case.headers[index].1;
        let at = rng.random_range(0..=value.len());
        let byte = *pick(rng, &["A", "F", "g", "-", " ", "+", "0", ",", "=", ";", "%", "\t", "z", "."])
            .as_bytes()
            .first()
            .unwrap_or(&b'x');
        match rng.random_range(0..5) {
            0 if at < value.len() => value[at] = byte,
            1 if at < value.len() => {
                value.remove(at);
            }
            2 => value.insert(at, byte),
            3 => value.truncate(at),
            _ => {
                let copy = value.clone();
                value.push(b',');
                value.extend_from_slice(&copy);
            }
        }
    }
    case
}

/// Random bytes (any a header value may carry) under random propagation field names.
fn random(rng: &mut StdRng) -> Case {
    let mut headers = Vec::new();
    for _ in 0..rng.random_range(1..=4) {
        let len = rng.random_range(0..120);
        let value: Vec<u8> = (0..len)
            .map(|_| match rng.random_range(0u16..226) {
                225 => b'\t',
                n => u8::try_from(n + 0x20).unwrap_or(b'x'),
            })
            .filter(|b| *b != 0x7f)
            .collect();
        headers.push((pick(rng, &FIELDS), value));
    }
    Case { headers, canonical: false }
}

// ---- an independent reading of the specifications ----

/// The text of a header value as `HeaderValue::to_str` gives it (visible ASCII, space, tab).
fn text(value: &[u8]) -> Option<&str> {
    value.iter().all(|b| *b == b'\t' || (0x20..0x7f).contains(b)).then(|| std::str::from_utf8(value).ok()).flatten()
}

fn lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn nonzero(text: &str) -> bool {
    text.bytes().any(|b| b != b'0')
}

/// (trace id, span id, sampled) of a parent.
type Parent = (String, String, bool);

/// W3C Trace Context: `version-traceid-parentid-flags`, lowercase hex, version not `ff`, nothing more
/// after version `00`, `-...` allowed after a later version, non-zero ids, OWS around.
fn traceparent(value: &[u8]) -> Option<Parent> {
    let value = text(value)?.trim_matches([' ', '\t']);
    let (head, rest) = (value.get(..55)?, value.get(55..)?);
    let parts: Vec<&str> = head.split('-').collect();
    let [version, trace, span, flags] = parts.as_slice() else { return None };
    let shape = lower_hex(version, 2) && lower_hex(trace, 32) && lower_hex(span, 16) && lower_hex(flags, 2);
    let tail = if *version == "00" { rest.is_empty() } else { rest.is_empty() || rest.starts_with('-') };
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    (shape && *version != "ff" && tail && nonzero(trace) && nonzero(span))
        .then(|| ((*trace).to_owned(), (*span).to_owned(), sampled))
}

/// B3 trace ids: 16 or 32 lowercase hex, left-padded to 32, non-zero.
fn b3_trace(id: &str) -> Option<String> {
    ((lower_hex(id, 16) || lower_hex(id, 32)) && nonzero(id)).then(|| format!("{id:0>32}"))
}

fn b3_span(id: &str) -> Option<String> {
    (lower_hex(id, 16) && nonzero(id)).then(|| id.to_owned())
}

/// B3 single header: `traceid-spanid[-sampling[-parentspanid]]`, sampling `0`, `1` or `d`.
fn b3_single(value: &[u8]) -> Option<Parent> {
    let parts: Vec<&str> = text(value)?.trim().split('-').collect();
    let (trace, span) = (b3_trace(parts.first()?)?, b3_span(parts.get(1)?)?);
    let sampled = match parts.get(2) {
        None => false,
        Some(&"1" | &"d") => true,
        Some(&"0") => false,
        Some(_) => return None,
    };
    let parent_ok = parts.get(3).is_none_or(|parent| lower_hex(parent, 16));
    (parent_ok && parts.len() <= 4).then_some((trace, span, sampled))
}

/// B3 multiple headers; `X-B3-Flags: 1` (debug) samples.
fn b3_multi(case: &Case) -> Option<Parent> {
    let trace = b3_trace(text(case.get(B3_TRACE_ID)?)?.trim())?;
    let span = b3_span(text(case.get(B3_SPAN_ID)?)?.trim())?;
    let sampled = match case.get(B3_SAMPLED).map(|value| text(value).map(str::trim)) {
        None => false,
        Some(Some("1" | "true")) => true,
        Some(Some("0" | "false")) => false,
        Some(_) => return None,
    };
    let debug = case.get(B3_FLAGS).and_then(text).is_some_and(|flags| flags.trim() == "1");
    Some((trace, span, sampled || debug))
}

/// The parent `kinds` should find: each propagator that finds one overrides the ones before it.
fn expected_parent(case: &Case, kinds: &[PropagatorKind]) -> Option<Parent> {
    kinds.iter().fold(None, |parent, kind| {
        let found = match kind {
            PropagatorKind::TraceContext => case.get(TRACEPARENT).and_then(traceparent),
            PropagatorKind::Baggage => None,
            PropagatorKind::B3 | PropagatorKind::B3Multi => case.get(B3).and_then(b3_single).or_else(|| b3_multi(case)),
        };
        found.or(parent)
    })
}

// ---- the property ----

/// Checks one set through one configuration; says whether a parent was found and whether valid
/// headers were compared unchanged.
fn check(case: &Case, kinds: &[PropagatorKind], seed: u64, index: usize) -> (bool, bool) {
    let input = case.header_map();
    let cx = traced::propagation::extract_with_context(&Context::new(), &input);
    let mut output = HeaderMap::new();
    traced::propagation::inject_context(&cx, &mut output);
    let replay = || {
        let input: Vec<_> = case.headers.iter().map(|(name, value)| (name, String::from_utf8_lossy(value))).collect();
        format!("seed {seed} (TRACED_FUZZ_SEED), set {index}, {kinds:?}, input {input:?}, output {output:?}")
    };

    let span = cx.span();
    let found = span.span_context();
    let expected = expected_parent(case, kinds);
    match &expected {
        None => assert!(!found.is_valid(), "a parent from invalid headers: {}", replay()),
        Some((trace, span, sampled)) => {
            assert!(found.is_valid() && found.is_remote(), "no parent from valid headers: {}", replay());
            assert_eq!(&found.trace_id().to_string(), trace, "{}", replay());
            assert_eq!(&found.span_id().to_string(), span, "{}", replay());
            assert_eq!(found.is_sampled(), *sampled, "{}", replay());
        }
    }

    for (name, value) in &output {
        let value = value.to_str().unwrap_or_else(|_| panic!("{name} is not text: {}", replay()));
        assert!(!value.trim().is_empty(), "an empty {name} was sent: {}", replay());
    }
    if let Some(state) = output.get(TRACESTATE).and_then(|value| value.to_str().ok()) {
        assert!(state.len() <= 512 && state.split(',').count() <= 32, "tracestate over the limits: {}", replay());
    }
    if let Some(baggage) = output.get(BAGGAGE).and_then(|value| value.to_str().ok()) {
        assert!(baggage.len() <= 8192 && baggage.split(',').count() <= 180, "baggage over the limits: {}", replay());
    }

    let mut compared = false;
    if case.canonical {
        let parent_from_b3 = kinds.iter().any(|kind| matches!(kind, PropagatorKind::B3 | PropagatorKind::B3Multi))
            && (case.get(B3).is_some() || case.get(B3_TRACE_ID).is_some());
        for name in FIELDS {
            let handled = match name {
                TRACEPARENT => kinds.contains(&PropagatorKind::TraceContext),
                TRACESTATE => kinds.contains(&PropagatorKind::TraceContext) && !parent_from_b3,
                BAGGAGE => kinds.contains(&PropagatorKind::Baggage),
                B3 => kinds.contains(&PropagatorKind::B3),
                _ => kinds.contains(&PropagatorKind::B3Multi),
            };
            if let (true, Some(sent)) = (handled, case.get(name)) {
                let out = output.get(name).map(HeaderValue::as_bytes);
                assert_eq!(out, Some(sent), "a valid {name} changed: {}", replay());
                compared = true;
            }
        }
    }
    (expected.is_some(), compared)
}

#[test]
fn every_propagator_survives_hostile_headers_and_keeps_valid_ones_unchanged() {
    let seed = std::env::var("TRACED_FUZZ_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or(0x007A_CED0_u64);
    const SINGLE: usize = 4;
    let configurations: [&[PropagatorKind]; SINGLE + 1] = [
        &[PropagatorKind::TraceContext],
        &[PropagatorKind::Baggage],
        &[PropagatorKind::B3],
        &[PropagatorKind::B3Multi],
        &[PropagatorKind::TraceContext, PropagatorKind::Baggage, PropagatorKind::B3, PropagatorKind::B3Multi],
    ];
    let mut counts = [0_usize; 3];
    // Checks with a parent found, with a fresh trace, with valid headers compared unchanged.
    let mut outcomes = [0_usize; 3];
    let mut rng = StdRng::seed_from_u64(seed);
    let started = std::time::Instant::now();
    // In chunks, each through every configuration: generated once, switching propagators rarely.
    for chunk in 0..SETS / CHUNK {
        let cases: Vec<Case> = (0..CHUNK)
            .map(|_| {
                let category = rng.random_range(0..10);
                counts[usize::from(category >= 4) + usize::from(category >= 8)] += 1;
                match category {
                    0..=3 => valid(&mut rng),
                    4..=7 => near_valid(&mut rng),
                    _ => random(&mut rng),
                }
            })
            .collect();
        for (configuration, kinds) in configurations.iter().enumerate() {
            // Alternate chunks install them as `traced::init()` does (headers carrying none of their
            // fields skip them) and as any other propagator (always asked): both must agree.
            if chunk % 2 == 0 {
                traced::propagation::set_propagators(kinds);
            } else {
                traced::propagation::set_text_map_propagator(traced::propagation::propagator(kinds));
            }
            // Every set through the composite (every propagator at once), a quarter through each alone.
            let alone = configuration < SINGLE;
            for (offset, case) in
                cases.iter().enumerate().filter(|(offset, _)| !alone || offset % SINGLE == configuration)
            {
                let (parent, compared) = check(case, kinds, seed, chunk * CHUNK + offset);
                outcomes[usize::from(!parent)] += 1;
                outcomes[2] += usize::from(compared);
            }
        }
    }
    eprintln!("{SETS} header sets through every propagator in {:?}", started.elapsed());
    assert_eq!(counts.iter().sum::<usize>(), SETS);
    assert!(counts.iter().all(|count| *count > SETS / 10), "every category was exercised: {counts:?}");
    assert!(
        outcomes.iter().all(|count| *count > SETS / 10),
        "parents found, fresh traces, unchanged headers: {outcomes:?}"
    );
}
