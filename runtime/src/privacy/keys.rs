//! Which query keys (and `key=value` pairs in text) carry secrets.
//!
//! The defaults: the semantic conventions' signed-URL keys plus common credential names. More keys
//! come from `TRACED_REDACTED_QUERY_KEYS` or the builder; they add to the defaults, never replace
//! them. Keys match case-insensitively after percent-decoding (`Sig`, `%73ig` and `SIG` are `sig`).
//!
//! The configured list is installed process-wide by `init()` and read on every request with a query:
//! one atomic load, plus a per-thread copy refreshed only when `init()` installed another list, so
//! the per-request path takes no lock (guarded by the `http_overhead` benchmark).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The keys redacted by default.
pub(crate) const DEFAULT: [&str; 20] = [
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
        let decoded_len = decoded_len(key);
        let matches = |candidate: &str| candidate.len() == decoded_len && decoded_eq_ignore_case(key, candidate);
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

/// The byte length of `raw` after percent-decoding (an invalid escape stays as it is).
fn decoded_len(raw: &str) -> usize {
    let mut len = 0;
    let mut bytes = DecodedBytes::new(raw);
    while bytes.next().is_some() {
        len += 1;
    }
    len
}

/// Whether percent-decoded `raw` equals `candidate`, ASCII case-insensitively. Allocation-free.
fn decoded_eq_ignore_case(raw: &str, candidate: &str) -> bool {
    let mut decoded = DecodedBytes::new(raw);
    candidate.bytes().all(|expected| decoded.next().is_some_and(|byte| byte.eq_ignore_ascii_case(&expected)))
        && decoded.next().is_none()
}

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
        assert_eq!(decoded_len("%41%4"), 3);
    }
}
