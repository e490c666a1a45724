//! What a tick saw happen, for a host's metrics: counts and durations kept
//! as plain numbers in the tick's output. The engine reads no clock: a
//! threaded host injects a [`Stopwatch`] to time routing and reservation
//! round trips; the serial cluster and the simulator give none, stay
//! deterministic and record no durations.

use orch_config::Millis;

use crate::msg::ActorRef;

/// A monotonic nanosecond source (only differences between two readings
/// mean anything).
pub type Stopwatch = fn() -> u64;

/// The actor kinds, in the order of [`TickFacts::handled`] and
/// [`TickFacts::waiting`].
pub const KINDS: [&str; 5] = ["order", "cell", "facility", "desk", "hold"];

/// The index of `to`'s kind in [`KINDS`].
pub fn kind_index(to: ActorRef) -> usize {
    match to {
        ActorRef::Order(_) => 0,
        ActorRef::Cells(_) => 1,
        ActorRef::Facility(_) => 2,
        ActorRef::Desk(_) => 3,
        ActorRef::Hold(_) => 4,
    }
}

/// Counts and durations of one tick.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickFacts {
    /// Messages handled, by addressee kind ([`KINDS`]).
    pub handled: [u32; 5],
    /// Messages waiting after the tick (inbox and peer batches), by kind.
    pub waiting: [u32; 5],
    /// Unit requests a cell granted (reservations and holds).
    pub reserved: u32,
    /// Unit requests a cell refused because they would have oversold.
    pub short: u32,
    /// Unit requests a cell refused as invalid (zero units, line already
    /// reserved there).
    pub refused: u32,
    /// Time to plan each route, in ns (with a stopwatch only).
    pub route_ns: Vec<u64>,
    /// Each reservation round trip as its order saw it, from sending the
    /// request to the cells' answer, in ns (with a stopwatch only).
    pub reserve_ns: Vec<u64>,
    /// Ship scans applied: the order's placement time and the scan's time.
    pub shipped: Vec<(Millis, Millis)>,
    /// Delivered scans applied: the order's placement time and the scan's.
    pub delivered: Vec<(Millis, Millis)>,
}
