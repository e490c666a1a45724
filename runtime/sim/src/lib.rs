#![warn(missing_docs)]
//! A deterministic simulator of the shard engine: from one seed it chooses
//! a network, a workload of every operation, a schedule (through the
//! engine's seeded serial [`orch_engine::Cluster`]), disk faults and
//! power-loss crashes, and checks the invariants from its own book of what
//! it sent and had acknowledged.
//!
//! The workload: placements (single and batches, some invalid), cancels,
//! scans (next steps, duplicates, out of order), receipts and cycle counts
//! (some repeated), facility status changes, manual waves, clock jumps
//! (short, past wave timers, hours, and across hold expiries, sometimes
//! with a power loss), and holds: creates (some asking more than any cell
//! has, some with an invalid TTL, repeats of a `hold_id` with the same or
//! another request), reads, extends, releases, orders converting them,
//! and holds left to expire.
//!
//! Checkpoints ([`snapshot`], [`checkpoint`]): at seed-chosen steps the
//! current snapshot plus the durable journal after it (no further than
//! the event store covers) is written as the
//! next snapshot file, fsynced, named in the `current` file, that fsynced,
//! and only then the journal prefix it covers deleted, one step per
//! scheduling step with a power loss possible after each. A restart loads
//! the newest whole snapshot named current (a torn one is ignored) and
//! replays the journal after it through the engine's
//! `Cluster::restore_from_snapshot` (each shard's `Shard::restore_from`).
//!
//! The checks, at quiescent points and after every restart, come from
//! the book ([`book`], [`holds`]): stock on hand and conservation per SKU,
//! reservations and backorders of live acknowledged orders only, statuses
//! only forward, held + reserved <= on hand, units held only for active
//! acknowledged holds within their expiry + [`holds::RELEASE_BOUND_MS`],
//! converted holds' units in their order, and every acknowledged order and
//! hold present after a restart, nothing refused.
//!
//! The deliberate bugs ([`Bug::ALL`]): acknowledging an fsync before it is
//! durable, replaying receipts twice, losing a cross-shard batch, serving
//! a backorder twice, keeping a failed reservation, forgetting the expiry
//! of holds restored after a restart, two checkpoint orders (deleting
//! the journal prefix before the snapshot is durable, marking it current
//! before its fsync), two in the events tail (taking entries before
//! they are durable, dropping `order.cancelled`), and a checkpoint that
//! snapshots past what the event store covers.
//!
//! - [`options`]: what a seed chooses.
//! - [`network`]: the network and stock a seed chooses.
//! - [`disk`]: the simulated journal file: records, fsync, torn tails.
//! - [`files`]: a simulated file with power-loss semantics.
//! - [`snapshot`]: snapshots and the `current` mark on the simulated disk.
//! - [`checkpoint`]: the checkpoint's steps, in order.
//! - [`book`]: what the simulator sent and had acknowledged.
//! - [`events`]: the event feed derived from the durable journal as the
//!   runtime derives it, saved to the event store, brought back from it
//!   at restarts, checked against the book.
//! - [`store`]: the simulated event store: batches of events with the
//!   journal position they cover, fsynced, read back up to a torn tail.
//! - [`holds`]: the book of holds and the hold checks.
//! - [`run`]: one seed's run and its checks.
//! - [`bugs`]: the deliberate bugs (their hooks need feature `bugs`).

pub mod book;
pub mod bugs;
pub mod checkpoint;
pub mod disk;
pub mod events;
pub mod files;
pub mod holds;
pub mod network;
pub mod options;
pub mod run;
pub mod snapshot;
pub mod store;

pub use bugs::Bug;
pub use options::SimOptions;
pub use run::{run_seed, Outcome};
