//! Free text (error messages, `source()` chains, status descriptions) without secrets: every URL in
//! it redacted like [`super::redact_url`], every `key=value` pair with a sensitive key and every
//! `Bearer` token and `Basic` credentials too.

use std::borrow::Cow;

use super::keys::{self, SensitiveKeys};
use super::url::{redact_url_with, without_encoded_userinfo, Nested};
use super::REDACTED;

/// `text` with the URLs, sensitive `key=value` pairs, `Bearer` tokens and `Basic` credentials in it redacted; borrowed when
/// there is nothing to hide.
pub(crate) fn redact_text(text: &str) -> Cow<'_, str> {
    keys::with_current(|keys| redact_text_with(text, keys))
}

fn redact_text_with<'a>(text: &'a str, keys: &SensitiveKeys) -> Cow<'a, str> {
    let urls = redact_urls(text, keys);
    let pairs = match redact_key_values(&urls, keys) {
        Cow::Borrowed(_) => urls,
        Cow::Owned(redacted) => Cow::Owned(redacted),
    };
    let tokens = match redact_scheme_tokens(&pairs) {
        Cow::Borrowed(_) => pairs,
        Cow::Owned(redacted) => Cow::Owned(redacted),
    };
    // Percent-encoded URLs (a reqwest error quoting `?next=http%3A%2F%2Fuser%3Apw%40h`).
    without_encoded_userinfo(tokens)
}

/// Bytes that end a URL or a value in prose: whitespace, quotes and angle brackets.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>')
}

/// Every `scheme://...` and scheme-relative `//...` in `text` through [`redact_url_with`]. A URL ends at
/// whitespace, a quote, trailing punctuation, or where a URL nested in it starts
/// (`?next=http://user:pw@h/` is two URLs: userinfo of both goes, `next=...` is a pair the next pass
/// sees whole).
pub(super) fn redact_urls<'a>(text: &'a str, keys: &SensitiveKeys) -> Cow<'a, str> {
    let mut redacted: Option<String> = None;
    let mut copied = 0;
    let mut search_from = 0;
    // Where the token the last URL was in ends. URLs of one token (`a://a://...`) share it: looking it
    // up again from each would make the work grow with the square of the text's length.
    let mut token_end = 0;
    while let Some(found) = text[search_from..].find("//") {
        let slashes = search_from + found;
        let after = slashes + 2;
        search_from = after;
        let Some(start) = url_start(text, slashes) else { continue };
        if token_end <= after {
            token_end = text[after..].find(ends_token).map_or(text.len(), |at| after + at);
        }
        let raw_end = text[after..token_end]
            .match_indices("//")
            .find_map(|(at, _)| url_start(text, after + at))
            .map_or(token_end, |nested| nested.max(after));
        // Prose puts punctuation right after a URL: `(see http://h/p?token=x).`
        let end = after + text[after..raw_end].trim_end_matches([')', ']', '}', '.', ',', ';', ':', '!', '?']).len();
        if start >= copied {
            if let Cow::Owned(url) = redact_url_with(&text[start..end], keys, Nested::AlreadySplit) {
                let out = redacted.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..start]);
                out.push_str(&url);
                copied = end;
            }
        }
        search_from = search_from.max(end);
    }
    finish(text, redacted, copied)
}

/// Where the URL whose `//` is at `slashes` starts: its scheme, or the slashes of a scheme-relative
/// URL; `None` for the `//` of a path (`a//b`, `///`).
fn url_start(text: &str, slashes: usize) -> Option<usize> {
    match text[..slashes].strip_suffix(':') {
        Some(before_colon) => Some(scheme_start(before_colon)),
        None if text[..slashes].ends_with(|c: char| c.is_alphanumeric() || c == '/') => None,
        None => Some(slashes),
    }
}

/// Where the scheme that ends `before_colon` starts (its length when there is none).
fn scheme_start(before_colon: &str) -> usize {
    before_colon
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .last()
        .map_or(before_colon.len(), |(at, _)| at)
}

