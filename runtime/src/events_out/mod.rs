//! Events out: the order status feed, derived from durable journal records
//! only. The journal is the outbox: an event exists exactly when the record
//! it reports is durable in the configured mode, never from an in-memory
//! change.
//!
//! How records get here:
//! - the journal's writer hands each batch's records to a [`orch_journal::DurableHook`]
//!   after the write (and fdatasync in mode `fsync`), before any ticket of
//!   the batch resolves; in mode `none` the appending thread does, at
//!   append. The hook only sends the batch on a bounded channel
//!   ([`crate::persist::intake::INTAKE_BATCHES`] batches) to the tail thread. When the channel is
//!   full the send blocks: the writer waits for the tail, which holds the
//!   journal back like its own full queue does (back-pressure, never a
//!   dropped event). Until a tail attaches ([`crate::persist::intake::Intake::attach`]) the hook
//!   hands nothing over: recovery replays those records instead.
//! - the tail thread ([`tail`]) decodes each record, applies its entries to
//!   its own mirror of the orders ([`mirror`]), derives the drafts
//!   (`orch_events::derive`) and appends them to the [`Feed`] under a lock
//!   held only to append or to copy a page out (readers never hold it
//!   while waiting or writing to a socket; the shards and the journal
//!   writer never take it).
//! - readers wait for news on a `tokio::sync::watch` of the last `seq`.
//!
//! Memory and disk: only the newest `[durability] events_memory_max` kept
//! events keep their body in memory, once the event store has them; a
//! page that starts before them is read from the store
//! ([`store::EventStore::read_after`]) on the reader's thread (an async
//! reader hands it to the blocking pool, [`Events::page_async`]), then
//! goes on in memory, with the same `next` a feed all in memory gives.
//! The shards, the journal writer and the tail never wait for such a read.
//!
//! Restart: recovery feeds the tail every journal record it replays (after
//! the snapshot), with the snapshot's orders as the mirror's start
//! ([`persist::recovery::ReplaySink`](crate::persist::recovery::ReplaySink)),
//! so the feed holds again every event of those records, numbered as
//! before when no snapshot was ever taken (seq from 1, the same ids).
//!
//! **The retention gap (known, not hidden).** A snapshot makes the journal
//! records before it unnecessary, and the checkpoint deletes them: their
//! events are no longer in the feed after a restart, whatever the
//! retention says, and the feed's numbering cannot be recovered either.
//! So after a restart from a snapshot the feed starts at `seq` =
//! start time in ms x 1000 (above any seq a previous run could have
//! issued unless it averaged over 1,000 events per ms since its own
//! start), a client's older cursor gets `410 gone` (it knows it missed
//! events, rather than silently reading new events under old numbers),
//! and `order_seq` of an order the snapshot held counts again from 1.
//! Closing the gap needs the snapshot to carry the feed's next `seq` and
//! each order's event count (a snapshot format change), or the feed kept
//! on disk.

pub mod mirror;
pub mod store;
pub mod stream;
pub mod tail;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orch_events::feed::{Feed, FeedError, Page, Step};
use orch_events::TypeSet;
use tokio::sync::watch;

use store::EventStore;

/// Most readers long-polling at once; beyond that a request that would
/// wait answers at once (an empty page), so waiters stay bounded.
pub const WAITERS_MAX: usize = 4096;

/// Longest a long-poll may wait (the contract's `wait_s` 0-30).
pub const WAIT_MAX: Duration = Duration::from_secs(30);

/// The feed as readers see it: pages under a short lock, and a watch of
/// the last `seq` to wait on.
pub struct Events {
    feed: Mutex<Feed>,
    last: watch::Sender<u64>,
    waiters: AtomicUsize,
    /// Where the kept events that left memory are read (none: every kept
    /// event is in memory).
    store: Option<Arc<EventStore>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// Readers' view of `feed`.
    pub fn new(feed: Feed) -> Events {
        let (last, _) = watch::channel(feed.last_seq());
        Events {
            feed: Mutex::new(feed),
            last,
            waiters: AtomicUsize::new(0),
            store: None,
        }
    }

    /// Readers' view of `feed`, whose events that left memory are read
    /// from `store`.
    pub fn with_store(feed: Feed, store: Arc<EventStore>) -> Events {
        Events {
            store: Some(store),
            ..Events::new(feed)
        }
    }

