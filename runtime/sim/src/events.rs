//! Events out in the simulator: the feed derived from the simulated
//! disk's durable entries as the runtime's tail derives it (the shared
//! [`orch_events::mirror::Mirror`], [`orch_events::feed::Feed`]), rebuilt
//! at every restart from what recovery replays, and its checks against the
//! simulator's book.
//!
//! Each event is kept with the journal position of the entry it came
//! from. A restart's feed (an *epoch*) rebuilds the events of the entries
//! from where the restart replays (0, or the snapshot's position); the
//! events of earlier epochs before that position are *archived*: what a
//! client reading the feed all along would have. Archive and epoch
//! together hold every durable entry's events once, which the book checks.
//!
//! The documented snapshot gap (docs/api.md, "After a restart"): after a
//! restart from a snapshot the feed holds only the events of the entries
//! after it, numbered above every earlier seq (old cursors answer 410),
//! and an order the snapshot holds counts `order_seq` from 1 again. The
//! checks hold the runtime to exactly that and count what it costs
//! ([`EventStats`]), so the gap stays visible.
//!
//! What it never does: read the core's ledgers; it reads durable journal
//! entries (as the runtime's tail does) and the book.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use orch_actors::log::LogEntry;
use orch_actors::order::{OrderState, ScanKind};
use orch_actors::{FacilityIdx, OrderNo, SkuIdx};
use orch_config::{Config, Millis};
use orch_events::derive::Names;
use orch_events::feed::{first_seq_after_snapshot, Feed, FeedError, Retention};
use orch_events::mirror::Mirror;
use orch_events::{Event, EventType, TypeSet};

use crate::book::Book;

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
    epoch: u32,
    pos: usize,
    event: Arc<Event>,
    /// The fulfillment its `fulfillment_id` names (`Err`: not one of its
    /// order's).
    fulfillment: Result<Option<u16>, ()>,
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

/// What the events cost and what the snapshot gap took, over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Events derived (rebuilt ones counted again).
    pub derived: u64,
    /// Events a restart from a snapshot did not bring back into the feed
    /// (their entries were before the snapshot): the documented gap.
    pub gap: u64,
    /// Orders whose `order_seq` counted from 1 again after a restart from
    /// a snapshot (the other half of the gap).
    pub renumbered: u64,
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