/// Credential pairs anywhere in `text` whose key is sensitive: `key=value` (the value up to whitespace, a
/// quote, `&`, `;`, `,` or a closing bracket, or a whole quoted string), and the `Debug` / JSON forms
/// `key: "value"`, `key: Some("value")` and `"key": "value"` (quoted values only: `code: 404` is prose). The value becomes
/// `REDACTED`.
fn redact_key_values<'a>(text: &'a str, keys: &SensitiveKeys) -> Cow<'a, str> {
    let mut redacted: Option<String> = None;
    let mut copied = 0;
    let mut unclosed = Unclosed::default();
    for (separator, found) in text.match_indices(['=', ':']) {
        if separator < copied {
            continue;
        }
        let colon = found == ":";
        // `key = value` (TOML, INI) and `"key" : "value"`: blanks may stand around the separator.
        let before = text[..separator].trim_end_matches([' ', '\t']);
        let key_end = match before.strip_suffix(['"', '\'']) {
            Some(unquoted) if colon => unquoted.len(),
            _ => before.len(),
        };
        let key_start = text[..key_end]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '%' | '[' | ']'))
            .last()
            .map_or(key_end, |(at, _)| at);
        // The key first: scanning values of keys that do not matter would make `a=a=a=...` quadratic.
        if key_start == key_end
            || !(keys.matches(&text[key_start..key_end]) || is_url_username(text, key_start, key_end))
        {
            continue;
        }
        let after = separator + 1;
        // Blanks after `=` only in the `key = value` style (`token=\tpassword=...` is two pairs).
        let spaced = colon || before.len() < separator;
        let blanks = if spaced { text[after..].len() - text[after..].trim_start_matches([' ', '\t']).len() } else { 0 };
        let Some((value_start, mut value_end)) = value_span(text, after + blanks, colon, &mut unclosed) else {
            continue;
        };
        if blanks > 0
            && !colon
            && text[value_start..value_end].contains(['=', ':'])
            && !text[after + blanks..].starts_with(['"', '\''])
        {
            // `token = password=x`: the next pair is the secret, judged on its own.
            continue;
        }
        // `authorization=Basic dXNl...`: the credentials are the word after the scheme.
        if SCHEMES.iter().any(|scheme| text[value_start..value_end].eq_ignore_ascii_case(scheme))
            && text[value_end..].starts_with(' ')
        {
            value_end = value_span(text, value_end + 1, false, &mut unclosed).map_or(value_end, |(_, end)| end);
        }
        let value = &text[value_start..value_end];
        if !value.is_empty() && value != REDACTED {
            let out = redacted.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..value_start]);
            out.push_str(REDACTED);
            copied = value_end;
        }
    }
    finish(text, redacted, copied)
}

/// Whether the key at `key_start..key_end` is the `username` of a `Url`'s `Debug` (`Url { scheme: ..,
/// cannot_be_a_base: false, username: ".."`): userinfo, which a token often fills
/// (`https://<token>@github.com/..`), while a `username` anywhere else is no secret.
fn is_url_username(text: &str, key_start: usize, key_end: usize) -> bool {
    &text[key_start..key_end] == "username"
        && ["cannot_be_a_base: false, ", "cannot_be_a_base: true, "]
            .iter()
            .any(|field| text[..key_start].ends_with(field))
}

