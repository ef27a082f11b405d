//! Which query keys (and `key=value` pairs in text) carry secrets.
//!
//! The defaults: the semantic conventions' signed-URL keys plus common credential names. More keys
//! come from `TRACED_REDACTED_QUERY_KEYS` or the builder; they add to the defaults, never replace
//! them. Keys match case-insensitively after percent-decoding, ignoring `-` and `_` (`Sig`, `%73ig` and
//! `SIG` are `sig`; `api-key`, `apiKey` and `API_KEY` are `api_key`).
//!
//! The configured list is installed process-wide by `init()` and read on every request with a query:
//! one atomic load, plus a per-thread copy refreshed only when `init()` installed another list, so
//! the per-request path takes no lock (guarded by the `http_overhead` benchmark).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The keys redacted by default.
pub(crate) const DEFAULT: [&str; 24] = [
    // The semantic conventions' list for `url.query` / `url.full`.
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    // Common credential names.
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "key",
    "auth",
    "code",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    // The headers that are never captured, as keys in error text (`Debug` of a header map).
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// The sensitive keys: the defaults plus configured ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SensitiveKeys {
    extra: Vec<Box<str>>,
}

impl SensitiveKeys {
    /// The defaults plus `extra` (blank names are ignored, duplicates of the defaults too).
    pub(crate) fn with_extra<S: AsRef<str>>(extra: impl IntoIterator<Item = S>) -> Self {
        let mut keys = Self::default();
        for key in extra {
            let key = key.as_ref().trim();
            if !key.is_empty() && !keys.matches(key) {
                keys.extra.push(key.into());
            }
        }
        keys
    }

    /// Whether the raw (possibly percent-encoded) `key` names a secret: the key itself, or for the
    /// bracket forms of form encoders (`password[]`, `user[password]`) its name before the first `[`
    /// or inside the last `[...]`.
    pub(crate) fn matches(&self, key: &str) -> bool {
        if self.matches_whole(key) {
            return true;
        }
        let Some(open) = find_bracket(key, b'[', 0) else { return false };
        if self.matches_whole(&key[..open.0]) {
            return true;
        }
        let mut last = open;
        while let Some(next) = find_bracket(key, b'[', last.1) {
            last = next;
        }
        match find_bracket(key, b']', last.1) {
            Some(close) => self.matches_whole(&key[last.1..close.0]),
            None => false,
        }
    }

    fn matches_whole(&self, key: &str) -> bool {
        let len = spelled(DecodedBytes::new(key)).count();
        if len == 0 {
            return false;
        }
        let matches = |candidate: &str| {
            spelled(candidate.bytes()).count() == len
                && spelled(DecodedBytes::new(key)).eq_by_ascii_case(spelled(candidate.bytes()))
        };
        DEFAULT.iter().any(|candidate| matches(candidate)) || self.extra.iter().any(|candidate| matches(candidate))
    }
}

/// The first `bracket` (`[` or `]`, literal or percent-encoded) at or after `from`: its start and end.
fn find_bracket(raw: &str, bracket: u8, from: usize) -> Option<(usize, usize)> {
    let encoded = if bracket == b'[' { "%5b" } else { "%5d" };
    let bytes = raw.as_bytes();
    (from..bytes.len()).find_map(|at| {
        if bytes[at] == bracket {
            Some((at, at + 1))
        } else if bytes.get(at..at + 3).is_some_and(|three| three.eq_ignore_ascii_case(encoded.as_bytes())) {
            Some((at, at + 3))
        } else {
            None
        }
    })
}

/// The bytes of a key that tell one key from another: without the `-` and `_` that kebab, snake and
/// camel case put in different places.
fn spelled(bytes: impl Iterator<Item = u8>) -> impl Iterator<Item = u8> {
    bytes.filter(|byte| !matches!(byte, b'-' | b'_'))
}

/// ASCII case-insensitive equality of two byte sequences. Allocation-free.
trait EqByAsciiCase: Iterator<Item = u8> + Sized {
    fn eq_by_ascii_case(mut self, mut other: impl Iterator<Item = u8>) -> bool {
        loop {
            match (self.next(), other.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b) => {}
                _ => return false,
            }
        }
    }
}

impl<I: Iterator<Item = u8>> EqByAsciiCase for I {}

/// The bytes of a percent-encoded string, decoded one at a time.
struct DecodedBytes<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> DecodedBytes<'a> {
    fn new(raw: &'a str) -> Self {
        Self { raw: raw.as_bytes(), at: 0 }
    }
}

impl Iterator for DecodedBytes<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let byte = *self.raw.get(self.at)?;
        if byte == b'%' {
            let hex = |at: usize| self.raw.get(at).and_then(|digit| (*digit as char).to_digit(16));
            if let (Some(high), Some(low)) = (hex(self.at + 1), hex(self.at + 2)) {
                self.at += 3;
                // Two hex digits are at most 0xff.
                return Some((high * 16 + low) as u8);
            }
        }
        self.at += 1;
        Some(byte)
    }
}

