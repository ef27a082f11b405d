//! The request values that repeat from request to request: `server.address` (the `Host` a server
//! answers to), `user_agent.original` (the same few clients) and the peer's address (a proxy, a load
//! balancer). The first [`SLOTS`] distinct values of each kind a layer sees are interned
//! ([`super::interned::REQUEST_VALUES`], a process-wide byte budget), and a request carrying one of
//! them records it without copying it. Any other value is copied per request, as it always was.
//!
//! Per-request path, guarded by the `http_overhead` benchmark: a lookup compares lengths, then bytes,
//! of at most [`SLOTS`] values; no lock, no hashing, no reference count. Only a new value takes the
//! intern table's lock. Values are capped before they get here, so a slot holds at most its
//! attribute's budget in [`crate::privacy::caps`].
//!
//! A server's authority and a user agent are first looked up as the bytes the request carries: a known
//! one is recorded without being checked as text, split or capped again (a value equal to an interned
//! text is that text).

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use opentelemetry::StringValue;

use super::interned::REQUEST_VALUES;
use crate::privacy::caps;

/// Values of one kind a layer keeps.
pub(crate) const SLOTS: usize = 8;

/// The interned request values of one layer.
#[derive(Default)]
pub(crate) struct RequestValues {
    pub(crate) servers: ServerSlots,
    pub(crate) user_agents: TextSlots,
    pub(crate) peers: PeerSlots,
}

/// Up to [`SLOTS`] authorities (the URI's, else the `Host` header's, as received) with the
/// `server.address` and `server.port` they record, each filled once.
#[derive(Default)]
pub(crate) struct ServerSlots {
    slots: [OnceLock<Server>; SLOTS],
}

/// An interned authority and what it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Server {
    authority: &'static str,
    address: &'static str,
    port: Option<u16>,
}

/// Up to [`SLOTS`] texts, each filled once.
#[derive(Default)]
pub(crate) struct TextSlots {
    slots: [OnceLock<&'static str>; SLOTS],
}

/// Up to [`SLOTS`] peer addresses and their text, each filled once.
#[derive(Default)]
pub(crate) struct PeerSlots {
    slots: [OnceLock<(IpAddr, &'static str)>; SLOTS],
}

impl ServerSlots {
    /// `server.address` and `server.port` for the authority `raw`: shared when interned, else from
    /// `parse`, which reads a new authority as (text, address capped to its budget, port); `None` when
    /// it records nothing. An authority longer than an address's budget or carrying userinfo is never
    /// kept.
    pub(crate) fn value<'a>(
        &self,
        raw: &[u8],
        parse: impl FnOnce() -> Option<(&'a str, &'a str, Option<u16>)>,
    ) -> Option<(StringValue, Option<u16>)> {
        for slot in &self.slots {
            match slot.get() {
                Some(server) if server.authority.as_bytes() == raw => {
                    return Some((StringValue::from(server.address), server.port));
                }
                Some(_) => {}
                None => break,
            }
        }
        let (authority, address, port) = parse()?;
        Some(match self.intern(authority, address, port) {
            Some(server) => (StringValue::from(server.address), server.port),
            None => (StringValue::from(address.to_owned()), port),
        })
    }

    fn intern(&self, authority: &str, address: &str, port: Option<u16>) -> Option<Server> {
        if authority.len() > caps::SERVER_ADDRESS || authority.contains('@') {
            return None;
        }
        for slot in &self.slots {
            let server = match slot.get() {
                Some(server) => *server,
                None => {
                    let interned = Server {
                        authority: REQUEST_VALUES.intern(authority)?,
                        address: REQUEST_VALUES.intern(address)?,
                        port,
                    };
                    // Another thread may fill the slot first, with this authority or another one.
                    *slot.get_or_init(|| interned)
                }
            };
            if server.authority == authority {
                return Some(server);
            }
        }
        None
    }

    fn len(&self) -> usize {
        self.slots.iter().filter(|slot| slot.get().is_some()).count()
    }
}

impl TextSlots {
    /// The interned text whose bytes are `raw`, if any, without interning anything.
    pub(crate) fn find(&self, raw: &[u8]) -> Option<StringValue> {
        let interned = self.slots.iter().map_while(OnceLock::get).find(|text| text.as_bytes() == raw)?;
        Some(StringValue::from(*interned))
    }

