//! Text the layer keeps for the life of the process, under a byte budget per kind: route templates
//! and span names (from the app's router), and the request values requests repeat (server address,
//! user agent, peer address). A request that finds its text interned records it without a copy, an
//! allocation or a reference count; a full budget only means copies again, as before.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Bytes of route text (templates, span names) the process interns, over all layers.
pub(crate) const ROUTE_BUDGET_BYTES: usize = 256 * 1024;
/// Bytes of request values (server addresses, user agents, peer addresses) the process interns,
/// over all layers.
pub(crate) const REQUEST_VALUE_BUDGET_BYTES: usize = 64 * 1024;

/// Route templates and span names: they come from the app, never from the client.
pub(crate) static ROUTES: Interner = Interner::new(ROUTE_BUDGET_BYTES);
/// Values copied from requests: a client can spend this budget, never the routes'.
pub(crate) static REQUEST_VALUES: Interner = Interner::new(REQUEST_VALUE_BUDGET_BYTES);

/// Texts interned so far (shared by every layer, so rebuilding a layer interns nothing new) and their
/// total size. Only a request that meets a text for the first time takes the lock.
pub(crate) struct Interner {
    interned: Mutex<(BTreeSet<&'static str>, usize)>,
    budget: usize,
}

impl Interner {
    const fn new(budget: usize) -> Self {
        Self { interned: Mutex::new((BTreeSet::new(), 0)), budget }
    }

    /// `text` with a `'static` lifetime, or `None` once the budget is spent.
    pub(crate) fn intern(&self, text: &str) -> Option<&'static str> {
        let mut interned = self.interned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = interned.0.get(text) {
            return Some(existing);
        }
        if interned.1 + text.len() > self.budget {
            return None;
        }
        let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
        interned.0.insert(leaked);
        interned.1 += leaked.len();
        Some(leaked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_shared_and_bounded() {
        let first = ROUTES.intern("/shared/route").expect("budget");
        let second = ROUTES.intern(&String::from("/shared/route")).expect("budget");
        assert!(std::ptr::eq(first, second));
        assert_eq!(ROUTES.intern(&"x".repeat(ROUTE_BUDGET_BYTES + 1)), None);
    }

    #[test]
    fn each_kind_spends_its_own_budget() {
        let small = Interner::new(8);
        assert_eq!(small.intern("12345"), Some("12345"));
        assert_eq!(small.intern("6789"), None, "past the budget");
        assert_eq!(small.intern("12345"), Some("12345"), "an interned text still answers");
        assert!(REQUEST_VALUES.intern("not a route").is_some());
    }
}