static GENERATION: AtomicU64 = AtomicU64::new(0);
static INSTALLED: RwLock<Option<Arc<SensitiveKeys>>> = RwLock::new(None);

thread_local! {
    static CACHED: RefCell<(u64, Option<Arc<SensitiveKeys>>)> = const { RefCell::new((0, None)) };
}

/// Makes `keys` the process-wide list (`init()` calls it with the settings' keys).
pub(crate) fn install(keys: SensitiveKeys) {
    let keys = (keys != SensitiveKeys::default()).then(|| Arc::new(keys));
    if let Ok(mut installed) = INSTALLED.write() {
        *installed = keys;
    }
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Runs `f` with the process-wide list. Per-request path: one atomic load while nothing was ever
/// installed, a borrow of the per-thread copy afterwards (no lock, no shared reference count).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&SensitiveKeys) -> R) -> R {
    static DEFAULTS: SensitiveKeys = SensitiveKeys { extra: Vec::new() };
    let generation = GENERATION.load(Ordering::Acquire);
    if generation == 0 {
        return f(&DEFAULTS);
    }
    let mut f = Some(f);
    let result = CACHED
        .try_with(|cell| {
            if cell.try_borrow().ok()?.0 != generation {
                *cell.try_borrow_mut().ok()? = (generation, read_installed());
            }
            let cached = cell.try_borrow().ok()?;
            let f = f.take()?;
            Some(f(cached.1.as_deref().unwrap_or(&DEFAULTS)))
        })
        .ok()
        .flatten();
    match (result, f) {
        (Some(result), _) => result,
        // The thread is exiting (its copy is gone) or `f` itself asked for the list: read it directly.
        (None, Some(f)) => f(read_installed().as_deref().unwrap_or(&DEFAULTS)),
        (None, None) => unreachable!("`f` ran and returned"),
    }
}

#[cold]
fn read_installed() -> Option<Arc<SensitiveKeys>> {
    INSTALLED.read().ok().and_then(|installed| installed.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_case_insensitively_and_percent_decoded() {
        let keys = SensitiveKeys::default();
        for key in ["sig", "Sig", "SIG", "%73ig", "%53%49%47", "Signature", "X-GOOG-SIGNATURE", "Password", "token"] {
            assert!(keys.matches(key), "{key}");
        }
        for key in ["password[]", "user[password]", "user%5Bpassword%5D", "a[b][token]", "token[0]", "%5btoken%5d"] {
            assert!(keys.matches(key), "{key}");
        }
        for key in ["sigma", "q", "page", "", "%", "%7", "tokens", "my_token", "%zz", "[", "user[name]", "a[token"] {
            assert!(!keys.matches(key), "{key}");
        }
    }

    #[test]
    fn other_spellings_of_the_defaults_match_too() {
        // `-` and `_` are ignored, so the kebab, snake and camel spellings of a default are the default.
        let keys = SensitiveKeys::default();
        for key in [
            "api-key",
            "apiKey",
            "API_KEY",
            "access-token",
            "accessToken",
            "AccessToken",
            "client-secret",
            "clientSecret",
            "refresh-token",
            "id-token",
            "x_amz_signature",
            "X-Amz-Security_Token",
            "pass_word",
            "api%2Dkey",
            "authorization",
            "Proxy-Authorization",
            "cookie",
            "Set-Cookie",
        ] {
            assert!(keys.matches(key), "{key}");
        }
        for key in ["-", "_", "--", "api-keys", "my-token", "token-id", "access", "x-amz-date"] {
            assert!(!keys.matches(key), "{key}");
        }
    }

    #[test]
    fn extra_keys_add_to_the_defaults() {
        let keys = SensitiveKeys::with_extra(["session", " ", "Token", "X-Api-Key"]);
        assert!(keys.matches("SESSION") && keys.matches("x-api-key") && keys.matches("token"));
        assert_eq!(keys.extra.len(), 2, "blank names and defaults are not repeated: {keys:?}");
        assert!(!SensitiveKeys::default().matches("session"));
    }

    #[test]
    fn the_installed_list_is_seen_by_every_thread() {
        // The only test that installs a list: the others pass theirs explicitly.
        let configured = |key: &'static str| move || with_current(|keys| keys.matches(key));
        install(SensitiveKeys::with_extra(["traced_unit_test_key"]));
        assert!(configured("Traced_Unit_Test_Key")());
        assert!(std::thread::spawn(configured("traced_unit_test_key")).join().expect("the thread ran"));
        install(SensitiveKeys::with_extra(["traced_other_test_key"]));
        assert!(!configured("traced_unit_test_key")(), "a new list replaces the cached one");
        assert!(configured("traced_other_test_key")() && configured("sig")());
        install(SensitiveKeys::default());
        assert!(!configured("traced_other_test_key")());
    }

    #[test]
    fn invalid_escapes_stay_literal() {
        let mut bytes = DecodedBytes::new("a%2x%41%");
        assert_eq!(std::iter::from_fn(|| bytes.next()).collect::<Vec<_>>(), b"a%2xA%");
        assert_eq!(DecodedBytes::new("%41%4").count(), 3);
    }
}
