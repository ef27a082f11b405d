//! URLs and query strings without their secrets: userinfo removed, values of sensitive keys
//! replaced by `REDACTED`. Borrowed (no allocation) when there is nothing to hide.

use std::borrow::Cow;

use super::keys::{self, SensitiveKeys};
use super::text::redact_urls;
use super::REDACTED;

/// `url` without userinfo and with the values of sensitive query (and fragment) keys redacted.
///
/// Works on absolute URLs (`https://user:pw@host/p?q#f`), scheme-relative ones (`//host/p`) and
/// paths with a query (`/p?token=x`).
pub(crate) fn redact_url(url: &str) -> Cow<'_, str> {
    keys::with_current(|keys| {
        let redacted = redact_url_with(url, keys, Nested::Redact);
        without_encoded_userinfo(redacted)
    })
}

/// `text` after [`redact_encoded_userinfo`], kept borrowed when that changes nothing.
pub(super) fn without_encoded_userinfo(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains('%') {
        return text;
    }
    match redact_encoded_userinfo(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(redacted) => Cow::Owned(redacted),
    }
}

/// `query` (without the `?`) with the values of sensitive keys redacted, and URLs nested in its
/// values (`next=http://user:pw@h/`, also percent-encoded) without their userinfo.
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    keys::with_current(|keys| {
        let pairs = redact_pairs(query, keys);
        match redact_nested_userinfo(&pairs, keys) {
            Cow::Borrowed(_) => pairs,
            Cow::Owned(redacted) => Cow::Owned(redacted),
        }
    })
}

/// A request path with the userinfo of URLs nested in it removed (`/go/http://user:pw@h/`, also
/// percent-encoded), as proxies and redirectors take them. Nothing else in a path is touched.
pub(crate) fn redact_path(path: &str) -> Cow<'_, str> {
    keys::with_current(|keys| redact_nested_userinfo(path, keys))
}

/// URLs inside `text` (a query, a path) without userinfo: plain ones through the text redaction,
/// percent-encoded ones (`http%3A%2F%2Fuser%3Apw%40h`) here.
fn redact_nested_userinfo<'a>(text: &'a str, keys: &SensitiveKeys) -> Cow<'a, str> {
    // Per-request path (`url.path`, `url.query`): two byte scans when there is nothing to hide.
    let plain = if text.contains("//") { redact_urls(text, keys) } else { Cow::Borrowed(text) };
    without_encoded_userinfo(plain)
}

/// Percent-encoded URLs (`%3A%2F%2F`, any case) lose their userinfo: everything of the authority up
/// to its last `@` / `%40`. The authority ends at a `/`, `?`, `#` (plain or encoded), `&` or `;`.
fn redact_encoded_userinfo(text: &str) -> Cow<'_, str> {
    const SEPARATOR: &[u8] = b"%3a%2f%2f";
    const ENDS: [&[u8]; 3] = [b"%2f", b"%3f", b"%23"];
    let bytes = text.as_bytes();
    let at_ci = |at: usize, what: &[u8]| bytes.get(at..at + what.len()).is_some_and(|b| b.eq_ignore_ascii_case(what));
    let mut redacted: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if !at_ci(at, SEPARATOR) {
            at += 1;
            continue;
        }
        let start = at + SEPARATOR.len();
        let mut end = start;
        while end < bytes.len()
            && !matches!(bytes[end], b'/' | b'?' | b'#' | b'&' | b';')
            && !ENDS.iter().any(|e| at_ci(end, e))
        {
            end += 1;
        }
        let authority = &bytes[start..end];
        let userinfo_end = (0..authority.len()).rev().find_map(|i| match authority[i] {
            b'@' => Some(i + 1),
            b'%' if at_ci(start + i, b"%40") => Some(i + 3),
            _ => None,
        });
        if let Some(userinfo_end) = userinfo_end {
            let out = redacted.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..start]);
            copied = start + userinfo_end;
        }
        at = end.max(at + 1);
    }
    match redacted {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

/// Whether URLs nested in a URL's path, query or fragment are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nested {
    Redact,
    /// The caller (`redact_urls`) already cut the text where a nested URL starts.
    AlreadySplit,
}

/// [`redact_url`] with an explicit key list.
pub(super) fn redact_url_with<'a>(url: &'a str, keys: &SensitiveKeys, nested: Nested) -> Cow<'a, str> {
    let (authority_start, authority_end) = authority(url);
    let authority = &url[authority_start..authority_end];
    let shown_authority = authority.rfind('@').map(|at| &authority[at + 1..]);
    let rest = redact_rest(&url[authority_end..], keys, nested);
    if shown_authority.is_none() && matches!(rest, Cow::Borrowed(_)) {
        return Cow::Borrowed(url);
    }
    let mut redacted = String::with_capacity(url.len());
    redacted.push_str(&url[..authority_start]);
    redacted.push_str(shown_authority.unwrap_or(authority));
    redacted.push_str(&rest);
    Cow::Owned(redacted)
}

