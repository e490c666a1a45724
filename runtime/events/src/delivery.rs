//! Webhook delivery for one endpoint, as a plain state machine: which
//! events to attempt now, what a result changes, when to wake up next.
//!
//! - **Per-order order.** One order's events reach the endpoint in
//!   `order_seq` order: only the oldest pending event of an order may be
//!   in flight or attempted. Different orders' events go concurrently, so a
//!   stuck order never stalls the rest.
//! - **Retries** follow [`RETRY_SCHEDULE_MS`] with ±20% jitter (the
//!   caller's random number comes in, so tests are exact). After the last
//!   attempt fails the endpoint is [`EndpointStatus::Disabled`].
//! - **Bounded.** At most [`DeliveryLimits::in_flight_max`] requests are
//!   outstanding and at most [`DeliveryLimits::pending_max`] events are
//!   taken from the feed and not yet delivered. When that is full the
//!   endpoint is [`EndpointStatus::Paused`]: it stops reading the feed, and
//!   reads on from where it stopped once deliveries make room. Nothing is
//!   dropped: the feed holds what the endpoint has not taken yet.
//! - **Durable cursor.** [`Endpoint::cursor`] is the highest `seq` such that
//!   every event up to it was delivered or is not of the endpoint's types.
//!   The caller journals it; after a restart delivery resumes from it, so a
//!   crash can repeat a delivery but never lose one.
//!
//! What it never does: the HTTP request, the clock, the randomness, or the
//! journal. Those are the caller's.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use orch_config::Millis;

use crate::envelope::Event;
use crate::kind::TypeSet;

/// Delays before the retries of a failed attempt: about 5 s, 30 s, 2 min,
/// 10 min, 30 min, 1 h, 2 h and 4 h (9 attempts in all).
pub const RETRY_SCHEDULE_MS: [Millis; 8] = [
    5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000,
];

/// Attempts an event gets before the endpoint is disabled.
pub const ATTEMPTS_MAX: u32 = RETRY_SCHEDULE_MS.len() as u32 + 1;

/// Bounds of one endpoint's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryLimits {
    /// Requests outstanding at once.
    pub in_flight_max: usize,
    /// Events taken from the feed and not delivered yet.
    pub pending_max: usize,
}

impl Default for DeliveryLimits {
    /// 16 in flight, 10,000 pending.
    fn default() -> Self {
        DeliveryLimits {
            in_flight_max: 16,
            pending_max: 10_000,
        }
    }
}

/// Where an endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    /// Delivering.
    Active,
    /// Its pending events are at the limit: it reads no more of the feed
    /// until deliveries make room.
    Paused,
    /// An event failed its last attempt: nothing is attempted until the
    /// endpoint is enabled again.
    Disabled,
    /// Registered with `enabled: false`.
    Off,
}

impl EndpointStatus {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Active => "active",
            EndpointStatus::Paused => "paused_pending_limit",
            EndpointStatus::Disabled => "disabled_after_failures",
            EndpointStatus::Off => "off",
        }
    }
}

/// One attempt to make now.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The event.
    pub event: Arc<Event>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

#[derive(Debug)]
struct Pending {
    event: Arc<Event>,
    attempts: u32,
    next_at: Millis,
    in_flight: bool,
}

/// One webhook endpoint's delivery state.
#[derive(Debug)]
pub struct Endpoint {
    types: TypeSet,
    limits: DeliveryLimits,
    status: EndpointStatus,
    cursor: u64,
    read: u64,
    pending: BTreeMap<u64, Pending>,
    /// Pending seqs per order, oldest first.
    queues: HashMap<Arc<str>, VecDeque<u64>>,
    in_flight: usize,
    failures_in_row: u32,
    last_attempt_at: Option<Millis>,
}

impl Endpoint {
    /// An endpoint that delivers the events after `cursor` whose type is in `types`.
    pub fn new(types: TypeSet, enabled: bool, cursor: u64, limits: DeliveryLimits) -> Endpoint {
        Endpoint {
            types,
            limits,
            status: if enabled {
                EndpointStatus::Active
            } else {
                EndpointStatus::Off
            },
            cursor,
            read: cursor,
            pending: BTreeMap::new(),
            queues: HashMap::new(),
            in_flight: 0,
            failures_in_row: 0,
            last_attempt_at: None,
        }
    }

    /// Where it stands.
    pub fn status(&self) -> EndpointStatus {
        self.status
    }

