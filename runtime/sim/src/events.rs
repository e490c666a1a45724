//! Events out in the simulator: the feed derived from the simulated
//! disk's durable entries as the runtime's tail derives it (the shared
//! [`orch_events::mirror::Mirror`], [`orch_events::feed::Feed`]), saved
//! batch by batch to the simulated event store ([`crate::store`]) as the
//! runtime's tail saves it, brought back from the store at every restart,
//! and its checks against the simulator's book.
//!
//! Each event is kept with the journal position of the entry it came
//! from. A restart loads the store's kept events (with their `seq` and
//! `order_seq`), seeds the mirror with the snapshot's orders counted as
//! far as the kept events before the snapshot's position go, and applies
//! the journal after it: entries the store covers only move the mirror,
//! later ones emit again. The feed after a restart must equal the old one
//! for every event whose entry is durable: same seq, same `order_seq`, no
//! renumbering, every old cursor still served (no 410).
//!
//! What it never does: read the core's ledgers; it reads durable journal
//! entries (as the runtime's tail does) and the book.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use orch_actors::hold::HoldState;
use orch_actors::log::LogEntry;
use orch_actors::order::{OrderState, ScanKind};
use orch_actors::{FacilityIdx, OrderNo, SkuIdx};
use orch_config::{Config, Millis};
use orch_events::derive::Names;
use orch_events::feed::{Feed, Retention};
use orch_events::mirror::Mirror;
use orch_events::{Event, EventType, TypeSet};

use crate::book::Book;
use crate::store::{EventStore, Kept};

/// A snapshot's orders and holds, as a restart seeds the mirror with them.
pub type Snapshot<'a> = (
    &'a mut dyn Iterator<Item = &'a OrderState>,
    &'a mut dyn Iterator<Item = &'a HoldState>,
);

/// Client ids of the network's facilities and SKUs, as the runtime's
/// catalog names them.
#[derive(Debug, Clone)]
pub struct Ids {
    facilities: Vec<Arc<str>>,
    skus: Vec<Arc<str>>,
}

impl Ids {
    /// The ids of `cfg`'s network.
    pub fn of(cfg: &Config) -> Ids {
        Ids {
            facilities: cfg
                .network
                .facilities
                .iter()
                .map(|f| Arc::from(f.id.as_str()))
                .collect(),
            skus: cfg
                .network
                .skus
                .iter()
                .map(|s| Arc::from(s.as_str()))
                .collect(),
        }
    }
}

impl Names for Ids {
    fn facility(&self, f: FacilityIdx) -> &str {
        self.facilities.get(usize::from(f.0)).map_or("?", |s| s)
    }

    fn sku(&self, s: SkuIdx) -> &str {
        self.skus.get(s.0 as usize).map_or("?", |s| s)
    }
}

/// One event and the journal position of the entry it came from.
#[derive(Debug, Clone)]
struct Placed {
    pos: usize,
    /// When the tail derived it.
    at: Millis,
    event: Arc<Event>,
    /// The fulfillment its `fulfillment_id` names (`Err`: not one of its
    /// order's).
    fulfillment: Result<Option<u16>, ()>,
}

impl Placed {
    fn of(k: Kept) -> Placed {
        Placed {
            pos: k.pos,
            at: k.at,
            fulfillment: fulfillment_of(&k.event),
            event: k.event,
        }
    }

    fn kept(&self) -> Kept {
        Kept {
            pos: self.pos,
            at: self.at,
            event: self.event.clone(),
        }
    }
}

/// The fulfillment number `event`'s `fulfillment_id` names, if any.
fn fulfillment_of(event: &Event) -> Result<Option<u16>, ()> {
    let Some(fid) = event.data.get("fulfillment_id").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    let order_id = event.order_id.as_deref().unwrap_or_default();
    fid.strip_prefix(order_id)
        .and_then(|s| s.strip_prefix('/'))
        .and_then(|s| s.parse::<u16>().ok())
        .map(Some)
        .ok_or(())
}

/// What the events cost and what the store brought back, over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Events appended to the feed (derived again after a restart when
    /// the store did not cover their entry).
    pub derived: u64,
    /// Events the store brought back at restarts.
    pub restored: u64,
    /// Events a restart's replay derived but did not emit again (the
    /// store covered their entry).
    pub not_emitted: u64,
    /// Batches the store made durable.
    pub batches: u64,
}