/// Path, query and fragment: sensitive pairs redacted, and a URL nested in them
/// (`?next=http://user:pw@h/`) loses its userinfo too.
fn redact_rest<'a>(rest: &'a str, keys: &SensitiveKeys, nested: Nested) -> Cow<'a, str> {
    let (path, query, fragment) = split_rest(rest);
    let query_redacted = query.map(|query| redact_pairs(query, keys));
    let fragment_redacted = fragment.map(|fragment| redact_pairs(fragment, keys));
    let pairs_changed =
        matches!(query_redacted, Some(Cow::Owned(_))) || matches!(fragment_redacted, Some(Cow::Owned(_)));
    let pairs = if pairs_changed {
        let mut redacted = String::with_capacity(rest.len());
        redacted.push_str(path);
        if let Some(query) = query_redacted {
            redacted.push('?');
            redacted.push_str(&query);
        }
        if let Some(fragment) = fragment_redacted {
            redacted.push('#');
            redacted.push_str(&fragment);
        }
        Cow::Owned(redacted)
    } else {
        Cow::Borrowed(rest)
    };
    if nested == Nested::AlreadySplit || !pairs.contains("://") {
        return pairs;
    }
    // `redact_urls` cuts each URL where a nested one starts and asks for no more nesting: one level.
    match redact_urls(&pairs, keys) {
        Cow::Borrowed(_) => pairs,
        Cow::Owned(redacted) => Cow::Owned(redacted),
    }
}

/// The byte range of the authority (`user:pw@host:port`); empty when the URL has none.
///
/// Two mistakes people make with endpoints are read as userinfo too, so that an error quoting the
/// value hides the password: a forgotten scheme (`user:pw@host:4317`), and a password with an
/// unencoded `/` (`http://user:pa/ss@host`, base64 passwords have them), whose authority would end
/// at that `/`: when what follows the authority's last `:` is not a port and an `@` comes before
/// the query, the userinfo runs to that `@`.
fn authority(url: &str) -> (usize, usize) {
    let delimiter = |from: usize| url[from..].find(['/', '?', '#']).map_or(url.len(), |at| from + at);
    let start = match url.find("://") {
        Some(at) if at == 0 || is_scheme(&url[..at]) => at + 3,
        _ if url.starts_with("//") => 2,
        _ if !url.starts_with('/') && url[..delimiter(0)].contains('@') => 0,
        _ => return (0, 0),
    };
    let end = delimiter(start);
    let authority = &url[start..end];
    let not_a_port = !authority.starts_with('[')
        && !authority.contains('@')
        && authority.rsplit_once(':').is_some_and(|(_, port)| !port.bytes().all(|b| b.is_ascii_digit()));
    if not_a_port {
        let before_query = url[end..].find(['?', '#']).map_or(url.len(), |at| end + at);
        if let Some(at) = url[end..before_query].rfind('@') {
            return (start, delimiter(end + at + 1));
        }
    }
    (start, end)
}

fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `path`, then the query and the fragment without their `?` / `#`.
fn split_rest(rest: &str) -> (&str, Option<&str>, Option<&str>) {
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (rest, None),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query), fragment),
        None => (before_fragment, None, fragment),
    }
}

/// `k=v` pairs separated by `&`, `;` or `?` (a URL nested in a value) with the values of sensitive keys replaced; the separators and
/// every other byte kept. Empty values and values already `REDACTED` are left alone, so redacting
/// twice changes nothing and allocates nothing.
pub(super) fn redact_pairs<'a>(pairs: &'a str, keys: &SensitiveKeys) -> Cow<'a, str> {
    let mut redacted: Option<String> = None;
    let mut copied = 0;
    let mut start = 0;
    let ends = pairs.match_indices(['&', ';', '?']).map(|(at, _)| at).chain(std::iter::once(pairs.len()));
    for end in ends {
        let pair = &pairs[start..end];
        if let Some((key, value)) = pair.split_once('=') {
            let value_start = start + key.len() + 1;
            let replacement = if value.is_empty() || value == REDACTED {
                None
            } else if keys.matches(key) {
                Some(Cow::Borrowed(REDACTED))
            } else {
                // A percent-encoded query nested in the value (`?url=https%3A%2F%2Fs3%2Fk%3FX-Amz-Signature%3D..`).
                Some(redact_encoded_pairs(value, keys)).filter(|nested| matches!(nested, Cow::Owned(_)))
            };
            if let Some(replacement) = replacement {
                let out = redacted.get_or_insert_with(|| String::with_capacity(pairs.len()));
                out.push_str(&pairs[copied..value_start]);
                out.push_str(&replacement);
                copied = end;
            }
        }
        start = end + 1;
    }
    match redacted {
        None => Cow::Borrowed(pairs),
        Some(mut out) => {
            out.push_str(&pairs[copied..]);
            Cow::Owned(out)
        }
    }
}