    /// Every event up to this `seq` was delivered or is not for this endpoint.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Failed attempts since the last success.
    pub fn failures_in_row(&self) -> u32 {
        self.failures_in_row
    }

    /// When the last attempt started.
    pub fn last_attempt_at(&self) -> Option<Millis> {
        self.last_attempt_at
    }

    /// Events taken and not delivered, and requests outstanding.
    pub fn backlog(&self) -> (usize, usize) {
        (self.pending.len(), self.in_flight)
    }

    /// The `seq` after which it wants events from the feed, and how many it
    /// can take now (`None` when it takes none: paused, disabled or off).
    pub fn wants(&self) -> Option<(u64, usize)> {
        let room = self.limits.pending_max.saturating_sub(self.pending.len());
        match self.status {
            EndpointStatus::Active if room > 0 => Some((self.read, room)),
            _ => None,
        }
    }

    /// Offers the feed's next event (`seq` = the `read` of [`Endpoint::wants`] + 1).
    /// Returns whether it was taken; an event it cannot take now (paused,
    /// disabled, off, or not the next one) is left in the feed for later.
    pub fn offer(&mut self, event: &Arc<Event>, now: Millis) -> bool {
        if event.seq != self.read + 1 || !matches!(self.status, EndpointStatus::Active) {
            return false;
        }
        if !self.types.contains(event.kind) {
            self.read = event.seq;
            self.advance_cursor();
            return true;
        }
        if self.pending.len() >= self.limits.pending_max {
            self.status = EndpointStatus::Paused;
            return false;
        }
        self.read = event.seq;
        self.pending.insert(
            event.seq,
            Pending {
                event: event.clone(),
                attempts: 0,
                next_at: now,
                in_flight: false,
            },
        );
        if let Some(order) = &event.order_id {
            self.queues
                .entry(order.clone())
                .or_default()
                .push_back(event.seq);
        }
        if self.pending.len() >= self.limits.pending_max {
            self.status = EndpointStatus::Paused;
        }
        true
    }

    /// Whether `seq` is the oldest pending event of its order (or has none).
    fn is_head(&self, p: &Pending) -> bool {
        match &p.event.order_id {
            Some(order) => self.queues.get(order).and_then(|q| q.front()) == Some(&p.event.seq),
            None => true,
        }
    }

