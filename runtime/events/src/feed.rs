//! The feed: events in `seq` order, kept for a retention period and within
//! a byte budget, paged with a cursor and filtered by type.
//!
//! `seq` is assigned here, one by one, so it is gap-free among the events
//! kept; trimming only ever drops the oldest. `order_seq` is handed in by
//! the caller, which keeps each order's count with the order (so it
//! survives restarts and passivation without a table here that grows with
//! history).
//!
//! A memory window: only the newest `memory_max` events keep their body in
//! memory, and only once the caller says they are stored
//! ([`Feed::mark_stored`]); the older kept events keep their place (time,
//! size) so retention and `410` stay exact, and a page that starts among
//! them is read from the store ([`Feed::step`] answers [`Step::Disk`],
//! [`page_over`] pages what the store reads back with the same rules).
//!
//! What it never does: block, read the clock (time comes in as `now`), or
//! keep more than its byte budget.

use std::collections::VecDeque;
use std::sync::Arc;

use orch_config::Millis;

use crate::envelope::{Draft, Event};
use crate::kind::TypeSet;

/// How long and how much the feed keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this are dropped (default 7 days).
    pub age_ms_max: Millis,
    /// The kept events' JSON bytes stay within this (oldest dropped first).
    pub bytes_max: u64,
}

impl Default for Retention {
    /// 7 days, 1 GiB.
    fn default() -> Self {
        Retention {
            age_ms_max: 7 * 24 * 3_600_000,
            bytes_max: 1 << 30,
        }
    }
}

/// The first `seq` of a feed started from a snapshot at `now`: events of
/// the records the snapshot covers cannot be rebuilt, so numbering restarts
/// above anything an earlier run can have issued (start time in ms x
/// 1,000), and every older cursor is gone (410) rather than reading other
/// events under old numbers.
pub fn first_seq_after_snapshot(now: Millis) -> u64 {
    now.saturating_mul(1000).max(1)
}

/// Largest page a reader may ask for.
pub const PAGE_LIMIT_MAX: usize = 1000;

/// One page of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The events, in `seq` order.
    pub events: Vec<Arc<Event>>,
    /// The `after` of the next page: paging with it walks the feed with no
    /// gap and no repeat, filters included.
    pub next: u64,
}

/// Why a page cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedError {
    /// `after` is older than what is kept (HTTP 410).
    Gone {
        /// The oldest `after` still served (`first kept seq - 1`).
        oldest_after: u64,
    },
    /// The page's events are kept on disk but could not be read (HTTP
    /// 503; the reader logs why).
    Unreadable,
}

/// Where a page starts: in memory (served), or among the events whose
/// body is only on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Served from memory.
    Page(Page),
    /// `after` is kept, but the events after it up to `first_resident - 1`
    /// are only on disk: read them there, then go on in memory.
    Disk {
        /// The page's `after` (the oldest kept when none was given).
        after: u64,
        /// The oldest event still in memory.
        first_resident: u64,
    },
}

#[derive(Debug)]
struct Kept {
    /// `None` once it left the memory window (it is in the store).
    event: Option<Arc<Event>>,
    at: Millis,
    bytes: u64,
}

/// The events kept, oldest first.
#[derive(Debug)]
pub struct Feed {
    retention: Retention,
    kept: VecDeque<Kept>,
    /// `seq` of the next event.
    next_seq: u64,
    bytes: u64,
    /// Most events whose body stays in memory.
    memory_max: usize,
    /// Kept events with their body in memory (the newest ones).
    resident: usize,
    /// Events up to this `seq` are in the store (may leave memory).
    stored_upto: u64,
}

impl Feed {
    /// An empty feed whose first event will be `seq` `next_seq` (1 for a new one).
    pub fn new(retention: Retention, next_seq: u64) -> Feed {
        Feed {
            retention,
            kept: VecDeque::new(),
            next_seq: next_seq.max(1),
            bytes: 0,
            memory_max: usize::MAX,
            resident: 0,
            stored_upto: 0,
        }
    }

    /// Keeps the bodies of at most `memory_max` events (at least 1) in
    /// memory, once they are stored.
    pub fn with_memory_max(mut self, memory_max: usize) -> Feed {
        self.memory_max = memory_max.max(1);
        self.evict();
        self
    }