    /// `value` as a span attribute value: shared when interned, else copied.
    pub(crate) fn value(&self, value: &str) -> StringValue {
        match self.get(value) {
            Some(interned) => StringValue::from(interned),
            None => StringValue::from(value.to_owned()),
        }
    }

    /// The interned `value`, interning it into a free slot on first sight; `None` when every slot
    /// holds another value or the budget is spent.
    fn get(&self, value: &str) -> Option<&'static str> {
        for slot in &self.slots {
            let text = match slot.get() {
                Some(text) => *text,
                None => {
                    let interned = REQUEST_VALUES.intern(value)?;
                    // Another thread may fill the slot first, with this value or another one.
                    *slot.get_or_init(|| interned)
                }
            };
            if text.len() == value.len() && text == value {
                return Some(text);
            }
        }
        None
    }

    fn len(&self) -> usize {
        self.slots.iter().filter(|slot| slot.get().is_some()).count()
    }
}

impl PeerSlots {
    /// The peer's address as text: shared when interned, else written for this request (once for
    /// both attributes that carry it).
    pub(crate) fn value(&self, ip: IpAddr) -> StringValue {
        for slot in &self.slots {
            let (address, text) = match slot.get() {
                Some(entry) => *entry,
                None => {
                    let Some(text) = REQUEST_VALUES.intern(IpText::new(ip).as_str()) else { break };
                    *slot.get_or_init(|| (ip, text))
                }
            };
            if address == ip {
                return StringValue::from(text);
            }
        }
        StringValue::from(Arc::<str>::from(IpText::new(ip).as_str()))
    }

