//! What the HTTP instrumentation (the axum layer and the reqwest client) is configured with: the
//! known methods, the excluded URLs and the captured headers, as plain data.
//!
//! [`Settings::from_vars`](crate::telemetry::Settings::from_vars) parses them from the environment,
//! `traced::init()` installs them for `TracedLayer::new()` and `client::Client::new()`, and both take
//! them in code too (`from_settings`, builder methods; code wins over the environment).

use std::sync::{Arc, RwLock};

use http::HeaderName;
use regex::{Regex, RegexSet, RegexSetBuilder};

/// The axum layer's excluded URLs, like `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`.
pub const EXCLUDED_URLS_ENV: &str = "OTEL_RUST_AXUM_EXCLUDED_URLS";

/// The fallback shared by every Rust HTTP instrumentation, like `OTEL_PYTHON_EXCLUDED_URLS`.
pub const GENERIC_EXCLUDED_URLS_ENV: &str = "OTEL_RUST_EXCLUDED_URLS";

/// The HTTP instrumentation's settings; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpSettings {
    /// `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`: the methods recorded as themselves (any other is
    /// `_OTHER`); `None` keeps the conventions' list (RFC 9110 methods, `PATCH`, `QUERY`).
    pub known_methods: Option<Vec<String>>,
    /// `OTEL_RUST_AXUM_EXCLUDED_URLS`, else `OTEL_RUST_EXCLUDED_URLS`: requests that get no span and no metric.
    pub excluded_urls: ExcludedUrls,
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`
    pub server_request_headers: HeaderPatterns,
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE`
    pub server_response_headers: HeaderPatterns,
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST`
    pub client_request_headers: HeaderPatterns,
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE`
    pub client_response_headers: HeaderPatterns,
    /// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS`: captured headers whose value is
    /// recorded as `[REDACTED]`.
    pub sanitize_headers: HeaderPatterns,
}

/// A list pattern that is not a valid regular expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{list}: `{pattern}` is not a valid regular expression: {reason}")]
pub struct PatternError {
    list: String,
    pattern: String,
    reason: String,
}

impl PatternError {
    /// The entry that failed to compile.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Why the regular expression engine refused it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The entries of a comma-separated list, trimmed, blanks dropped.
fn entries(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|entry| !entry.is_empty())
}

/// Compiles `patterns` one by one (so an error names the culprit as written), then `compiled` (the
/// same patterns, possibly rewritten) as one set.
fn regex_set(
    list: &str,
    patterns: &[String],
    compiled: &[String],
    case_insensitive: bool,
) -> Result<Option<RegexSet>, PatternError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let error =
        |pattern: &str, reason: String| PatternError { list: list.to_owned(), pattern: pattern.to_owned(), reason };
    for pattern in patterns {
        if let Err(failure) = Regex::new(pattern) {
            return Err(error(pattern, failure.to_string()));
        }
    }
    RegexSetBuilder::new(compiled)
        .case_insensitive(case_insensitive)
        .build()
        .map(Some)
        .map_err(|failure| error(&patterns.join(","), failure.to_string()))
}

/// Requests that get no span and no metric: health checks, probes, ...
///
/// A comma-separated list of regular expressions, each searched (not anchored) like
/// `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`, so `health,ping` excludes `/health`, `/ping` and
/// `/api/healthz`. What the patterns see is chosen so that a client cannot hide a request:
/// the axum layer matches them against the route template the request matched (`/users/{id}`,
/// from the router, never from the client), and against the path alone when no route matched.
/// Never against the `Host` header, the query string or anything else the client chose freely.
/// Write `^/ping$` to exclude exactly one path.
#[derive(Clone, Default)]
pub struct ExcludedUrls {
    sources: Vec<String>,
    set: Option<RegexSet>,
}

impl ExcludedUrls {
    /// Excludes nothing.
    pub const fn none() -> Self {
        Self { sources: Vec::new(), set: None }
    }

    /// Parses a comma-separated list of regular expressions; blank entries are ignored.
    ///
    /// ```
    /// let excluded = traced::http_settings::ExcludedUrls::parse("health,ping").unwrap();
    /// assert!(excluded.is_excluded("/health"));
    /// assert!(!excluded.is_excluded("/items/{item_id}"));
    /// ```
    pub fn parse(list: &str) -> Result<Self, PatternError> {
        Self::parse_named(list, "excluded URLs")
    }

    pub(crate) fn parse_named(list: &str, name: &str) -> Result<Self, PatternError> {
        let sources: Vec<String> = entries(list).map(str::to_owned).collect();
        let set = regex_set(name, &sources, &sources, false)?;
        Ok(Self { sources, set })
    }

    /// Whether this list excludes anything at all.
    pub fn is_empty(&self) -> bool {
        self.set.is_none()
    }

