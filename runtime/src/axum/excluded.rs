//! Requests that get no span and no metric: health checks, probes, ...
//!
//! The same semantics as `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`: a comma-separated list of regular
//! expressions, each searched (not anchored) in the full request URL (`http://host/path?query`), so
//! `health,ping` excludes `/health`, `/ping` and `/api/healthz`. The OpenTelemetry specification
//! defines no cross-language variable (spec issue #623), so we follow the per-language pattern the
//! Python (`OTEL_PYTHON_EXCLUDED_URLS`) and PHP (`OTEL_PHP_EXCLUDED_URLS`) SDKs use:
//! [`EXCLUDED_URLS_ENV`] for this layer, falling back to [`GENERIC_EXCLUDED_URLS_ENV`].

use regex::RegexSet;

/// The layer's own variable, like `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`.
pub const EXCLUDED_URLS_ENV: &str = "OTEL_RUST_AXUM_EXCLUDED_URLS";

/// The fallback shared by every Rust HTTP instrumentation, like `OTEL_PYTHON_EXCLUDED_URLS`.
pub const GENERIC_EXCLUDED_URLS_ENV: &str = "OTEL_RUST_EXCLUDED_URLS";

/// A list of URL patterns; see the module docs for the syntax.
#[derive(Debug, Clone, Default)]
pub struct ExcludedUrls {
    patterns: Option<RegexSet>,
}

/// A pattern that is not a valid regular expression.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: `{pattern}` is not a valid regular expression: {reason}")]
pub struct ExcludedUrlsError {
    source_name: String,
    pattern: String,
    reason: String,
}

impl ExcludedUrls {
    /// Excludes nothing.
    pub const fn none() -> Self {
        Self { patterns: None }
    }

    /// Parses a comma-separated list of regular expressions; blank entries are ignored.
    ///
    /// ```
    /// let excluded = traced::axum::ExcludedUrls::parse("health,ping").unwrap();
    /// assert!(excluded.is_excluded("http://localhost:8000/health"));
    /// assert!(!excluded.is_excluded("http://localhost:8000/items/1"));
    /// ```
    pub fn parse(list: &str) -> Result<Self, ExcludedUrlsError> {
        Self::parse_from(list, "excluded URLs")
    }

    /// Reads [`EXCLUDED_URLS_ENV`], else [`GENERIC_EXCLUDED_URLS_ENV`]; unset or empty excludes nothing.
    /// An invalid pattern is an error naming the variable.
    pub fn from_env() -> Result<Self, ExcludedUrlsError> {
        match read_env() {
            Some((name, list)) => Self::parse_from(&list, name),
            None => Ok(Self::none()),
        }
    }

    fn parse_from(list: &str, source_name: &str) -> Result<Self, ExcludedUrlsError> {
        let patterns: Vec<&str> = list.split(',').map(str::trim).filter(|pattern| !pattern.is_empty()).collect();
        if patterns.is_empty() {
            return Ok(Self::none());
        }
        for pattern in &patterns {
            // Checked one by one so the error names the culprit, not the whole set.
            if let Err(error) = regex::Regex::new(pattern) {
                return Err(ExcludedUrlsError {
                    source_name: source_name.to_owned(),
                    pattern: (*pattern).to_owned(),
                    reason: error.to_string(),
                });
            }
        }
        let set = RegexSet::new(&patterns).map_err(|error| ExcludedUrlsError {
            source_name: source_name.to_owned(),
            pattern: list.to_owned(),
            reason: error.to_string(),
        })?;
        Ok(Self { patterns: Some(set) })
    }

    /// Whether this list excludes anything at all (the layer skips building URLs when not).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_none()
    }

    /// Whether `url` matches one of the patterns.
    pub fn is_excluded(&self, url: &str) -> bool {
        self.patterns.as_ref().is_some_and(|set| set.is_match(url))
    }
}

/// The first of our two variables that is set and not blank, with its name (read through the
/// telemetry settings module, the crate's one reader of the environment).
fn read_env() -> Option<(&'static str, String)> {
    [EXCLUDED_URLS_ENV, GENERIC_EXCLUDED_URLS_ENV]
        .into_iter()
        .find_map(|name| crate::telemetry::settings::var(name).map(|value| (name, value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_searched_anywhere_in_the_url() {
        let excluded = ExcludedUrls::parse("health, ping ,,client/.*/info").expect("valid patterns");
        assert!(excluded.is_excluded("http://127.0.0.1:8000/health"));
        assert!(excluded.is_excluded("http://127.0.0.1:8000/api/healthz"));
        assert!(excluded.is_excluded("http://127.0.0.1:8000/ping?x=1"));
        assert!(excluded.is_excluded("https://site/client/123/info"));
        assert!(!excluded.is_excluded("http://127.0.0.1:8000/items/1"));
    }

    #[test]
    fn anchors_work_when_written() {
        let excluded = ExcludedUrls::parse("^http://[^/]+/$").expect("valid pattern");
        assert!(excluded.is_excluded("http://127.0.0.1:8000/"));
        assert!(!excluded.is_excluded("http://127.0.0.1:8000/items"));
    }

    #[test]
    fn an_empty_list_excludes_nothing() {
        for list in ["", " , ,"] {
            let excluded = ExcludedUrls::parse(list).expect("blank list");
            assert!(excluded.is_empty());
            assert!(!excluded.is_excluded("http://127.0.0.1/health"));
        }
    }

    #[test]
    fn an_invalid_pattern_is_named_in_the_error() {
        let error = ExcludedUrls::parse_from("health,(unclosed", EXCLUDED_URLS_ENV).expect_err("invalid pattern");
        let message = error.to_string();
        assert!(
            message.starts_with("OTEL_RUST_AXUM_EXCLUDED_URLS: `(unclosed` is not a valid regular expression"),
            "{message}"
        );
    }
}