/// `value` read as a percent-encoded query (`%26`, `%3B`, `%3F`, `%23` between pairs, `%3D` in them,
/// any case): the encoded values of sensitive keys become `REDACTED`. Borrowed when there is none.
fn redact_encoded_pairs<'a>(value: &'a str, keys: &SensitiveKeys) -> Cow<'a, str> {
    const SEPARATORS: [&[u8]; 4] = [b"%26", b"%3b", b"%3f", b"%23"];
    const EQUALS: &[u8] = b"%3d";
    let bytes = value.as_bytes();
    if !bytes.windows(EQUALS.len()).any(|window| window.eq_ignore_ascii_case(EQUALS)) {
        return Cow::Borrowed(value);
    }
    let at_ci = |at: usize, what: &[u8]| bytes.get(at..at + what.len()).is_some_and(|b| b.eq_ignore_ascii_case(what));
    // Segment boundaries: (end of a segment, start of the next).
    let mut bounds: Vec<(usize, usize)> = (0..bytes.len())
        .filter(|&at| SEPARATORS.iter().any(|separator| at_ci(at, separator)))
        .map(|at| (at, at + 3))
        .collect();
    bounds.push((bytes.len(), bytes.len()));
    let mut redacted: Option<String> = None;
    let mut copied = 0;
    let mut start = 0;
    for (end, next) in bounds {
        let equals = (start..end.saturating_sub(2)).find(|&at| at_ci(at, EQUALS));
        if let Some(equals) = equals {
            let value_start = equals + EQUALS.len();
            let nested_value = &value[value_start..end];
            if !nested_value.is_empty() && nested_value != REDACTED && keys.matches(&value[start..equals]) {
                let out = redacted.get_or_insert_with(|| String::with_capacity(value.len()));
                out.push_str(&value[copied..value_start]);
                out.push_str(REDACTED);
                copied = end;
            }
        }
        start = next;
    }
    match redacted {
        None => Cow::Borrowed(value),
        Some(mut out) => {
            out.push_str(&value[copied..]);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_queries_nested_in_a_value_are_redacted_too() {
        assert_eq!(
            query("url=https%3A%2F%2Fs3%2Fb%2Fk%3FX-Amz-Signature%3DSIG%26X-Amz-Date%3D1&q=1"),
            "url=https%3A%2F%2Fs3%2Fb%2Fk%3FX-Amz-Signature%3DREDACTED%26X-Amz-Date%3D1&q=1"
        );
        assert_eq!(query("next=%2Fcb%3ftoken%3dT%3Bsig%3DS"), "next=%2Fcb%3ftoken%3dREDACTED%3Bsig%3DREDACTED");
        assert_eq!(query("next=%2Fcb%3Fpage%3D2"), "next=%2Fcb%3Fpage%3D2");
        assert!(matches!(query("a=%3D&b=%3D%3D"), Cow::Borrowed(_)));
        assert_eq!(query("x=token%3D"), "x=token%3D");
    }

    fn url(url: &str) -> Cow<'_, str> {
        redact_url_with(url, &SensitiveKeys::default(), Nested::Redact)
    }

    fn query(query: &str) -> Cow<'_, str> {
        redact_pairs(query, &SensitiveKeys::default())
    }

    #[test]
    fn nothing_to_hide_is_borrowed() {
        for clean in
            ["q=shoes&page=2", "", "token=", "token=REDACTED", "sig", "sigma=1", "a=b=c", "&&;;", "name=%E2%82%AC"]
        {
            assert!(matches!(query(clean), Cow::Borrowed(same) if same == clean), "{clean}");
        }
        for clean in ["http://127.0.0.1:8001/items/1?q=a", "https://[::1]:443/", "/items?q=1", "mailto:x", ""] {
            assert!(matches!(url(clean), Cow::Borrowed(same) if same == clean), "{clean}");
        }
    }

    #[test]
    fn sensitive_values_are_redacted_whatever_the_case_or_encoding() {
        assert_eq!(
            query("q=1&Signature=secret&sig=abc&X-Goog-Signature=x&AWSAccessKeyId=id&sigma=1"),
            "q=1&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&AWSAccessKeyId=REDACTED&sigma=1"
        );
        assert_eq!(query("password=PASSW0RD&Sig=X&token=TOKEN1"), "password=REDACTED&Sig=REDACTED&token=REDACTED");
        assert_eq!(
            query("%70assword=P&%54OKEN=T;api_key=K&x=1"),
            "%70assword=REDACTED&%54OKEN=REDACTED;api_key=REDACTED&x=1"
        );
        assert_eq!(query("code=a=b&page=1"), "code=REDACTED&page=1");
        assert_eq!(query("token=a&token=b"), "token=REDACTED&token=REDACTED");
        assert_eq!(query("next=/cb?token=t&q=1"), "next=/cb?token=REDACTED&q=1");
    }

    #[test]
    fn urls_nested_in_a_query_or_a_path_lose_their_userinfo() {
        let query = |query: &str| {
            keys::with_current(|keys| redact_nested_userinfo(&redact_pairs(query, keys), keys).into_owned())
        };
        assert_eq!(query("next=http://admin:PW@internal/x&lang=en"), "next=http://internal/x&lang=en");
        assert_eq!(query("r=//u:PW@h/p;x=1"), "r=//h/p;x=1");
        assert_eq!(query("b=https%3A%2F%2Fu%3APW%40h%2Fcb&x=1"), "b=https%3A%2F%2Fh%2Fcb&x=1");
        assert_eq!(query("b=HTTPS%3a%2f%2fPW%40h&token=T"), "b=HTTPS%3a%2f%2fh&token=REDACTED");
        assert_eq!(query("b=http%3A%2F%2Fh%2Fp%40x"), "b=http%3A%2F%2Fh%2Fp%40x");
        assert_eq!(query("q=%3A%2F%2F"), "q=%3A%2F%2F");
        assert!(matches!(redact_path("/items/1"), Cow::Borrowed(_)));
        assert_eq!(redact_path("/go/http://u:PW@h/x"), "/go/http://h/x");
        assert_eq!(redact_path("/go/http%3A%2F%2Fu%3APW%40h%2Fx"), "/go/http%3A%2F%2Fh%2Fx");
        assert_eq!(redact_path("/users/@me//x"), "/users/@me//x");
        // A client's `url.full`, and error text quoting it.
        assert_eq!(redact_url("https://h/cb?next=http%3A%2F%2Fu%3APW%40i%2Fx"), "https://h/cb?next=http%3A%2F%2Fi%2Fx");
        assert_eq!(
            super::super::redact_text("error sending request for url (https://h/?n=http%3A%2F%2Fu%3APW%40i)"),
            "error sending request for url (https://h/?n=http%3A%2F%2Fi)"
        );
    }

    #[test]
    fn userinfo_is_removed_and_query_and_fragment_redacted() {
        assert_eq!(
            url("http://user:PWSECRET@127.0.0.1:9/todos/1?token=T0PSECRET&sig=S1GSECRET"),
            "http://127.0.0.1:9/todos/1?token=REDACTED&sig=REDACTED"
        );
        assert_eq!(url("https://user@example.com"), "https://example.com");
        assert_eq!(url("https://a:b@c@example.com/x"), "https://example.com/x");
        assert_eq!(url("//u:p@host/p"), "//host/p");
        assert_eq!(url("/cb#access_token=AT&state=1"), "/cb#access_token=REDACTED&state=1");
        assert_eq!(url("/p?q=1#x?token=t"), "/p?q=1#x?token=REDACTED");
        assert_eq!(
            url("https://example.com/file?X-Goog-Signature=abc&q=1"),
            "https://example.com/file?X-Goog-Signature=REDACTED&q=1"
        );
        assert_eq!(
            url("https://proxy/go?next=http://user:PW@internal/x#to=https://a:B@c"),
            "https://proxy/go?next=http://internal/x#to=https://c"
        );
        // A path segment with `@` is not userinfo.
        assert_eq!(url("http://h/users/@me?q=1"), "http://h/users/@me?q=1");
        assert_eq!(url("http://h:8080/users/@me"), "http://h:8080/users/@me");
        assert_eq!(url("http://[::1]:80/a/@b"), "http://[::1]:80/a/@b");
        // Endpoints written wrong: no scheme, a `/` in the password.
        assert_eq!(url("user:PW@collector:4317"), "collector:4317");
        assert_eq!(url("user:PW@collector:4317/v1/traces"), "collector:4317/v1/traces");
        assert_eq!(url("http://user:P/W@collector:4318/v1?x#y"), "http://collector:4318/v1?x#y");
        assert_eq!(url("http://user:ab/c/d@h"), "http://h");
        assert_eq!(url("relative/path@x"), "relative/path@x");
    }
}
