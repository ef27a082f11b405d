//! The one place that keeps private data and unbounded values out of every output.
//!
//! Every recorder (server layer, client, `#[record_errors]`, panics, logs) and every printer (console,
//! warnings, start-up errors) goes through here:
//!
//! * [`cap`] cuts a copied value to a byte budget on a UTF-8 boundary; [`caps`] names the budget of
//!   each value `traced` copies from a request, a response or an error. Applied when the value is
//!   copied, so a fat header never reaches a span, let alone a queue.
//! * [`redact_url`] / [`redact_query`] drop userinfo and replace the values of sensitive query keys
//!   with `REDACTED`; [`redact_text`] does the same for every URL and `key=value` pair inside free
//!   text (error messages, `source()` chains, status descriptions).
//!
//! The sensitive keys are the defaults of [`keys`] plus the ones configured by
//! `TRACED_REDACTED_QUERY_KEYS` or `Telemetry::builder().redact_query_keys(..)`, installed
//! process-wide by `init()` and read without a lock.
//!
//! Files, one job each: `cap` (cutting), `caps` (the budgets), `keys` (which keys are sensitive),
//! `url` (URLs and query strings), `text` (free text).

mod cap;
pub(crate) mod caps;
pub(crate) mod keys;
mod text;
mod url;

pub(crate) use cap::{cap, cap_display, cap_display_cut, cap_string};
pub(crate) use text::redact_text;
pub(crate) use url::{redact_path, redact_query, redact_url};

use std::borrow::Cow;
use std::fmt;

/// What replaces the value of a sensitive query parameter (the word the semantic conventions use).
pub(crate) const REDACTED: &str = "REDACTED";

/// A redacted value cut to `max_bytes` as an owned string (redacting can lengthen a value:
/// `k=1` becomes `k=REDACTED`).
fn cap_cow(value: Cow<'_, str>, max_bytes: usize) -> String {
    match value {
        Cow::Borrowed(value) => cap(value, max_bytes).to_owned(),
        Cow::Owned(value) => cap_string(value, max_bytes),
    }
}

/// A query string as recorded: cut to `max_bytes`, then redacted. Cutting first bounds the work a
/// client can ask for; a cut inside a value still leaves the key, so the value's start is redacted.
pub(crate) fn query_value(query: &str, max_bytes: usize) -> String {
    cap_cow(redact_query(cut_target(query, max_bytes)), max_bytes)
}

/// A request path as recorded: cut to `max_bytes`, then URLs nested in it lose their userinfo (see
/// [`redact_path`]). Cut first, like the query, so the work is bounded whatever the client sends.
pub(crate) fn path_value(path: &str, max_bytes: usize) -> String {
    cap_cow(redact_path(cut_target(path, max_bytes)), max_bytes)
}

/// `value` (a path or a query) cut to `max_bytes`. A cut can land inside a nested URL's userinfo
/// (`next=http://user:pa`), where no `@` says it is one: then the partial authority goes too.
fn cut_target(value: &str, max_bytes: usize) -> &str {
    let capped = cap(value, max_bytes);
    if capped.len() == value.len() {
        return capped;
    }
    let lower = capped.to_ascii_lowercase();
    let plain = lower.rfind("//").map(|at| at + 2);
    let encoded = lower.rfind("%2f%2f").map(|at| at + 6);
    let Some(start) = plain.max(encoded) else { return capped };
    let rest = &lower[start..];
    let ended = rest.contains(['/', '?', '#', '&', ';']) || ["%2f", "%3f", "%23"].iter().any(|end| rest.contains(end));
    if ended {
        capped
    } else {
        &capped[..start]
    }
}

/// A URL the application built (e.g. an outbound request's) as recorded: redacted whole, then cut,
/// so a cut can never land inside userinfo.
pub(crate) fn url_value(url: &str, max_bytes: usize) -> String {
    cap_cow(redact_url(url), max_bytes)
}