/// The byte range of the value starting at `start`: inside its quotes when quoted (also in `Some(..)`),
/// else up to a delimiter; `None` for an unquoted value when `quoted_only`. A quoted value closes at an unescaped
/// quote followed by a delimiter or the end (`'it's', ...` is one value), else at the first unescaped
/// quote, else at the end of the word.
fn value_span(text: &str, start: usize, quoted_only: bool, unclosed: &mut Unclosed) -> Option<(usize, usize)> {
    // `Debug` of an optional field, `password: Some("..")` (what `unwrap()` panics with; `Url`'s too),
    // pretty (`{:#?}`) or not.
    let start = match text[start..].strip_prefix("Some(").map(str::trim_start) {
        Some(inner) if inner.starts_with(['"', '\'']) => text.len() - inner.len(),
        _ => start,
    };
    let rest = &text[start..];
    match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let inner = start + 1;
            let unclosed_from = &mut unclosed.0[usize::from(quote == '\'')];
            let known_unclosed = unclosed_from.is_some_and(|from| from <= inner);
            let mut escaped = false;
            let mut first_close = None;
            let mut close = None;
            for (at, c) in text[inner..].char_indices() {
                let closes = c == quote && !escaped;
                escaped = c == '\\' && !escaped;
                if !closes {
                    continue;
                }
                first_close.get_or_insert(inner + at);
                if known_unclosed {
                    break;
                }
                let next = text[inner + at + 1..].chars().next();
                if next.is_none_or(|next| ends_token(next) || matches!(next, ',' | ';' | '&' | ')' | ']' | '}' | ':')) {
                    close = Some(inner + at);
                    break;
                }
            }
            if close.is_none() && !known_unclosed {
                *unclosed_from = Some(inner);
            }
            let word_end = || text[inner..].find(char::is_whitespace).map_or(text.len(), |at| inner + at);
            Some((inner, close.or(first_close).unwrap_or_else(word_end)))
        }
        _ if quoted_only => None,
        _ => {
            let end = rest
                .find(|c: char| ends_token(c) || matches!(c, '&' | ';' | ',' | ')' | ']' | '}'))
                .map_or(text.len(), |at| start + at);
            Some((start, end))
        }
    }
}

/// Per quote character (`"`, `'`), the earliest value start from which no quote closes a value up to
/// the end of the text. Whether a quote closes one depends only on the text around it (its escaping
/// backslashes cannot reach back past the opening quote), so a later value quoted alike closes at its
/// first quote without a scan to the end: `token="x"x token="x"x ...` would cost the square of its
/// length.
#[derive(Default)]
struct Unclosed([Option<usize>; 2]);

/// The `Authorization` schemes whose token follows them in error text (an echoed header).
pub(super) const SCHEMES: [&str; 2] = ["bearer", "basic"];

/// `Bearer <token>` and `Basic <credentials>` (an `Authorization` header echoed in an error) become
/// `Bearer REDACTED` / `Basic REDACTED`.
fn redact_scheme_tokens(text: &str) -> Cow<'_, str> {
    let mut redacted: Option<String> = None;
    let mut copied = 0;
    let bytes = text.as_bytes();
    let starts = (0..bytes.len()).filter_map(|at| {
        let word_start = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
        let scheme = SCHEMES.iter().find(|scheme| {
            bytes.get(at..at + scheme.len()).is_some_and(|word| word.eq_ignore_ascii_case(scheme.as_bytes()))
                && bytes.get(at + scheme.len()) == Some(&b' ')
        })?;
        word_start.then_some((at, *scheme))
    });
    for (at, scheme) in starts {
        if at < copied {
            continue;
        }
        let token_start = at + scheme.len();
        let token_start = token_start + (text[token_start..].len() - text[token_start..].trim_start_matches(' ').len());
        let token_end = text[token_start..]
            .find(|c: char| ends_token(c) || matches!(c, ',' | ';' | ')' | ']' | '}'))
            .map_or(text.len(), |end| token_start + end);
        let token = &text[token_start..token_end];
        if token != REDACTED && looks_like_credentials(scheme, token) {
            let out = redacted.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..token_start]);
            out.push_str(REDACTED);
            copied = token_end;
        }
    }
    finish(text, redacted, copied)
}