    /// Events up to `seq` are in the store: the oldest of them leave
    /// memory beyond the window.
    pub fn mark_stored(&mut self, seq: u64) {
        self.stored_upto = self.stored_upto.max(seq);
        self.evict();
    }

    fn evict(&mut self) {
        while self.resident > self.memory_max {
            let i = self.kept.len() - self.resident;
            let k = &mut self.kept[i];
            match &k.event {
                Some(e) if e.seq <= self.stored_upto => {
                    k.event = None;
                    self.resident -= 1;
                }
                _ => break,
            }
        }
    }

    /// Most events whose body stays in memory once stored.
    pub fn memory_max(&self) -> usize {
        self.memory_max
    }

    /// Kept events whose body is in memory.
    pub fn resident(&self) -> usize {
        self.resident
    }

    /// `seq` of the oldest kept event with its body in memory (the next
    /// `seq` when none is).
    pub fn first_resident(&self) -> u64 {
        self.next_seq - self.resident as u64
    }

    /// Appends an event; returns it with its `seq`.
    pub fn append(&mut self, draft: Draft, order_seq: Option<u32>) -> Arc<Event> {
        let at = draft.at;
        let event = Arc::new(Event::new(draft, self.next_seq, order_seq));
        self.next_seq += 1;
        let bytes = event.to_json().len() as u64;
        self.bytes += bytes;
        self.kept.push_back(Kept {
            event: Some(event.clone()),
            at,
            bytes,
        });
        self.resident += 1;
        self.trim_bytes();
        self.evict();
        event
    }

    /// Puts back an event read from disk, with its own `seq` (at least
    /// the next one): the feed continues after it. It is stored, so it
    /// stays in memory only within the window.
    pub fn restore(&mut self, event: Arc<Event>, at: Millis) {
        if event.seq < self.next_seq && !self.kept.is_empty() {
            return;
        }
        if !self.kept.is_empty() && event.seq > self.next_seq {
            // Not the next one: the feed must stay gap-free.
            self.kept.clear();
            self.bytes = 0;
            self.resident = 0;
        }
        self.next_seq = event.seq + 1;
        let bytes = event.to_json().len() as u64;
        self.bytes += bytes;
        let seq = event.seq;
        self.kept.push_back(Kept {
            event: Some(event),
            at,
            bytes,
        });
        self.resident += 1;
        self.trim_bytes();
        self.mark_stored(seq);
    }

    /// Drops what is older than the retention at `now`.
    pub fn trim(&mut self, now: Millis) {
        while let Some(k) = self.kept.front() {
            if now.saturating_sub(k.at) <= self.retention.age_ms_max {
                break;
            }
            self.pop();
        }
    }

    fn trim_bytes(&mut self) {
        // The newest event is always kept, even alone over the budget.
        while self.bytes > self.retention.bytes_max && self.kept.len() > 1 {
            self.pop();
        }
    }

    fn pop(&mut self) {
        if let Some(k) = self.kept.pop_front() {
            self.bytes -= k.bytes;
            if k.event.is_some() {
                self.resident -= 1;
            }
        }
    }

    /// `seq` of the newest event (0 when none was ever appended).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// The oldest `after` a reader may ask for.
    pub fn oldest_after(&self) -> u64 {
        self.last_seq() - self.kept.len() as u64
    }

    /// Events kept, and their JSON bytes.
    pub fn size(&self) -> (usize, u64) {
        (self.kept.len(), self.bytes)
    }

    /// Up to `limit` events after `after` (from the oldest kept when
    /// `None`) whose type is in `types`, from memory only: a page that
    /// starts among the events only on disk answers `Gone` with the
    /// oldest `after` memory serves (use [`Feed::step`] to read those).
    pub fn page(
        &self,
        after: Option<u64>,
        limit: usize,
        types: TypeSet,
    ) -> Result<Page, FeedError> {
        match self.step(after, limit, types)? {
            Step::Page(p) => Ok(p),
            Step::Disk { first_resident, .. } => Err(FeedError::Gone {
                oldest_after: first_resident - 1,
            }),
        }
    }