    /// The attempts to start now, oldest first, within the in-flight limit.
    pub fn due(&mut self, now: Millis) -> Vec<Attempt> {
        if matches!(self.status, EndpointStatus::Disabled | EndpointStatus::Off) {
            return Vec::new();
        }
        let room = self.limits.in_flight_max.saturating_sub(self.in_flight);
        let seqs: Vec<u64> = self
            .pending
            .values()
            .filter(|p| !p.in_flight && p.next_at <= now && self.is_head(p))
            .take(room)
            .map(|p| p.event.seq)
            .collect();
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let p = self.pending.get_mut(&seq).expect("selected from pending");
            p.in_flight = true;
            p.attempts += 1;
            out.push(Attempt {
                event: p.event.clone(),
                attempt: p.attempts,
            });
        }
        if !out.is_empty() {
            self.in_flight += out.len();
            self.last_attempt_at = Some(now);
        }
        out
    }

    /// The result of an attempt at `seq`: `delivered` for a 2xx within the
    /// timeout. `jitter` is a random number in `[0, 1)` for the back-off.
    pub fn on_result(&mut self, seq: u64, delivered: bool, now: Millis, jitter: f64) {
        let Some(p) = self.pending.get_mut(&seq).filter(|p| p.in_flight) else {
            return;
        };
        p.in_flight = false;
        self.in_flight -= 1;
        if delivered {
            let p = self.pending.remove(&seq).expect("present");
            if let Some(order) = &p.event.order_id {
                if let Some(q) = self.queues.get_mut(order) {
                    q.pop_front();
                    if q.is_empty() {
                        self.queues.remove(order);
                    }
                }
            }
            self.failures_in_row = 0;
            self.advance_cursor();
            if self.status == EndpointStatus::Paused && self.pending.len() < self.limits.pending_max
            {
                self.status = EndpointStatus::Active;
            }
            return;
        }
        self.failures_in_row += 1;
        match RETRY_SCHEDULE_MS.get(p.attempts as usize - 1) {
            Some(&delay) => {
                let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
                p.next_at = now + (delay as f64 * factor) as Millis;
            }
            None => self.status = EndpointStatus::Disabled,
        }
    }

    /// When the next attempt falls due (`None`: nothing is waiting on time).
    pub fn next_wake(&self) -> Option<Millis> {
        if !matches!(self.status, EndpointStatus::Active | EndpointStatus::Paused) {
            return None;
        }
        self.pending
            .values()
            .filter(|p| !p.in_flight && self.is_head(p))
            .map(|p| p.next_at)
            .min()
    }

    /// Enables (a disabled endpoint starts over: attempts counted afresh) or
    /// turns the endpoint off.
    pub fn set_enabled(&mut self, enabled: bool, now: Millis) {
        if !enabled {
            self.status = EndpointStatus::Off;
            return;
        }
        if matches!(self.status, EndpointStatus::Disabled | EndpointStatus::Off) {
            self.failures_in_row = 0;
            for p in self.pending.values_mut() {
                // An attempt still in flight counts as the first of the new run.
                p.attempts = u32::from(p.in_flight);
                p.next_at = now;
            }
            self.status = if self.pending.len() >= self.limits.pending_max {
                EndpointStatus::Paused
            } else {
                EndpointStatus::Active
            };
        }
    }

    fn advance_cursor(&mut self) {
        self.cursor = match self.pending.keys().next() {
            Some(&oldest) => oldest - 1,
            None => self.read,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Draft;
    use crate::kind::EventType;
    use serde_json::json;

    fn event(seq: u64, order: &str, kind: EventType) -> Arc<Event> {
        Arc::new(Event::new(
            Draft {
                kind,
                order_id: Some(Arc::from(order)),
                at: 0,
                data: json!({}),
            },
            seq,
            Some(1),
        ))
    }

    fn shipped(seq: u64, order: &str) -> Arc<Event> {
        event(seq, order, EventType::FulfillmentShipped)
    }

    fn seqs(a: &[Attempt]) -> Vec<u64> {
        a.iter().map(|a| a.event.seq).collect()
    }

    fn endpoint(limits: DeliveryLimits) -> Endpoint {
        Endpoint::new(TypeSet::ALL, true, 0, limits)
    }

    #[test]
    fn one_orders_events_wait_for_each_other_and_other_orders_go_on() {
        let mut e = endpoint(DeliveryLimits::default());
        for (s, o) in [(1, "a"), (2, "a"), (3, "b"), (4, "a"), (5, "b")] {
            assert!(e.offer(&shipped(s, o), 0));
        }
        assert_eq!(seqs(&e.due(0)), [1, 3]);
        e.on_result(1, false, 0, 0.5);
        e.on_result(3, true, 0, 0.5);
        // b moves on; a is stuck behind its failed head.
        assert_eq!(seqs(&e.due(0)), [5]);
        assert_eq!(e.cursor(), 0);
        e.on_result(5, true, 0, 0.5);
        assert_eq!(seqs(&e.due(4_999)), Vec::<u64>::new());
        assert_eq!(e.next_wake(), Some(5_000));
        assert_eq!(seqs(&e.due(5_000)), [1]);
        e.on_result(1, true, 5_000, 0.5);
        assert_eq!(e.cursor(), 1);
        assert_eq!(seqs(&e.due(5_000)), [2]);
        e.on_result(2, true, 5_000, 0.5);
        assert_eq!(seqs(&e.due(5_000)), [4]);
        e.on_result(4, true, 5_000, 0.5);
        assert_eq!(e.cursor(), 5);
        assert_eq!(e.backlog(), (0, 0));
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_then_the_endpoint_is_disabled() {
        let mut e = endpoint(DeliveryLimits::default());
        e.offer(&shipped(1, "a"), 0);
        let mut now = 0;
        for (i, &delay) in RETRY_SCHEDULE_MS.iter().enumerate() {
            let a = e.due(now);
            assert_eq!(a.len(), 1);
            assert_eq!(a[0].attempt, i as u32 + 1);
            // jitter 0 is the earliest: 80% of the delay; 1 would be 120%.
            e.on_result(1, false, now, 0.0);
            let earliest = now + delay * 8 / 10;
            assert_eq!(e.next_wake(), Some(earliest));
            assert!(e.due(earliest - 1).is_empty());
            now = earliest;
        }
        assert_eq!(e.due(now)[0].attempt, ATTEMPTS_MAX);
        e.on_result(1, false, now, 0.0);
        assert_eq!(e.status(), EndpointStatus::Disabled);
        assert_eq!(e.failures_in_row(), ATTEMPTS_MAX);
        assert!(e.due(now + 100_000_000).is_empty());
        assert_eq!(e.next_wake(), None);
        // Nothing was dropped: enabling again starts over from the same event.
        e.set_enabled(true, now);
        assert_eq!(e.due(now)[0].attempt, 1);
        assert_eq!(e.cursor(), 0);

        let mut late = endpoint(DeliveryLimits::default());
        late.offer(&shipped(1, "a"), 0);
        late.due(0);
        late.on_result(1, false, 0, 0.999_999);
        assert_eq!(late.next_wake(), Some(5_999));
    }

    #[test]
    fn in_flight_and_pending_are_bounded_and_nothing_is_dropped() {
        let mut e = endpoint(DeliveryLimits {
            in_flight_max: 2,
            pending_max: 3,
        });
        let mut seq = 0;
        let mut offer_all = |e: &mut Endpoint| {
            let mut taken = 0;
            while let Some((after, room)) = e.wants() {
                assert_eq!(after, seq);
                assert!(room > 0);
                seq += 1;
                assert!(e.offer(&shipped(seq, &format!("o{seq}")), 0));
                taken += 1;
            }
            taken
        };
        assert_eq!(offer_all(&mut e), 3);
        assert_eq!(e.status(), EndpointStatus::Paused);
        assert!(
            !e.offer(&shipped(4, "o4"), 0),
            "a paused endpoint takes nothing"
        );
        let a = e.due(0);
        assert_eq!(seqs(&a), [1, 2], "two in flight at most");
        assert!(e.due(0).is_empty());
        e.on_result(1, true, 0, 0.0);
        assert_eq!(e.status(), EndpointStatus::Active);
        assert_eq!(offer_all(&mut e), 1, "it reads on from seq 4, no gap");
        assert_eq!(seqs(&e.due(0)), [3]);
    }

    #[test]
    fn other_types_advance_the_cursor_without_a_delivery() {
        let mut e = Endpoint::new(
            TypeSet::of(&[EventType::FulfillmentShipped]),
            true,
            10,
            DeliveryLimits::default(),
        );
        assert!(e.offer(&event(11, "a", EventType::OrderPlaced), 0));
        assert_eq!(e.cursor(), 11);
        assert!(e.offer(&shipped(12, "a"), 0));
        assert!(e.offer(&event(13, "a", EventType::OrderCancelled), 0));
        assert_eq!(e.cursor(), 11, "12 is not delivered yet");
        assert!(!e.offer(&shipped(15, "a"), 0), "14 comes first");
        let a = e.due(0);
        e.on_result(a[0].event.seq, true, 0, 0.0);
        assert_eq!(e.cursor(), 13);
    }

    #[test]
    fn enabling_again_while_an_attempt_is_in_flight_counts_it_as_the_first() {
        // Found by the delivery property test: the reset used to set an
        // in-flight event's attempts to 0, and its failure then underflowed.
        let mut e = endpoint(DeliveryLimits::default());
        e.offer(&shipped(1, "a"), 0);
        e.offer(&shipped(2, "b"), 0);
        let now = 0;
        let first = e.due(now);
        assert_eq!(seqs(&first), [1, 2]);
        // 2 stays in flight on its first attempt; 1 fails until the endpoint is disabled.
        let mut now = 0;
        e.on_result(1, false, now, 0.0);
        while e.status() != EndpointStatus::Disabled {
            now = e.next_wake().expect("1 waits for its retry");
            for a in e.due(now) {
                e.on_result(a.event.seq, false, now, 0.0);
            }
        }
        e.set_enabled(true, now);
        e.on_result(2, false, now, 0.0);
        assert_eq!(e.status(), EndpointStatus::Active);
        assert_eq!(e.next_wake(), Some(now));
        let a = e.due(now + RETRY_SCHEDULE_MS[0]);
        assert_eq!(
            a.iter().find(|a| a.event.seq == 2).map(|a| a.attempt),
            Some(2)
        );
    }

    #[test]
    fn an_endpoint_that_is_off_takes_and_attempts_nothing() {
        let mut e = Endpoint::new(TypeSet::ALL, false, 0, DeliveryLimits::default());
        assert_eq!(e.wants(), None);
        assert!(!e.offer(&shipped(1, "a"), 0));
        e.set_enabled(true, 0);
        assert!(e.offer(&shipped(1, "a"), 0));
        e.set_enabled(false, 0);
        assert!(e.due(0).is_empty());
    }
}