/// Whether `token` after `scheme` is a credential rather than prose (`the bearer of bad news`, `basic
/// settings`): a bearer token of 8 characters or more; `Basic` credentials are base64, padded to a
/// multiple of 4, and not a plain lowercase word.
fn looks_like_credentials(scheme: &str, token: &str) -> bool {
    const MIN_TOKEN: usize = 8;
    if token.len() < MIN_TOKEN {
        return false;
    }
    if scheme == "bearer" {
        return true;
    }
    let base64 = token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    let word = token.bytes().all(|b| b.is_ascii_lowercase());
    base64 && !word && token.len().is_multiple_of(4)
}

fn finish(text: &str, redacted: Option<String>, copied: usize) -> Cow<'_, str> {
    match redacted {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> Cow<'_, str> {
        redact_text_with(text, &SensitiveKeys::default())
    }

    #[test]
    fn plain_text_is_borrowed() {
        for clean in [
            "connection refused",
            "",
            "error sending request for url (http://127.0.0.1:9/todos/1?q=1)",
            "a=b c=d",
            "token=REDACTED",
            "://",
            "x://",
            "bearer",
            "the bearer of bad news",
            "é://ü=€",
        ] {
            assert!(matches!(redact(clean), Cow::Borrowed(same) if same == clean), "{clean}");
        }
    }

    #[test]
    fn urls_in_error_text_lose_userinfo_and_secrets() {
        assert_eq!(
            redact(
                "error sending request for url (http://user:PWSECRET@127.0.0.1:9/todos/1?token=T0PSECRET&sig=S1GSECRET)"
            ),
            "error sending request for url (http://127.0.0.1:9/todos/1?token=REDACTED&sig=REDACTED)"
        );
        assert_eq!(
            redact("tried https://a:b@x.io and \"ftp://c:d@y.io/f\"."),
            "tried https://x.io and \"ftp://y.io/f\"."
        );
        assert_eq!(redact("see http://h/p?token=SEC)RET, then"), "see http://h/p?token=REDACTED, then");
        assert_eq!(
            redact("via http://proxy/?url=http://user:PW@internal/x&token=http://a:B@c/"),
            "via http://proxy/?url=http://internal/x&token=REDACTED"
        );
    }

    #[test]
    fn the_userinfo_of_a_url_in_debug_output_goes_username_included() {
        // `format!("{:?}", Url::parse("https://ghp_T0KEN:x-oauth@github.com/o/r?token=T"))`, then a
        // `username` of anything else, which stays.
        let debug = r#"Url { scheme: "https", cannot_be_a_base: false, username: "ghp_T0KEN", password: Some("x-oauth"), host: Some(Domain("github.com")), port: None, path: "/o/r", query: Some("token=T"), fragment: None } User { username: "bob" }"#;
        assert_eq!(
            redact(debug),
            r#"Url { scheme: "https", cannot_be_a_base: false, username: "REDACTED", password: Some("REDACTED"), host: Some(Domain("github.com")), port: None, path: "/o/r", query: Some("token=REDACTED"), fragment: None } User { username: "bob" }"#
        );
    }

    #[test]
    fn optional_credentials_in_pretty_debug_output() {
        // `{:#?}` puts the value of `Some` on a line of its own.
        let pretty =
            "Config {\n    password: Some(\n        \"hunter2\",\n    ),\n    port: Some(\n        5432,\n    ),\n}";
        assert_eq!(
            redact(pretty),
            "Config {\n    password: Some(\n        \"REDACTED\",\n    ),\n    port: Some(\n        5432,\n    ),\n}"
        );
    }

    #[test]
    fn credential_pairs_and_bearer_tokens_in_prose() {
        assert_eq!(
            redact("login failed: password=hunter2 user=bob, api_key=K1;x=1"),
            "login failed: password=REDACTED user=bob, api_key=REDACTED;x=1"
        );
        assert_eq!(redact("{secret=abc}"), "{secret=REDACTED}");
        assert_eq!(redact("password=\"hunter 2\" user=bob"), "password=\"REDACTED\" user=bob");
        assert_eq!(
            redact("Config { password: \"a\\\"b c\", code: 404, token: 'xyz' }"),
            "Config { password: \"REDACTED\", code: 404, token: 'REDACTED' }"
        );
        assert_eq!(redact(r#"{"client_secret":"s3cr3t","id":"7"}"#), r#"{"client_secret":"REDACTED","id":"7"}"#);
        assert_eq!(redact("password[]=a&user[password]=b"), "password[]=REDACTED&user[password]=REDACTED");
        assert_eq!(redact("status code: 404, key: none"), "status code: 404, key: none");
        assert_eq!(redact("Authorization: Bearer eyJhbGc.x-y_z"), "Authorization: Bearer REDACTED");
        assert_eq!(redact("BEARER  tok3n-123, next"), "BEARER  REDACTED, next");
    }

    #[test]
    fn credentials_in_config_dumps_and_header_dumps() {
        // TOML/INI lines echoed by a parser's error, spaces around the separator.
        assert_eq!(redact("3 | password = \"hunter2\""), "3 | password = \"REDACTED\"");
        assert_eq!(redact("password = hunter2"), "password = REDACTED");
        assert_eq!(redact("{\"password\" : \"X2\"}"), "{\"password\" : \"REDACTED\"}");
        // `Debug` of an `http::HeaderMap`, and a header line.
        assert_eq!(
            redact(r#"{"authorization": "Token abcdef", "cookie": "sid=S1D", "accept": "*/*"}"#),
            r#"{"authorization": "REDACTED", "cookie": "REDACTED", "accept": "*/*"}"#
        );
        assert_eq!(redact("Authorization: Basic dXNlcjpQVw=="), "Authorization: Basic REDACTED");
        assert_eq!(redact("authorization=Basic dXNlcjpQVw== next"), "authorization=REDACTED next");
        assert_eq!(
            redact("basic settings are missing; basic configuration"),
            "basic settings are missing; basic configuration"
        );
        // Other spellings of the default keys.
        assert_eq!(redact("api-key=K1 accessToken=T1"), "api-key=REDACTED accessToken=REDACTED");
    }

    /// `text` (1 MiB) redacted, failing after 30 s: linear work takes a fraction of a second even in a
    /// debug build, work growing with the square of the length takes hours.
    fn redacted_in_one_pass(text: String) -> String {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(redact(&text).into_owned());
        });
        finished.recv_timeout(std::time::Duration::from_secs(30)).expect("1 MiB of text redacted within 30 s")
    }

    #[test]
    fn a_text_made_of_urls_is_redacted_in_one_pass() {
        assert_eq!(redacted_in_one_pass("a://u:PW@h/".repeat(96 * 1024)), "a://h/".repeat(96 * 1024));
    }

    #[test]
    fn a_text_made_of_quoted_credentials_is_redacted_in_one_pass() {
        // Quotes that never close a value (a `"` followed by a letter).
        let text = "token=\"S3CR3T\"x ".repeat(64 * 1024);
        assert_eq!(redacted_in_one_pass(text), "token=\"REDACTED\"x ".repeat(64 * 1024));
    }

    #[test]
    fn every_planted_secret_goes_whatever_the_text_around_it() {
        let secrets = ["PWSECRET", "T0PSECRET", "S1GSECRET", "HDRSECRET"];
        let texts = [
            "http://user:PWSECRET@h/?token=T0PSECRET&Sig=S1GSECRET",
            "(http://user:PWSECRET@h:9?%74oken=T0PSECRET)",
            "x=1 token=T0PSECRET sig=S1GSECRET bearer HDRSECRET",
            "'//user:PWSECRET@h/p#sig=S1GSECRET'",
            "url=http://user:PWSECRET@h/?sig=S1GSECRET",
        ];
        for text in texts {
            let redacted = redact(text);
            for secret in secrets {
                assert!(!redacted.contains(secret), "{text} -> {redacted}");
            }
            assert_eq!(redact(&redacted), redacted, "redacting twice changes nothing");
        }
    }
}