    /// [`Feed::page`], or where the page must be read from disk.
    pub fn step(
        &self,
        after: Option<u64>,
        limit: usize,
        types: TypeSet,
    ) -> Result<Step, FeedError> {
        let oldest_after = self.oldest_after();
        let after = after.unwrap_or(oldest_after);
        if after < oldest_after {
            return Err(FeedError::Gone { oldest_after });
        }
        let first_resident = self.first_resident();
        if after + 1 < first_resident {
            return Ok(Step::Disk {
                after,
                first_resident,
            });
        }
        let start = usize::try_from(after - oldest_after).unwrap_or(usize::MAX);
        let resident = self
            .kept
            .iter()
            .skip(start)
            .filter_map(|k| k.event.as_ref());
        let (events, next, _) = page_over(resident, after, limit, types);
        Ok(Step::Page(Page { events, next }))
    }
}

/// Pages `events` (consecutive `seq`s after `after`) as the feed does: up
/// to `limit` of those whose type is in `types`, and `next`, the seq of the
/// last one looked at. The flag says whether the page is complete (it
/// holds `limit` events): when not, every event of `events` was looked at.
pub fn page_over<'a>(
    events: impl IntoIterator<Item = &'a Arc<Event>>,
    after: u64,
    limit: usize,
    types: TypeSet,
) -> (Vec<Arc<Event>>, u64, bool) {
    let mut out = Vec::new();
    let mut next = after;
    if limit == 0 {
        return (out, next, true);
    }
    for e in events {
        next = e.seq;
        if types.contains(e.kind) {
            out.push(e.clone());
            if out.len() == limit {
                return (out, next, true);
            }
        }
    }
    (out, next, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::EventType;
    use serde_json::json;

    fn draft(kind: EventType, at: Millis) -> Draft {
        Draft {
            kind,
            order_id: Some(Arc::from("o-1")),
            at,
            data: json!({}),
        }
    }

    fn feed_of(n: u64) -> Feed {
        let mut f = Feed::new(Retention::default(), 1);
        for i in 0..n {
            let kind = if i % 3 == 0 {
                EventType::OrderPlaced
            } else {
                EventType::FulfillmentShipped
            };
            f.append(draft(kind, 1000 + i), Some(i as u32 + 1));
        }
        f
    }

    fn walk(f: &Feed, limit: usize, types: TypeSet) -> Vec<u64> {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = f.page(after, limit, types).unwrap();
            if p.events.is_empty() && Some(p.next) == after {
                return seen;
            }
            seen.extend(p.events.iter().map(|e| e.seq));
            after = Some(p.next);
        }
    }

    #[test]
    fn paging_walks_every_event_once_with_and_without_filters() {
        let f = feed_of(50);
        for limit in [1, 3, 7, 50, 1000] {
            assert_eq!(walk(&f, limit, TypeSet::ALL), (1..=50).collect::<Vec<_>>());
            let placed = TypeSet::of(&[EventType::OrderPlaced]);
            assert_eq!(
                walk(&f, limit, placed),
                (1..=50).filter(|s| (s - 1) % 3 == 0).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn next_of_an_empty_page_stays_put_and_new_events_follow() {
        let mut f = feed_of(5);
        let p = f.page(Some(5), 10, TypeSet::ALL).unwrap();
        assert!(p.events.is_empty());
        assert_eq!(p.next, 5);
        f.append(draft(EventType::OrderCancelled, 2000), Some(6));
        let p = f.page(Some(5), 10, TypeSet::ALL).unwrap();
        assert_eq!(p.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [6]);
        assert_eq!(p.next, 6);
    }

    #[test]
    fn retention_by_age_and_bytes_drops_the_oldest_and_old_cursors_are_gone() {
        let mut f = feed_of(10);
        f.trim(1000 + 4 + Retention::default().age_ms_max);
        // Events at 1000..=1003 are older than the retention; 1004.. stay.
        assert_eq!(f.size().0, 6);
        assert_eq!(f.oldest_after(), 4);
        assert_eq!(
            f.page(Some(3), 10, TypeSet::ALL),
            Err(FeedError::Gone { oldest_after: 4 })
        );
        let p = f.page(None, 10, TypeSet::ALL).unwrap();
        assert_eq!(p.events.first().map(|e| e.seq), Some(5));
        assert_eq!(f.page(Some(4), 10, TypeSet::ALL).unwrap(), p);

        let one = feed_of(1).size().1;
        let mut f = Feed::new(
            Retention {
                // Later events are a few bytes longer (more digits in `seq`).
                bytes_max: one * 3 + 16,
                ..Retention::default()
            },
            1,
        );
        for i in 0..10 {
            f.append(draft(EventType::OrderPlaced, i), Some(1));
            assert!(f.size().1 <= one * 3 + 16, "{:?}", f.size());
        }
        assert_eq!(f.size().0, 3);
        assert_eq!(f.oldest_after(), 7);
    }

    #[test]
    fn only_stored_events_leave_the_memory_window_and_disk_pages_match() {
        let full = feed_of(10);
        let mut f = feed_of(10).with_memory_max(3);
        assert_eq!(f.resident(), 10, "nothing stored yet: everything stays");
        f.mark_stored(6);
        assert_eq!((f.resident(), f.first_resident()), (4, 7));
        f.mark_stored(10);
        assert_eq!((f.resident(), f.first_resident()), (3, 8));
        assert_eq!(
            f.size(),
            full.size(),
            "the window does not change what is kept"
        );
        assert_eq!(f.oldest_after(), 0);
        assert_eq!(
            f.step(Some(3), 5, TypeSet::ALL),
            Ok(Step::Disk {
                after: 3,
                first_resident: 8
            })
        );
        assert_eq!(
            f.step(Some(7), 5, TypeSet::ALL),
            Ok(Step::Page(full.page(Some(7), 5, TypeSet::ALL).unwrap()))
        );
        // What the store reads back, paged with the same rules, then the
        // rest from memory: the same pages as a feed all in memory.
        let all: Vec<Arc<Event>> = full.page(None, 100, TypeSet::ALL).unwrap().events;
        let placed = TypeSet::of(&[EventType::OrderPlaced]);
        for types in [TypeSet::ALL, placed] {
            for limit in [1, 2, 3, 7] {
                for after in 0..10u64 {
                    let want = full.page(Some(after), limit, types).unwrap();
                    let got = match f.step(Some(after), limit, types).unwrap() {
                        Step::Page(p) => p,
                        Step::Disk { first_resident, .. } => {
                            let disk = all
                                .iter()
                                .filter(|e| e.seq > after && e.seq < first_resident);
                            let (mut events, next, complete) = page_over(disk, after, limit, types);
                            if complete {
                                Page { events, next }
                            } else {
                                let rest = f
                                    .page(Some(first_resident - 1), limit - events.len(), types)
                                    .unwrap();
                                events.extend(rest.events);
                                Page {
                                    events,
                                    next: rest.next.max(next),
                                }
                            }
                        }
                    };
                    assert_eq!(got, want, "after {after} limit {limit}");
                }
            }
        }
        // Retention still drops from the oldest, in memory or not.
        f.trim(1000 + 4 + Retention::default().age_ms_max);
        assert_eq!((f.size().0, f.oldest_after(), f.resident()), (6, 4, 3));
        let mut f = f.with_memory_max(1);
        assert_eq!(f.resident(), 1);
        f.append(draft(EventType::OrderPlaced, 5000), Some(1));
        f.append(draft(EventType::OrderPlaced, 5001), Some(2));
        assert_eq!(
            (f.resident(), f.first_resident()),
            (2, 11),
            "events not stored yet stay in memory beyond the window"
        );
    }

    #[test]
    fn seq_continues_from_where_a_restart_says() {
        let mut f = Feed::new(Retention::default(), 41);
        assert_eq!(f.append(draft(EventType::OrderPlaced, 1), Some(1)).seq, 41);
        assert_eq!(f.last_seq(), 41);
        assert_eq!(f.page(Some(40), 5, TypeSet::ALL).unwrap().events.len(), 1);
        assert!(f.page(Some(39), 5, TypeSet::ALL).is_err());
    }
}
