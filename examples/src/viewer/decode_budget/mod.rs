//! How much memory an OTLP request would take once decoded, estimated from its (decompressed) bytes before
//! decoding it, and refused past [`MAX_DECODED_BYTES`](super::MAX_DECODED_BYTES). Decoding amplifies: an empty
//! span is 2 bytes of protobuf (or 3 of JSON, `{},`) and a few hundred bytes of struct, so a 16 MiB request can
//! decode to gigabytes before anything downstream sees it.
//!
//! The estimate: for every element of a repeated message the size of its decoded struct, the bytes of every
//! string and byte field, every packed number at its decoded width, and for OTLP/JSON the nodes serde buffers on
//! the way while they are alive (`schema` says where); a list's first element counts [`FIRST_ALLOCATION`] times,
//! as a vector's first allocation holds that many. What the decode allocates stays below twice the estimate
//! (vectors grow by doubling; allocator overhead aside). One walk over the bytes, stopped as soon as the budget is passed; messages
//! nest at most [`MAX_DEPTH`] deep.

mod json;
mod protobuf;
mod schema;

pub use schema::{Message, LOGS, METRICS, TRACES};

/// Messages nested deeper than this are refused (an `AnyValue` can nest through arrays and key-value lists
/// without end; realistic data stays far below).
pub const MAX_DEPTH: usize = 32;

/// Elements a vector allocates room for when the first one is pushed (the standard library's minimum non-zero
/// capacity for elements of 2 to 1,024 bytes, which every OTLP struct, number and `String` is).
pub const FIRST_ALLOCATION: usize = 4;

/// Why a request is not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Its decoded form would exceed the budget (HTTP 413, gRPC `RESOURCE_EXHAUSTED`).
    TooLarge { budget: usize },
    /// Its bytes are not the message (HTTP 400, gRPC `INTERNAL` as for any undecodable message).
    Malformed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooLarge { budget } => {
                write!(f, "the request would take more than {budget} bytes once decoded; send smaller batches")
            }
            Refusal::Malformed(reason) => f.write_str(reason),
        }
    }
}

/// The estimated decoded size of the protobuf message `root` in `bytes`, or why it is refused.
pub fn protobuf(bytes: &[u8], root: &'static Message, budget: usize) -> Result<usize, Refusal> {
    let mut meter = Meter::new(budget);
    protobuf::walk(bytes, root, &mut meter)?;
    Ok(meter.peak)
}

/// The estimated decoded size of the OTLP/JSON message `root` in `bytes` (with what serde buffers on the way at
/// its largest), or why it is refused.
pub fn json(bytes: &[u8], root: &'static Message, budget: usize) -> Result<usize, Refusal> {
    json::walk(bytes, root, Meter::new(budget))
}

/// What the walk has counted so far, against the budget: what the decoded request keeps, and what serde's
/// buffers hold meanwhile (a buffer lives until the struct it serves is decoded; all of those open at once are
/// counted together).
#[derive(Debug)]
struct Meter {
    kept: usize,
    buffered: usize,
    /// The most `kept + buffered` has been: the estimate.
    peak: usize,
    budget: usize,
}

impl Meter {
    fn new(budget: usize) -> Meter {
        Meter { kept: 0, buffered: 0, peak: 0, budget }
    }

    fn keep(&mut self, bytes: usize) -> Result<(), Refusal> {
        self.kept = self.kept.saturating_add(bytes);
        self.check()
    }

    fn buffer(&mut self, bytes: usize) -> Result<(), Refusal> {
        self.buffered = self.buffered.saturating_add(bytes);
        self.check()
    }

    /// No buffer is open any more.
    fn release(&mut self) {
        self.buffered = 0;
    }

    fn check(&mut self) -> Result<(), Refusal> {
        self.peak = self.peak.max(self.kept.saturating_add(self.buffered));
        if self.peak > self.budget {
            return Err(Refusal::TooLarge { budget: self.budget });
        }
        Ok(())
    }
}

fn too_deep() -> Refusal {
    Refusal::Malformed(format!("messages nested more than {MAX_DEPTH} deep"))
}