/// Changes whose answer a power loss took: they may or may not have
/// become durable, so their events may be there once or not at all.
#[derive(Debug, Default)]
pub struct InDoubt {
    /// Cancels in flight at a power loss.
    pub cancels: BTreeSet<OrderNo>,
    /// Scans in flight at a power loss: order, fulfillment, kind.
    pub scans: BTreeMap<(OrderNo, u16, ScanKindKey), u32>,
}

/// A scan kind as a map key (its event type, or `None` for a pick, which
/// reports only the pick that completes its fulfillment).
pub type ScanKindKey = Option<EventType>;

/// The event a scan of `kind` reports when applied (`None`: a pick).
pub fn scan_event(kind: ScanKind) -> ScanKindKey {
    Some(match kind {
        ScanKind::Pick => return None,
        ScanKind::Pack => EventType::FulfillmentPacked,
        ScanKind::Ship => EventType::FulfillmentShipped,
        ScanKind::InTransit => EventType::FulfillmentInTransit,
        ScanKind::OutForDelivery => EventType::FulfillmentOutForDelivery,
        ScanKind::Delivered => EventType::FulfillmentDelivered,
        ScanKind::DeliveryException => EventType::FulfillmentException,
        ScanKind::ReturnReceived => EventType::ReturnReceived,
    })
}

/// The simulator's event tail: the mirror, the feed, the event store.
#[derive(Debug)]
pub struct EventTail {
    ids: Ids,
    mirror: Mirror,
    feed: Feed,
    /// Journal position of the next entry to take.
    fed: usize,
    /// The feed's events, oldest first.
    now: Vec<Placed>,
    /// How many of `now` were written to the store.
    saved: usize,
    /// Entries before this position had their events stored before the
    /// last restart: applied to the mirror without emitting.
    stored_upto: usize,
    store: EventStore,
    stats: EventStats,
    /// The deliberate bug: events of this type are never appended.
    dropped: Option<EventType>,
}

impl EventTail {
    /// A tail of an empty journal, naming with `ids`.
    pub fn new(ids: Ids) -> EventTail {
        EventTail {
            ids,
            mirror: Mirror::new(),
            feed: Feed::new(Retention::default(), 1),
            fed: 0,
            now: Vec::new(),
            saved: 0,
            stored_upto: 0,
            store: EventStore::default(),
            stats: EventStats::default(),
            dropped: None,
        }
    }

    /// Plants the deliberate bug: the tail drops every event of `kind`.
    pub fn drop_type(&mut self, kind: EventType) {
        self.dropped = Some(kind);
    }

    /// What the run cost and what the store brought back so far.
    pub fn stats(&self) -> EventStats {
        self.stats
    }

    /// Events in the feed.
    pub fn len(&self) -> usize {
        self.now.len()
    }

    /// Whether the feed is empty.
    pub fn is_empty(&self) -> bool {
        self.now.is_empty()
    }

    /// Journal position of the next entry the tail takes.
    pub fn fed(&self) -> usize {
        self.fed
    }

    /// Journal position whose entries before it have all their events
    /// durable in the store (how far a checkpoint may snapshot).
    pub fn covered(&self) -> usize {
        self.store.covered()
    }

    /// Failed store writes and fsyncs so far (retried).
    pub fn store_failures(&self) -> u64 {
        self.store.failures
    }

    /// Takes the entries of `journal` (whose first entry is at position
    /// `base`) up to position `upto`, as the journal hook hands durable
    /// batches to the runtime's tail; `now` dates facility events. An
    /// entry the store covered at the last restart only moves the mirror.
    pub fn take(&mut self, journal: &[LogEntry], base: usize, upto: usize, now: Millis) {
        while self.fed < upto {
            let Some(e) = self.fed.checked_sub(base).and_then(|i| journal.get(i)) else {
                break;
            };
            for (draft, order_seq) in self.mirror.apply(e, &self.ids, now) {
                if self.dropped == Some(draft.kind) {
                    continue;
                }
                if self.fed < self.stored_upto {
                    self.stats.not_emitted += 1;
                    continue;
                }
                let event = self.feed.append(draft, order_seq);
                self.now.push(Placed {
                    pos: self.fed,
                    at: now,
                    fulfillment: fulfillment_of(&event),
                    event,
                });
                self.stats.derived += 1;
            }
            self.fed += 1;
        }
    }

