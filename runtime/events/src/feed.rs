//! The feed: events in `seq` order, kept for a retention period and within
//! a byte budget, paged with a cursor and filtered by type.
//!
//! `seq` is assigned here, one by one, so it is gap-free among the events
//! kept; trimming only ever drops the oldest. `order_seq` is handed in by
//! the caller, which keeps each order's count with the order (so it
//! survives restarts and passivation without a table here that grows with
//! history).
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
}

#[derive(Debug)]
struct Kept {
    event: Arc<Event>,
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
}

impl Feed {
    /// An empty feed whose first event will be `seq` `next_seq` (1 for a new one).
    pub fn new(retention: Retention, next_seq: u64) -> Feed {
        Feed {
            retention,
            kept: VecDeque::new(),
            next_seq: next_seq.max(1),
            bytes: 0,
        }
    }

    /// Appends an event; returns it with its `seq`.
    pub fn append(&mut self, draft: Draft, order_seq: Option<u32>) -> Arc<Event> {
        let at = draft.at;
        let event = Arc::new(Event::new(draft, self.next_seq, order_seq));
        self.next_seq += 1;
        let bytes = event.to_json().len() as u64;
        self.bytes += bytes;
        self.kept.push_back(Kept {
            event: event.clone(),
            at,
            bytes,
        });
        self.trim_bytes();
        event
    }

    /// Puts back an event read from disk, with its own `seq` (at least
    /// the next one): the feed continues after it.
    pub fn restore(&mut self, event: Arc<Event>, at: Millis) {
        if event.seq < self.next_seq && !self.kept.is_empty() {
            return;
        }
        self.next_seq = event.seq + 1;
        let bytes = event.to_json().len() as u64;
        self.bytes += bytes;
        self.kept.push_back(Kept { event, at, bytes });
        self.trim_bytes();
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
        }
    }

    /// `seq` of the newest event (0 when none was ever appended).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// The oldest `after` a reader may ask for.
    pub fn oldest_after(&self) -> u64 {
        self.kept
            .front()
            .map_or(self.last_seq(), |k| k.event.seq - 1)
    }

    /// Events kept, and their JSON bytes.
    pub fn size(&self) -> (usize, u64) {
        (self.kept.len(), self.bytes)
    }

    /// Up to `limit` events after `after` (from the oldest kept when
    /// `None`) whose type is in `types`.
    pub fn page(
        &self,
        after: Option<u64>,
        limit: usize,
        types: TypeSet,
    ) -> Result<Page, FeedError> {
        let oldest_after = self.oldest_after();
        let after = after.unwrap_or(oldest_after);
        if after < oldest_after {
            return Err(FeedError::Gone { oldest_after });
        }
        let first = self.kept.front().map_or(self.next_seq, |k| k.event.seq);
        let start = usize::try_from((after + 1).saturating_sub(first)).unwrap_or(usize::MAX);
        let mut events = Vec::new();
        let mut next = after;
        for k in self.kept.iter().skip(start) {
            if events.len() == limit {
                break;
            }
            next = k.event.seq;
            if types.contains(k.event.kind) {
                events.push(k.event.clone());
            }
        }
        Ok(Page { events, next })
    }
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
    fn seq_continues_from_where_a_restart_says() {
        let mut f = Feed::new(Retention::default(), 41);
        assert_eq!(f.append(draft(EventType::OrderPlaced, 1), Some(1)).seq, 41);
        assert_eq!(f.last_seq(), 41);
        assert_eq!(f.page(Some(40), 5, TypeSet::ALL).unwrap().events.len(), 1);
        assert!(f.page(Some(39), 5, TypeSet::ALL).is_err());
    }
}