/// The simulator's event tail: the mirror, this epoch's feed, the archive.
#[derive(Debug)]
pub struct EventTail {
    ids: Ids,
    mirror: Mirror,
    feed: Feed,
    epoch: u32,
    /// Journal position this epoch's feed starts at (its restart's).
    from: usize,
    /// First `seq` of this epoch.
    first_seq: u64,
    /// Journal position of the next entry to take.
    fed: usize,
    /// This epoch's events.
    now: Vec<Placed>,
    /// Earlier epochs' events before the current epoch's start.
    archive: Vec<Placed>,
    /// Epochs that started from a snapshot.
    from_snapshot: BTreeSet<u32>,
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
            epoch: 0,
            from: 0,
            first_seq: 1,
            fed: 0,
            now: Vec::new(),
            archive: Vec::new(),
            from_snapshot: BTreeSet::new(),
            stats: EventStats::default(),
            dropped: None,
        }
    }

    /// Plants the deliberate bug: the tail drops every event of `kind`.
    pub fn drop_type(&mut self, kind: EventType) {
        self.dropped = Some(kind);
    }

    /// What the run cost and what the gap took so far.
    pub fn stats(&self) -> EventStats {
        self.stats
    }

    /// Events in this epoch's feed.
    pub fn len(&self) -> usize {
        self.now.len()
    }

    /// Whether this epoch's feed is empty.
    pub fn is_empty(&self) -> bool {
        self.now.is_empty()
    }

    /// Journal position of the next entry the tail takes.
    pub fn fed(&self) -> usize {
        self.fed
    }

    /// Takes the entries of `journal` (whose first entry is at position
    /// `base`) up to position `upto`, as the journal hook hands durable
    /// batches to the runtime's tail; `now` dates facility events.
    pub fn take(&mut self, journal: &[LogEntry], base: usize, upto: usize, now: Millis) {
        while self.fed < upto {
            let Some(e) = self.fed.checked_sub(base).and_then(|i| journal.get(i)) else {
                break;
            };
            for (draft, order_seq) in self.mirror.apply(e, &self.ids, now) {
                if self.dropped == Some(draft.kind) {
                    continue;
                }
                let event = self.feed.append(draft, order_seq);
                self.now.push(Placed {
                    epoch: self.epoch,
                    pos: self.fed,
                    fulfillment: fulfillment_of(&event),
                    event,
                });
                self.stats.derived += 1;
            }
            self.fed += 1;
        }
    }

    /// A restart: recovery replays `entries` from position `from` (after
    /// the snapshot holding `snapshot`'s orders, when there is one). The
    /// new feed is built as the runtime's tail builds it; the events the
    /// old feed had for the entries replayed must come back the same (the
    /// same seqs and `order_seq`s too when the restart starts where the
    /// old feed started), and none may belong to an entry the restart lost.
    pub fn restart(
        &mut self,
        from: usize,
        snapshot: Option<&mut dyn Iterator<Item = &OrderState>>,
        entries: &[LogEntry],
        now: Millis,
    ) -> Result<(), String> {
        let old = std::mem::take(&mut self.now);
        let (old_from, old_fed, old_last) = (self.from, self.fed, self.feed.last_seq());
        let end = from + entries.len();
        self.epoch += 1;
        self.mirror = Mirror::new();
        self.from = from;
        self.fed = from;
        let snapshot_restart = snapshot.is_some();
        if let Some(orders) = snapshot {
            self.mirror.seed(orders);
            self.from_snapshot.insert(self.epoch);
            self.first_seq = first_seq_after_snapshot(now);
        } else {
            self.first_seq = 1;
        }
        self.feed = Feed::new(Retention::default(), self.first_seq);
        self.take(entries, from, end, now);
        if end < old_fed {
            if let Some(p) = old.iter().find(|p| p.pos >= end) {
                return Err(format!(
                    "event {} ({}) came from journal entry {}, which the restart lost (it keeps entries before {end})",
                    p.event.seq, p.event.kind, p.pos
                ));
            }
        }
        // Seeded with the same orders, the mirror numbers them the same;
        // the feed too when neither started from a snapshot.
        let same_order_seq = from == old_from;
        let same_seq = same_order_seq && !snapshot_restart;
        let replaced = old.iter().filter(|p| p.pos >= from);
        let mut rebuilt = self.now.iter().filter(|p| p.pos >= old_from);
        for was in replaced {
            let Some(is) = rebuilt.next() else {
                return Err(format!(
                    "event {} ({}) of journal entry {} is not rebuilt by the restart",
                    was.event.seq, was.event.kind, was.pos
                ));
            };
            if let Some(why) = differs(was, is, same_seq, same_order_seq) {
                return Err(format!(
                    "event {} ({}) of journal entry {} is rebuilt as {} ({}) of entry {}: {why}",
                    was.event.seq, was.event.kind, was.pos, is.event.seq, is.event.kind, is.pos
                ));
            }
        }
        let kept: Vec<Placed> = old.into_iter().filter(|p| p.pos < from).collect();
        if snapshot_restart {
            self.stats.gap += kept.len() as u64;
            // Every earlier cursor is gone: none reads other events under
            // an old number.
            if old_last > 0 && self.first_seq <= old_last {
                return Err(format!(
                    "the feed restarted from a snapshot at seq {}, at or below the old feed's last {old_last}",
                    self.first_seq
                ));
            }
            if old_last > 0 {
                match self.feed.page(Some(old_last), 1, TypeSet::ALL) {
                    Err(FeedError::Gone { .. }) => {}
                    Ok(_) => {
                        return Err(format!(
                            "the old feed's last cursor {old_last} is served after a restart from a snapshot"
                        ))
                    }
                }
            }
        }
        self.archive.retain(|p| p.pos < from);
        self.archive.extend(kept);
        Ok(())
    }

    /// The checks at a quiescent point, against `book` (and the changes
    /// `doubt` holds, which may or may not have their events).
    pub fn check(&mut self, book: &Book, doubt: &InDoubt) -> Result<(), String> {
        // This epoch: seq gap-free and increasing from its first.
        for (i, p) in self.now.iter().enumerate() {
            if p.event.seq != self.first_seq + i as u64 {
                return Err(format!(
                    "feed seq {} at place {i}, expected {}",
                    p.event.seq,
                    self.first_seq + i as u64
                ));
            }
        }
        if self.feed.last_seq() + 1 != self.first_seq + self.now.len() as u64 {
            return Err(format!(
                "the feed's last seq {} does not follow its {} events from {}",
                self.feed.last_seq(),
                self.now.len(),
                self.first_seq
            ));
        }
        let ids: HashMap<&str, OrderNo> = book
            .orders
            .iter()
            .map(|(no, (id, _))| (&**id, *no))
            .collect();
        // Per order, per epoch: order_seq 1, 2, 3, ... in journal order.
        let mut order_seq: HashMap<(&str, u32), u32> = HashMap::new();
        // Per order: the last feed it had events in, and whether a later
        // feed, started from a snapshot, counted it from 1 again.
        let mut epochs_of: HashMap<&str, (u32, bool)> = HashMap::new();
        let mut count: BTreeMap<(OrderNo, Option<u16>, EventType), u32> = BTreeMap::new();
        for p in self.archive.iter().chain(&self.now) {
            let e = &p.event;
            let Some(order_id) = e.order_id.as_deref() else {
                if e.kind != EventType::FacilityStatusChanged || e.order_seq.is_some() {
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
            let n = order_seq.entry((order_id, p.epoch)).or_default();
            *n += 1;
            if e.order_seq != Some(*n) {
                return Err(format!(
                    "event {} ({}) of {order_id} has order_seq {:?}, expected {n}",
                    e.seq, e.kind, e.order_seq
                ));
            }
            let seen = epochs_of.entry(order_id).or_insert((p.epoch, false));
            if seen.0 != p.epoch {
                seen.1 |= self.from_snapshot.contains(&p.epoch);
                seen.0 = p.epoch;
            }
            let Ok(f) = p.fulfillment else {
                return Err(format!(
                    "event {} ({}) of {order_id} names fulfillment {}",
                    e.seq, e.kind, e.data["fulfillment_id"]
                ));
            };
            *count.entry((no, f, e.kind)).or_default() += 1;
        }
        self.stats.renumbered = epochs_of.values().filter(|e| e.1).count() as u64;
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

/// How a rebuilt event differs from the one it replaces, if it does.
/// A facility event is dated when the tail takes its entry (the entry
/// holds no time), so its `created_at` may differ after a restart.
fn differs(was: &Placed, is: &Placed, same_seq: bool, same_order_seq: bool) -> Option<String> {
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
    if same_seq && a.seq != b.seq {
        return Some(format!("seq {} for {}", b.seq, a.seq));
    }
    if same_order_seq && a.order_seq != b.order_seq {
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

    #[test]
    fn a_restart_must_rebuild_the_same_events_and_lose_no_fed_entry() {
        let j = journal();
        let mut t = fed();
        let err = t.restart(0, None, &j[..1], T + 5_000).unwrap_err();
        assert!(err.contains("which the restart lost"), "{err}");
        let mut t = fed();
        assert_eq!(t.restart(0, None, &j, T + 5_000), Ok(()));
        let seqs: Vec<_> = t
            .now
            .iter()
            .map(|p| (p.event.seq, p.event.order_seq))
            .collect();
        assert_eq!(seqs, [(1, Some(1)), (2, Some(2))]);
        assert!(t.archive.is_empty());
    }

    /// The documented limitation: after a snapshot the feed numbers from
    /// the start time in ms x 1,000, above the old feed only if the clock
    /// moved on (here it went back to 0).
    #[test]
    fn a_restart_from_a_snapshot_must_number_above_the_old_feed() {
        let j = journal();
        let mut t = fed();
        let err = t
            .restart(2, Some(&mut std::iter::empty()), &j[2..], 0)
            .unwrap_err();
        assert!(err.contains("at or below the old feed's last 2"), "{err}");
        let mut t = fed();
        assert_eq!(
            t.restart(2, Some(&mut std::iter::empty()), &j[2..], T + 1),
            Ok(())
        );
        // Both events came from entry 1, before the snapshot: archived,
        // and counted as the gap; the last old cursor is gone.
        assert_eq!((t.archive.len(), t.stats().gap), (2, 2));
        assert_eq!(
            t.feed.page(Some(2), 1, TypeSet::ALL).map(|_| ()),
            Err(FeedError::Gone {
                oldest_after: (T + 1) * 1000 - 1
            })
        );
        // A restart from a snapshot whose orders are not seeded cannot
        // rebuild the events after it.
        let mut t = fed();
        let err = t
            .restart(1, Some(&mut std::iter::empty()), &j[1..], T + 1)
            .unwrap_err();
        assert!(err.contains("is not rebuilt by the restart"), "{err}");
    }
}