    /// One step of the store, as the runtime's tail saves after each
    /// batch: when no fsync runs and something was taken since the last
    /// batch, writes the events appended since (covering every entry
    /// taken) and starts its fsync; moves a running fsync on
    /// (`delay_max` steps at most, failing at `write_fail`, retried).
    pub fn save(&mut self, r: &mut rand_chacha::ChaCha8Rng, write_fail: f64, delay_max: u32) {
        if !self.store.busy() && self.fed > self.store.written() {
            let batch: Vec<Kept> = self.now[self.saved..].iter().map(Placed::kept).collect();
            if self.store.write(self.fed, &batch, r, write_fail, delay_max) {
                self.saved = self.now.len();
            }
        }
        if self.store.step(r, write_fail, delay_max).is_some() {
            self.stats.batches += 1;
        }
    }

    /// Power loss on the store's file; returns the torn bytes kept.
    pub fn power_loss(&mut self, r: &mut rand_chacha::ChaCha8Rng) -> usize {
        self.store.power_loss(r)
    }

    /// A restart: recovery replays `entries` from position `from` (after
    /// the snapshot holding `snapshot`'s orders and holds, when there is one). The
    /// feed comes back from the store and the replay, as the runtime's
    /// tail rebuilds it; every event of the old feed whose entry is
    /// durable must be in it the same (seq, `order_seq`, type, order,
    /// data, time), none may come from an entry the restart lost, and
    /// every old cursor must still be served.
    pub fn restart(
        &mut self,
        from: usize,
        snapshot: Option<Snapshot<'_>>,
        entries: &[LogEntry],
        now: Millis,
    ) -> Result<(), String> {
        let old = std::mem::take(&mut self.now);
        let old_last = self.feed.last_seq();
        let end = from + entries.len();
        if let Some(p) = old.iter().find(|p| p.pos >= end) {
            return Err(format!(
                "event {} ({}) came from journal entry {}, which the restart lost (it keeps entries before {end})",
                p.event.seq, p.event.kind, p.pos
            ));
        }
        let loaded = self.store.recover()?;
        self.stats.restored += loaded.events.len() as u64;
        self.mirror = Mirror::new();
        if let Some((orders, holds)) = snapshot {
            self.mirror.seed_counted(orders, &loaded.counts_upto(from));
            self.mirror.seed_holds(holds);
        }
        self.feed = Feed::new(Retention::default(), 1);
        for k in &loaded.events {
            self.feed.restore(k.event.clone(), k.at);
        }
        self.stored_upto = loaded.covered;
        self.now = loaded.events.into_iter().map(Placed::of).collect();
        self.saved = self.now.len();
        self.fed = from;
        self.take(entries, from, end, now);
        if let Some(p) = self.now.iter().find(|p| p.pos >= end) {
            return Err(format!(
                "event {} ({}) in the store came from journal entry {}, which the restart lost (it keeps entries before {end})",
                p.event.seq, p.event.kind, p.pos
            ));
        }
        // Every old event is back: first by entry and content, then in
        // place, numbered the same.
        let mut back: HashMap<(usize, EventType, Option<&str>), u32> = HashMap::new();
        for p in &self.now {
            *back
                .entry((p.pos, p.event.kind, p.event.order_id.as_deref()))
                .or_default() += 1;
        }
        for was in &old {
            let key = (was.pos, was.event.kind, was.event.order_id.as_deref());
            match back.get_mut(&key) {
                Some(n) if *n > 0 => *n -= 1,
                _ => {
                    return Err(format!(
                        "event {} ({}) of journal entry {} is not in the feed after the restart (the store covers {}, the restart replays from {from})",
                        was.event.seq, was.event.kind, was.pos, self.stored_upto
                    ))
                }
            }
        }
        for (was, is) in old.iter().zip(&self.now) {
            if let Some(why) = differs(was, is) {
                return Err(format!(
                    "event {} ({}) of journal entry {} is back as {} ({}) of entry {}: {why}",
                    was.event.seq, was.event.kind, was.pos, is.event.seq, is.event.kind, is.pos
                ));
            }
        }
        // Old cursors are still served: none answers gone (410).
        for cursor in [0, old.first().map_or(0, |p| p.event.seq), old_last] {
            if self.feed.page(Some(cursor), 1, TypeSet::ALL).is_err() {
                return Err(format!(
                    "the old feed's cursor {cursor} answers gone (410) after the restart (the feed keeps from {})",
                    self.feed.oldest_after()
                ));
            }
        }
        Ok(())
    }