    /// Runs `f` on the feed under its lock (keep it short).
    pub(crate) fn with_feed<R>(&self, f: impl FnOnce(&mut Feed) -> R) -> R {
        f(&mut self.feed.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Tells waiting readers the feed now ends at `last`.
    pub(crate) fn announce(&self, last: u64) {
        self.last.send_replace(last);
    }

    /// One page now (see `Feed::page`), its older part read from the
    /// event store when it starts before the events in memory: blocks on
    /// the disk then (call it from a thread that may block, or use
    /// [`Events::page_async`]).
    pub fn page(
        &self,
        after: Option<u64>,
        limit: usize,
        types: TypeSet,
    ) -> Result<Page, FeedError> {
        let mut events = Vec::new();
        let mut cursor = after;
        loop {
            let room = limit.saturating_sub(events.len());
            let (after, first_resident) = match self.with_feed(|f| f.step(cursor, room, types))? {
                Step::Page(p) => {
                    events.extend(p.events);
                    return Ok(Page {
                        events,
                        next: p.next,
                    });
                }
                Step::Disk {
                    after,
                    first_resident,
                } => (after, first_resident),
            };
            let Some(store) = &self.store else {
                return Err(FeedError::Gone {
                    oldest_after: first_resident - 1,
                });
            };
            match store.read_after(after, first_resident, room, types) {
                Ok(d) => {
                    events.extend(d.events);
                    if d.complete {
                        return Ok(Page {
                            events,
                            next: d.next,
                        });
                    }
                    cursor = Some(d.next);
                }
                Err(e) => {
                    // The retention may have dropped them meanwhile: 410.
                    let oldest_after = self.with_feed(|f| f.oldest_after());
                    if after < oldest_after {
                        return Err(FeedError::Gone { oldest_after });
                    }
                    tracing::error!(after, error = %e, "events: kept events cannot be read                         from the event store");
                    return Err(FeedError::Unreadable);
                }
            }
        }
    }

    /// Whether a page can start at `after` now (`Gone` when it is older
    /// than what is kept), without reading it.
    pub fn check(&self, after: Option<u64>) -> Result<(), FeedError> {
        self.with_feed(|f| f.step(after, 0, TypeSet::ALL))
            .map(|_| ())
    }

    /// [`Events::page`] for async readers: served in place from memory,
    /// and on the blocking pool when it reads the event store.
    pub async fn page_async(
        self: &Arc<Self>,
        after: Option<u64>,
        limit: usize,
        types: TypeSet,
    ) -> Result<Page, FeedError> {
        if let Step::Page(p) = self.with_feed(|f| f.step(after, limit, types))? {
            return Ok(p);
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.page(after, limit, types))
            .await
            .unwrap_or(Err(FeedError::Unreadable))
    }

    /// Events kept and their JSON bytes, and the last `seq`.
    pub fn size(&self) -> (usize, u64, u64) {
        self.with_feed(|f| {
            let (n, b) = f.size();
            (n, b, f.last_seq())
        })
    }

    /// Readers long-polling now.
    pub fn waiting(&self) -> usize {
        self.waiters.load(Ordering::Acquire)
    }

    /// Receivers of [`Events::subscribe`] alive (SSE streams, long-polls).
    pub fn subscribers(&self) -> usize {
        self.last.receiver_count()
    }

    /// A receiver that changes whenever events are appended.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.last.subscribe()
    }

    /// A page; when it holds no event, waits up to `wait` (at most
    /// [`WAIT_MAX`]) for one that passes `types`, then answers what is
    /// there (possibly empty, with `next` past the events filtered out).
    /// Answers at once when [`WAITERS_MAX`] readers wait already.
    pub async fn wait_page(
        self: &Arc<Self>,
        after: Option<u64>,
        limit: usize,
        types: TypeSet,
        wait: Duration,
    ) -> Result<Page, FeedError> {
        let mut rx = self.subscribe();
        rx.borrow_and_update();
        let mut page = self.page_async(after, limit, types).await?;
        if !page.events.is_empty() || wait.is_zero() {
            return Ok(page);
        }
        let Some(_waiting) = WaitSlot::take(&self.waiters) else {
            return Ok(page);
        };
        let deadline = tokio::time::Instant::now() + wait.min(WAIT_MAX);
        loop {
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {
                    rx.borrow_and_update();
                    page = self.page_async(Some(page.next), limit, types).await?;
                    if !page.events.is_empty() {
                        return Ok(page);
                    }
                }
                // Timed out, or the feed is gone (shutdown).
                _ => return Ok(page),
            }
        }
    }
}

/// One of the [`WAITERS_MAX`] long-poll slots, given back on drop.
struct WaitSlot<'a>(&'a AtomicUsize);

impl<'a> WaitSlot<'a> {
    fn take(n: &'a AtomicUsize) -> Option<WaitSlot<'a>> {
        n.fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
            (w < WAITERS_MAX).then_some(w + 1)
        })
        .ok()
        .map(|_| WaitSlot(n))
    }
}

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