    fn len(&self) -> usize {
        self.slots.iter().filter(|slot| slot.get().is_some()).count()
    }
}

/// An address as text, as the standard library writes it; an IPv4 address digit by digit on the
/// stack (no formatter).
enum IpText {
    V4 { text: [u8; 15], len: usize },
    V6(String),
}

impl IpText {
    fn new(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(ip) => {
                let mut text = [0_u8; 15];
                let mut len = 0;
                for (index, octet) in ip.octets().into_iter().enumerate() {
                    if index > 0 {
                        text[len] = b'.';
                        len += 1;
                    }
                    len += write_octet(octet, &mut text[len..]);
                }
                IpText::V4 { text, len }
            }
            IpAddr::V6(ip) => IpText::V6(ip.to_string()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Digits and dots only: always UTF-8.
            IpText::V4 { text, len } => std::str::from_utf8(&text[..*len]).unwrap_or_default(),
            IpText::V6(text) => text,
        }
    }
}

/// Writes `octet` in decimal at the start of `out`; returns the number of digits.
fn write_octet(octet: u8, out: &mut [u8]) -> usize {
    let digits = [octet / 100, octet / 10 % 10, octet % 10];
    let skip = if octet >= 100 {
        0
    } else if octet >= 10 {
        1
    } else {
        2
    };
    for (slot, digit) in out.iter_mut().zip(&digits[skip..]) {
        *slot = b'0' + digit;
    }
    3 - skip
}

impl Clone for RequestValues {
    /// An empty cache: a builder method copies the configuration before any request.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl fmt::Debug for RequestValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestValues")
            .field("servers", &self.servers.len())
            .field("user_agents", &self.user_agents.len())
            .field("peers", &self.peers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_shared(value: &StringValue, interned: &'static str) -> bool {
        std::ptr::eq(value.as_str().as_ptr(), interned.as_ptr())
    }

    #[test]
    fn a_repeated_value_is_shared_and_a_ninth_is_copied() {
        let slots = TextSlots::default();
        let first = slots.value("request-values-test/1");
        let interned = slots.get("request-values-test/1").expect("interned");
        assert!(
            is_shared(&first, interned) && is_shared(&slots.value(&String::from("request-values-test/1")), interned)
        );
        for index in 2..=SLOTS {
            assert_eq!(
                slots.value(&format!("request-values-test/{index}")).as_str(),
                format!("request-values-test/{index}")
            );
        }
        assert_eq!(slots.len(), SLOTS);
        let ninth = slots.value("request-values-test/9");
        assert_eq!(ninth.as_str(), "request-values-test/9", "copied, same text");
        assert_eq!(slots.get("request-values-test/9"), None);
        assert_eq!(slots.len(), SLOTS, "no slot was replaced");
    }

    #[test]
    fn raw_values_find_only_what_was_interned() {
        let slots = TextSlots::default();
        assert_eq!(slots.find(b"request-values-find/1"), None, "nothing interned yet");
        let interned = slots.value("request-values-find/1");
        let found = slots.find(b"request-values-find/1").expect("interned");
        assert!(std::ptr::eq(found.as_str().as_ptr(), interned.as_str().as_ptr()));
        assert_eq!(slots.find(b"request-values-find/"), None, "a prefix");
        assert_eq!(slots.find(b"request-values-find/12"), None);
        assert_eq!(slots.len(), 1, "finding interns nothing");
    }

    #[test]
    fn authorities_are_interned_with_what_they_record_and_parsed_once() {
        let servers = ServerSlots::default();
        let parsed = std::cell::Cell::new(0);
        let parse = |authority: &'static str, address: &'static str, port| {
            let parsed = &parsed;
            move || {
                parsed.set(parsed.get() + 1);
                Some((authority, address, port))
            }
        };
        for _ in 0..3 {
            let (address, port) = servers
                .value(
                    b"request-values-server:8080",
                    parse("request-values-server:8080", "request-values-server", Some(8080)),
                )
                .expect("recorded");
            assert_eq!((address.as_str(), port), ("request-values-server", Some(8080)));
        }
        assert_eq!(parsed.get(), 1, "a known authority is not parsed again");
        let credentials = servers.value(b"user:pw@host:1", parse("user:pw@host:1", "host", Some(1)));
        assert_eq!(
            credentials.map(|(address, port)| (address.as_str().to_owned(), port)),
            Some(("host".into(), Some(1)))
        );
        assert_eq!(servers.len(), 1, "an authority with userinfo is never kept");
        assert_eq!(servers.value(b"bad:port", || None), None);
        for index in 0..SLOTS + 2 {
            let authority: &'static str = Box::leak(format!("request-values-server-{index}").into_boxed_str());
            let (address, port) =
                servers.value(authority.as_bytes(), parse(authority, authority, None)).expect("recorded");
            assert_eq!((address.as_str(), port), (authority, None));
        }
        assert_eq!(servers.len(), SLOTS);
    }

    #[test]
    fn a_prefix_is_not_a_match() {
        let slots = TextSlots::default();
        assert_eq!(slots.value("curl/8.1").as_str(), "curl/8.1");
        assert_eq!(slots.value("curl/8").as_str(), "curl/8");
        assert_eq!(slots.value("").as_str(), "");
    }

    #[test]
    fn addresses_are_written_as_the_standard_library_writes_them() {
        for ip in ["0.0.0.0", "127.0.0.1", "10.20.30.40", "255.255.255.255", "1.2.3.4", "::1", "2001:db8::7"] {
            let ip: IpAddr = ip.parse().expect("valid address");
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
    }

    #[test]
    fn peers_are_interned_up_to_the_slots_then_written_per_request() {
        let peers = PeerSlots::default();
        let addresses: Vec<IpAddr> = ["127.0.0.1", "10.20.30.40", "::1", "2001:db8::7", "0.0.0.0", "255.255.255.255"]
            .iter()
            .map(|ip| ip.parse().expect("valid address"))
            .collect();
        for _ in 0..2 {
            for ip in &addresses {
                assert_eq!(peers.value(*ip).as_str(), ip.to_string());
            }
        }
        assert_eq!(peers.len(), addresses.len());
        for last in 0..SLOTS as u8 {
            let ip = IpAddr::from([192, 0, 2, last]);
            assert_eq!(peers.value(ip).as_str(), ip.to_string());
        }
        assert_eq!(peers.len(), SLOTS);
    }
}