    /// Whether one of the patterns occurs in `target` (a route template or a path).
    pub fn is_excluded(&self, target: &str) -> bool {
        self.set.as_ref().is_some_and(|set| set.is_match(target))
    }
}

impl PartialEq for ExcludedUrls {
    fn eq(&self, other: &Self) -> bool {
        self.sources == other.sources
    }
}

impl std::fmt::Debug for ExcludedUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ExcludedUrls").field(&self.sources).finish()
    }
}

/// Header names to capture or sanitize: a comma-separated list of names or regular expressions, as
/// the Python instrumentations read `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`: case-insensitive,
/// each matching the whole name (`x-.*` matches `X-Request-Id`, `id` does not). A sanitize list
/// (`..._SANITIZE_FIELDS`) is searched instead, as Python does: `token` sanitizes `X-Auth-Token`.
///
/// `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` are never captured, whatever
/// the list says (`.*` included).
#[derive(Clone, Default)]
pub struct HeaderPatterns {
    sources: Vec<String>,
    /// Entries that are plain names (letters, digits, `-`, `_`): looked up directly.
    names: Vec<HeaderName>,
    /// The other entries, anchored at both ends.
    set: Option<RegexSet>,
}

impl HeaderPatterns {
    /// Parses a comma-separated list of header names or regular expressions; blank entries are ignored.
    ///
    /// ```
    /// use traced::http_settings::HeaderPatterns;
    ///
    /// let patterns = HeaderPatterns::parse("x-request-id, x-tenant-.*").unwrap();
    /// assert!(patterns.matches("X-Request-Id") && patterns.matches("x-tenant-name"));
    /// assert!(!patterns.matches("x-request-id-2"));
    /// ```
    pub fn parse(list: &str) -> Result<Self, PatternError> {
        Self::parse_named(list, "captured headers")
    }

    pub(crate) fn parse_named(list: &str, name: &str) -> Result<Self, PatternError> {
        Self::from_entries(entries(list).map(str::to_owned).collect(), name)
    }

    /// The list given in code: each entry a name or a regular expression; an entry that is not a
    /// valid regular expression is taken as a literal name.
    pub fn lenient<I, N>(entries: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let sources: Vec<String> = entries
            .into_iter()
            .map(|entry| entry.as_ref().trim().to_owned())
            .filter(|entry| !entry.is_empty())
            .map(|entry| if Regex::new(&entry).is_ok() { entry } else { regex::escape(&entry) })
            .collect();
        // Every entry compiles now, so this cannot fail; an empty list is the fallback regardless.
        Self::from_entries(sources, "captured headers").unwrap_or_default()
    }

    fn from_entries(sources: Vec<String>, name: &str) -> Result<Self, PatternError> {
        let mut names = Vec::new();
        let mut patterns = Vec::new();
        for source in &sources {
            let literal = source.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            match HeaderName::from_bytes(source.to_ascii_lowercase().as_bytes()) {
                Ok(header) if literal => {
                    if !names.contains(&header) {
                        names.push(header);
                    }
                }
                _ => patterns.push(source.clone()),
            }
        }
        let anchored: Vec<String> = patterns.iter().map(|pattern| format!("^(?:{pattern})$")).collect();
        let set = regex_set(name, &patterns, &anchored, true)?;
        Ok(Self { sources, names, set })
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.set.is_none()
    }

    /// Whether `name` (any case) matches an entry. Says nothing about the never-captured headers.
    pub fn matches(&self, name: &str) -> bool {
        self.matches_lowercase(&name.to_ascii_lowercase())
    }

    /// [`matches`](Self::matches) for a name already in lowercase (as `http::HeaderName`s are).
    pub(crate) fn matches_lowercase(&self, name: &str) -> bool {
        self.names.iter().any(|known| known.as_str() == name) || self.matches_pattern(name)
    }

    /// The entries that are plain header names, lowercase.
    #[cfg_attr(not(any(feature = "axum", feature = "reqwest")), allow(dead_code))]
    pub(crate) fn names(&self) -> &[HeaderName] {
        &self.names
    }

    /// Whether a lowercase `name` matches a regular-expression entry.
    pub(crate) fn matches_pattern(&self, name: &str) -> bool {
        self.set.as_ref().is_some_and(|set| set.is_match(name))
    }

    /// Whether any entry is a regular expression (then every header of a message is looked at).
    #[cfg_attr(not(any(feature = "axum", feature = "reqwest")), allow(dead_code))]
    pub(crate) fn has_patterns(&self) -> bool {
        self.set.is_some()
    }

    /// The entries as a set that finds any of them anywhere in a name, in any case: how a sanitize
    /// list is read (Python's `SanitizeValue` uses `re.search`, so `token` covers `x-auth-token`).
    /// `None` for an empty list; should the set fail to build, the whole-name entries.
    #[cfg_attr(not(any(feature = "axum", feature = "reqwest")), allow(dead_code))]
    pub(crate) fn searched(&self) -> Searched {
        if self.sources.is_empty() {
            return Searched(None);
        }
        Searched(RegexSetBuilder::new(&self.sources).case_insensitive(true).build().ok())
    }
}