/// Error text as recorded: `Display` formatted within `max_bytes`, then redacted (see [`redact_text`]).
/// A cut can land inside a URL's userinfo (`http://user:pa`), where nothing says it is one: a last
/// word that looks like part of a URL (plain or percent-encoded), or follows `Bearer` / `Basic`, is
/// dropped whole.
pub(crate) fn text_value(text: &(impl fmt::Display + ?Sized), max_bytes: usize) -> String {
    let (mut text, cut) = cap_display_cut(text, max_bytes);
    if cut {
        let last_word = text.rfind(char::is_whitespace).map_or(0, |at| at + 1);
        // Nor a piece of a scheme's token, which a short length would pass off as prose.
        let before = text[..last_word].trim_end();
        let word_len = before.len() - before.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len();
        let previous_word = &before[before.len() - word_len..];
        let after_scheme = text::SCHEMES.iter().any(|scheme| previous_word.eq_ignore_ascii_case(scheme));
        // A URL's start, plain or percent-encoded (`http%3A%2F%2Fuser%3Apw`, as a redirect target is).
        let word = &text[last_word..];
        let url = word.contains("//") || word.as_bytes().windows(6).any(|six| six.eq_ignore_ascii_case(b"%2f%2f"));
        if url || (after_scheme && last_word > 0) {
            text.truncate(last_word);
        }
    }
    match redact_text(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(redacted) => cap_string(redacted, max_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings made of the pieces redaction cares about, multi-byte characters included.
    fn generated(count: usize) -> impl Iterator<Item = String> {
        const PIECES: [&str; 24] = [
            "é", "€", "𝄞", ":", "/", "//", "://", "@", "=", "\"", "'", "[", "]", "%", "%7", "%74", "&", ";", "?", "#",
            " ", "token", "Bearer ", "http",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        (0..count).map(move |_| {
            let len = next() % 24;
            (0..len).map(|_| PIECES[next() % PIECES.len()]).collect()
        })
    }

    #[test]
    fn any_input_is_handled_within_budget() {
        for text in generated(20_000) {
            let _ = (redact_text(&text), redact_url(&text), redact_query(&text));
            for max in [0, 1, 3, 7, 16] {
                assert!(query_value(&text, max).len() <= max && text_value(&text, max).len() <= max);
                assert!(url_value(&text, max).len() <= max && path_value(&text, max).len() <= max);
            }
        }
    }

    #[test]
    fn a_planted_secret_never_survives_whatever_surrounds_it() {
        const SECRET: &str = "S3CR3T";
        const PLANTED: [&str; 15] = [
            "api-key=S3CR3T",
            "password = \"S3CR3T\"",
            "{\"cookie\": \"sid=S3CR3T\"}",
            "token=S3CR3T",
            "Sig=S3CR3T",
            "%70assword=S3CR3T",
            "user[password]=S3CR3T",
            "http://u:S3CR3T@h/",
            "https://h/p?a=1&access_token=S3CR3T#x",
            "//u:S3CR3T@h",
            "ftp://S3CR3T@h:21",
            "password: \"S3CR3T\"",
            "\"client_secret\":\"S3CR3T\"",
            "password='S3CR3T'",
            "Bearer S3CR3TS3CR3T",
        ];
        // What may stand between noise and a planted pair: each ends a key, a value or a URL.
        const SEPARATORS: [&str; 5] = [" ", " (", ", ", "\n", "\t"];
        let mut noise = generated(60_000);
        let mut pick: u64 = 7;
        for round in 0..20_000 {
            pick = pick.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let planted = PLANTED[round % PLANTED.len()];
            let separator = |shift: u32| SEPARATORS[(pick >> shift) as usize % SEPARATORS.len()];
            let before = noise.next().unwrap_or_default().replace(SECRET, "");
            let after = noise.next().unwrap_or_default().replace(SECRET, "");
            let text = format!("{before}{}{planted}{}{after}", separator(33), separator(40));
            let redacted = redact_text(&text);
            assert!(!redacted.contains(SECRET), "{text:?} -> {redacted:?}");
        }
    }

    #[test]
    fn a_cut_inside_the_userinfo_of_an_encoded_url_in_text_leaves_no_piece_of_it() {
        let text = "invalid redirect target: http%3A%2F%2Fuser%3APWSECRET%40h%2Fcb";
        for max in 0..=text.len() {
            let recorded = text_value(text, max);
            assert!(!recorded.contains("PW"), "{max}: {recorded:?}");
        }
        assert_eq!(text_value(text, 40), "invalid redirect target: ");
        assert_eq!(text_value(text, text.len()), "invalid redirect target: http%3A%2F%2Fh%2Fcb");
    }

    #[test]
    fn recorded_values_are_redacted_and_within_budget() {
        let query = format!("token=SECRET&q={}", "x".repeat(10_000));
        assert_eq!(query_value(&query, 20), "token=REDACTED&q=xxx");
        assert_eq!(query_value("q=1", 20), "q=1");
        assert_eq!(url_value("http://u:p@h/?sig=abc", 100), "http://h/?sig=REDACTED");
        // A cut inside a nested URL's userinfo, plain or encoded, in a query or a path.
        assert_eq!(query_value("a=1&next=http://user:PWSECRET@h/", 26), "a=1&next=http://");
        assert_eq!(query_value("next=http%3A%2F%2Fuser%3APWSECRET%40h", 30), "next=http%3A%2F%2F");
        assert_eq!(path_value("/go/http://user:PWSECRET@h/x", 20), "/go/http://");
        assert_eq!(path_value("/go/http://user:PW@h/x", 100), "/go/http://h/x");
        assert_eq!(path_value(&"/p".repeat(2000), 2048).len(), 2048);
        assert_eq!(url_value("http://h/?sig=abc", 12), "http://h/?si");
        assert_eq!(text_value("failed: http://u:PW@h/?token=T", 100), "failed: http://h/?token=REDACTED");
        assert_eq!(text_value(&"a".repeat(100), 10).len(), 10);
        // A cut inside userinfo, where no `@` says it is userinfo.
        assert_eq!(text_value("failed: http://user:PWSECRET@h/", 20), "failed: ");
        assert_eq!(text_value("failed: http://h/ for user", 24), "failed: http://h/ for us");
        // A cut inside a scheme's token leaves no piece of it (a short one would pass for prose).
        assert_eq!(text_value("header: Bearer S3CR3TT0KEN", 21), "header: Bearer ");
        assert_eq!(text_value("header: Basic dXNlcjpQVw==", 20), "header: Basic ");
    }
}