    /// The checks at a quiescent point, against `book` (and the changes
    /// `doubt` holds, which may or may not have their events).
    pub fn check(&mut self, book: &Book, doubt: &InDoubt) -> Result<(), String> {
        // The feed: seq gap-free and increasing from 1.
        for (i, p) in self.now.iter().enumerate() {
            if p.event.seq != 1 + i as u64 {
                return Err(format!(
                    "feed seq {} at place {i}, expected {}",
                    p.event.seq,
                    1 + i as u64
                ));
            }
        }
        if self.feed.last_seq() != self.now.len() as u64 {
            return Err(format!(
                "the feed's last seq {} does not follow its {} events from 1",
                self.feed.last_seq(),
                self.now.len(),
            ));
        }
        let ids: HashMap<&str, OrderNo> = book
            .orders
            .iter()
            .map(|(no, (id, _))| (&**id, *no))
            .collect();
        // Per order: order_seq 1, 2, 3, ... in journal order, across
        // restarts (never counted again).
        let mut order_seq: HashMap<&str, u32> = HashMap::new();
        let mut count: BTreeMap<(OrderNo, Option<u16>, EventType), u32> = BTreeMap::new();
        for p in &self.now {
            let e = &p.event;
            let Some(order_id) = e.order_id.as_deref() else {
                let orderless = [EventType::FacilityStatusChanged, EventType::HoldExpired];
                if !orderless.contains(&e.kind) || e.order_seq.is_some() {
                    return Err(format!("event {} ({}) without an order", e.seq, e.kind));
                }
                continue;
            };
            let Some(&no) = ids.get(order_id) else {
                let why = if book.refused.iter().any(|r| &**r == order_id) {
                    "refused"
                } else {
                    "never acknowledged"
                };
                return Err(format!(
                    "event {} ({}) for order {order_id}, which was {why}",
                    e.seq, e.kind
                ));
            };
            let n = order_seq.entry(order_id).or_default();
            *n += 1;
            if e.order_seq != Some(*n) {
                return Err(format!(
                    "event {} ({}) of {order_id} has order_seq {:?}, expected {n}",
                    e.seq, e.kind, e.order_seq
                ));
            }
            let Ok(f) = p.fulfillment else {
                return Err(format!(
                    "event {} ({}) of {order_id} names fulfillment {}",
                    e.seq, e.kind, e.data["fulfillment_id"]
                ));
            };
            *count.entry((no, f, e.kind)).or_default() += 1;
        }
        let got = |no, f, kind| count.get(&(no, f, kind)).copied().unwrap_or(0);
        // Every acknowledged placement reported once; cancels once each.
        for (no, (id, _)) in &book.orders {
            if got(*no, None, EventType::OrderPlaced) != 1 {
                return Err(format!(
                    "acknowledged order {id}: {} order.placed events",
                    got(*no, None, EventType::OrderPlaced)
                ));
            }
            let cancelled = got(*no, None, EventType::OrderCancelled);
            let want = u32::from(book.cancelled.contains(no));
            let may = want.max(u32::from(doubt.cancels.contains(no)));
            if !(want..=may).contains(&cancelled) {
                return Err(format!(
                    "order {id}: {cancelled} order.cancelled events, {want} cancel acknowledged"
                ));
            }
        }
        // Every applied scan reported once; none that was not applied.
        let mut applied: BTreeMap<(OrderNo, u16, ScanKindKey), u32> = BTreeMap::new();
        for (no, s) in &book.scans {
            *applied
                .entry((*no, s.fulfillment, scan_event(s.kind)))
                .or_default() += 1;
        }
        let mut scanned: BTreeSet<(OrderNo, u16)> = BTreeSet::new();
        for &(no, f, kind) in count.keys() {
            if let Some(f) = f {
                if scan_event_kinds().contains(&kind) {
                    scanned.insert((no, f));
                }
            }
        }
        for &(no, f) in applied
            .keys()
            .map(|(no, f, _)| (*no, *f))
            .collect::<BTreeSet<_>>()
            .union(&scanned)
        {
            let id = &book.orders.get(&no).map_or("?".into(), |o| o.0.clone());
            for kind in scan_event_kinds() {
                let key = (no, f, Some(kind));
                let want = applied.get(&key).copied().unwrap_or(0);
                let may = want + doubt.scans.get(&key).copied().unwrap_or(0);
                let have = got(no, Some(f), kind);
                if !(want..=may).contains(&have) {
                    return Err(format!(
                        "{id}/{f}: {have} {kind} events, {want} such scans acknowledged as applied"
                    ));
                }
            }
            // A pick reports only when it completes the fulfillment: at
            // most once, after some applied pick, and before any pack.
            let picks = applied.get(&(no, f, None)).copied().unwrap_or(0)
                + doubt.scans.get(&(no, f, None)).copied().unwrap_or(0);
            let picked = got(no, Some(f), EventType::FulfillmentPicked);
            let packed = applied.contains_key(&(no, f, Some(EventType::FulfillmentPacked)));
            if picked > 1 || (picked == 1 && picks == 0) || (packed && picked == 0) {
                return Err(format!(
                    "{id}/{f}: {picked} fulfillment.picked events after {picks} picks (packed: {packed})"
                ));
            }
        }
        // Each fulfillment is routed once and released at most once.
        for (&(no, f, kind), &n) in &count {
            let once = matches!(
                kind,
                EventType::FulfillmentRouted | EventType::FulfillmentReleased
            );
            if f.is_some() && once && n > 1 {
                return Err(format!("fulfillment {}/{f:?}: {n} {kind} events", no.0));
            }
            if let (Some(f), true) = (f, scan_event_kinds().contains(&kind)) {
                if got(no, Some(f), EventType::FulfillmentRouted) != 1 {
                    return Err(format!(
                        "fulfillment {}/{f}: a {kind} event without its fulfillment.routed",
                        no.0
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The event types a scan reports (a pick's excepted).
fn scan_event_kinds() -> [EventType; 7] {
    [
        EventType::FulfillmentPacked,
        EventType::FulfillmentShipped,
        EventType::FulfillmentInTransit,
        EventType::FulfillmentOutForDelivery,
        EventType::FulfillmentDelivered,
        EventType::FulfillmentException,
        EventType::ReturnReceived,
    ]
}

/// How an event after a restart differs from the one it replaces, if it
/// does. A facility event is dated when the tail takes its entry (the
/// entry holds no time), so its `created_at` may differ when derived
/// again.
fn differs(was: &Placed, is: &Placed) -> Option<String> {
    let (a, b) = (&was.event, &is.event);
    if was.pos != is.pos {
        return Some(format!("entry {} for {}", is.pos, was.pos));
    }
    if a.kind != b.kind || a.order_id != b.order_id || a.data != b.data {
        return Some("another event".into());
    }
    if a.kind != EventType::FacilityStatusChanged && a.created_at != b.created_at {
        return Some(format!("created_at {} for {}", b.created_at, a.created_at));
    }
    if a.seq != b.seq {
        return Some(format!("seq {} for {}", b.seq, a.seq));
    }
    if a.order_seq != b.order_seq {
        return Some(format!("order_seq {:?} for {:?}", b.order_seq, a.order_seq));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_actors::order::{OrderEvent, OrderLine, PlaceRequest};
    use orch_config::ServiceLevel;

    const T: Millis = 1_795_737_600_000;

    fn ids() -> Ids {
        Ids {
            facilities: vec!["DC-1".into()],
            skus: vec!["SKU-1".into()],
        }
    }

    fn line() -> OrderLine {
        OrderLine {
            sku: SkuIdx(0),
            qty: 1,
        }
    }

    /// `o-1` placed as order 1 and backordered: `order.placed` and
    /// `order.backordered`.
    fn journal() -> Vec<LogEntry> {
        let request = PlaceRequest {
            order_id: "o-1".into(),
            channel: "web".into(),
            lat: 40.0,
            lon: -100.0,
            service_level: ServiceLevel::Standard,
            lines: vec![line()],
            allow_backorder: true,
        };
        vec![
            LogEntry::Order(OrderNo(1), OrderEvent::Placed { request, at: T }),
            LogEntry::Order(
                OrderNo(1),
                OrderEvent::Routed {
                    fulfillments: Vec::new(),
                    plans: Vec::new(),
                    backordered: vec![0],
                    rejected: None,
                    at: T,
                },
            ),
        ]
    }

    fn fed() -> EventTail {
        let mut t = EventTail::new(ids());
        let j = journal();
        t.take(&j, 0, j.len(), T);
        t
    }

    #[test]
    fn events_of_orders_the_book_never_acknowledged_or_refused_fail() {
        let mut t = fed();
        assert_eq!(t.len(), 2);
        let mut book = Book::default();
        let err = t.check(&book, &InDoubt::default()).unwrap_err();
        assert!(err.contains("never acknowledged"), "{err}");
        book.refused.insert("o-1".into());
        let err = t.check(&book, &InDoubt::default()).unwrap_err();
        assert!(err.contains("which was refused"), "{err}");
        book.refused.clear();
        book.orders.insert(OrderNo(1), ("o-1".into(), vec![line()]));
        assert_eq!(t.check(&book, &InDoubt::default()), Ok(()));
        book.cancelled.insert(OrderNo(1));
        let err = t.check(&book, &InDoubt::default()).unwrap_err();
        assert!(err.contains("0 order.cancelled events"), "{err}");
    }

    fn saved() -> EventTail {
        let mut t = fed();
        t.save(&mut rand::SeedableRng::seed_from_u64(0), 0.0, 0);
        assert_eq!(t.covered(), 2);
        t
    }

    fn seqs(t: &EventTail) -> Vec<(u64, Option<u32>, usize)> {
        t.now
            .iter()
            .map(|p| (p.event.seq, p.event.order_seq, p.pos))
            .collect()
    }

    #[test]
    fn a_restart_loses_no_fed_entry() {
        let j = journal();
        let err = fed().restart(0, None, &j[..1], T + 5_000).unwrap_err();
        assert!(err.contains("which the restart lost"), "{err}");
        // Nor may the store keep events of an entry the journal lost.
        let mut t = saved();
        t.now.clear();
        let err = t.restart(0, None, &j[..1], T + 5_000).unwrap_err();
        assert!(
            err.contains("in the store came from journal entry 1"),
            "{err}"
        );
    }

    /// Without a snapshot and with nothing stored, the replay derives the
    /// same events under the same numbers.
    #[test]
    fn a_restart_without_the_store_derives_the_same_feed() {
        let j = journal();
        let mut t = fed();
        assert_eq!(t.restart(0, None, &j, T + 5_000), Ok(()));
        assert_eq!(seqs(&t), [(1, Some(1), 1), (2, Some(2), 1)]);
        assert_eq!(t.stats().not_emitted, 0);
    }

    /// What the store covers comes back from it and is not emitted again;
    /// after a snapshot the feed keeps its numbers and old cursors.
    #[test]
    fn a_restart_brings_the_stored_events_back_numbered_the_same() {
        let j = journal();
        let mut t = saved();
        assert_eq!(t.restart(0, None, &j, T + 5_000), Ok(()));
        assert_eq!(seqs(&t), [(1, Some(1), 1), (2, Some(2), 1)]);
        assert_eq!((t.stats().restored, t.stats().not_emitted), (2, 2));
        let mut t = saved();
        assert_eq!(
            t.restart(
                2,
                Some((&mut std::iter::empty(), &mut std::iter::empty())),
                &j[2..],
                T + 5_000
            ),
            Ok(())
        );
        assert_eq!(seqs(&t), [(1, Some(1), 1), (2, Some(2), 1)]);
        assert!(t.feed.page(Some(0), 1, TypeSet::ALL).is_ok());
        assert_eq!(t.check(&booked(), &InDoubt::default()), Ok(()));
    }

    /// A snapshot past what the store covers loses the events of the
    /// entries between the two.
    #[test]
    fn a_snapshot_past_the_store_loses_events() {
        let j = journal();
        let mut t = fed();
        let err = t
            .restart(
                2,
                Some((&mut std::iter::empty(), &mut std::iter::empty())),
                &j[2..],
                T + 5_000,
            )
            .unwrap_err();
        assert!(
            err.contains("event 1 (order.placed) of journal entry 1 is not in the feed"),
            "{err}"
        );
    }

    fn booked() -> Book {
        let mut book = Book::default();
        book.orders.insert(OrderNo(1), ("o-1".into(), vec![line()]));
        book
    }
}