/// [`HeaderPatterns::searched`]: entries found anywhere in a header name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Searched(Option<RegexSet>);

impl Searched {
    /// Whether an entry occurs in `name`; `None` when the set could not be built.
    #[cfg_attr(not(any(feature = "axum", feature = "reqwest")), allow(dead_code))]
    pub(crate) fn occurs_in(&self, name: &str) -> Option<bool> {
        self.0.as_ref().map(|set| set.is_match(name))
    }
}

impl PartialEq for HeaderPatterns {
    fn eq(&self, other: &Self) -> bool {
        self.sources == other.sources
    }
}

impl std::fmt::Debug for HeaderPatterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HeaderPatterns").field(&self.sources).finish()
    }
}

static INSTALLED: RwLock<Option<Arc<HttpSettings>>> = RwLock::new(None);

/// Makes `settings` the ones `TracedLayer::new()` and `Client::new()` use (called by `traced::init()`).
pub(crate) fn install(settings: HttpSettings) {
    if let Ok(mut installed) = INSTALLED.write() {
        *installed = Some(Arc::new(settings));
    }
}

/// The settings `traced::init()` installed; before any `init()`, the environment's (read once; an
/// invalid value is reported on stderr and ignored, as `init()` would have refused it).
#[cfg_attr(not(any(feature = "axum", feature = "reqwest")), allow(dead_code))]
pub(crate) fn installed() -> Arc<HttpSettings> {
    if let Some(settings) = INSTALLED.read().ok().and_then(|installed| installed.clone()) {
        return settings;
    }
    let from_env = Arc::new(crate::telemetry::settings::http_from_env().unwrap_or_else(|error| {
        eprintln!("traced: ignoring the HTTP instrumentation settings of the environment: {error}");
        HttpSettings::default()
    }));
    match INSTALLED.write() {
        Ok(mut installed) => installed.get_or_insert(from_env).clone(),
        Err(_) => from_env,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_patterns_are_searched_anywhere() {
        let excluded = ExcludedUrls::parse("health, ping ,,client/.*/info").expect("valid patterns");
        assert!(excluded.is_excluded("/health"));
        assert!(excluded.is_excluded("/api/healthz"));
        assert!(excluded.is_excluded("/client/{id}/info"));
        assert!(!excluded.is_excluded("/items/{item_id}"));
        assert!(!excluded.is_excluded("/Health"), "case-sensitive, like Python's `re.search`");
    }

    #[test]
    fn an_empty_list_excludes_nothing() {
        for list in ["", " , ,"] {
            let excluded = ExcludedUrls::parse(list).expect("blank list");
            assert!(excluded.is_empty());
            assert!(!excluded.is_excluded("/health"));
        }
    }

    #[test]
    fn an_invalid_pattern_is_named_in_the_error() {
        let error = ExcludedUrls::parse_named("health,(unclosed", EXCLUDED_URLS_ENV).expect_err("invalid");
        assert_eq!(error.pattern(), "(unclosed");
        let message = error.to_string();
        assert!(message.starts_with("OTEL_RUST_AXUM_EXCLUDED_URLS: `(unclosed` is not a valid regular"), "{message}");
    }

    #[test]
    fn header_patterns_match_whole_names_in_any_case() {
        let patterns = HeaderPatterns::parse("X-Request-Id, x-tenant-.*, content.type").expect("valid");
        assert_eq!(patterns.names(), [HeaderName::from_static("x-request-id")]);
        assert!(patterns.matches("x-request-id") && patterns.matches("X-REQUEST-ID"));
        assert!(patterns.matches("X-Tenant-Name") && patterns.matches("content-type"));
        assert!(!patterns.matches("x-request-id-2") && !patterns.matches("my-x-tenant-a"));
        assert!(!patterns.matches("request"));
    }

    #[test]
    fn header_patterns_report_the_bad_entry_as_written() {
        let error = HeaderPatterns::parse_named("ok,x-(", "VAR").expect_err("invalid");
        assert_eq!(error.pattern(), "x-(");
        assert!(error.to_string().starts_with("VAR: `x-(` is not a valid regular expression"), "{error}");
    }

    #[test]
    fn entries_given_in_code_that_are_not_regexes_match_literally() {
        let patterns = HeaderPatterns::lenient(["*", " x-a ", "", "x-(b"]);
        assert!(patterns.matches("*") && patterns.matches("x-a") && patterns.matches("x-(b"));
        assert!(!patterns.matches("x-ab"));
        assert_eq!(format!("{patterns:?}"), r#"HeaderPatterns(["\\*", "x-a", "x\\-\\(b"])"#);
    }
}
