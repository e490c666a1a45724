//! The shard engine of the orchestration core: many actors per shard, one
//! shard per core, bounded inboxes, one journal batch per tick, and
//! nothing that reads the clock or blocks, so that a seed can drive every
//! interleaving on one thread ([`cluster::Cluster`]).
//!
//! - [`ownership`]: the pure `key -> shard` function.
//! - [`msg`]: the messages between actors and the replies to callers.
//! - [`shard`]: one shard, its inbox and its tick.
//! - `flows`: each actor kind's handling of its messages (the flows).
//! - [`view`]: availability and boards published per tick.
//! - [`bounds`]: history bounds (an order's timeline).
//! - [`facts`]: what a tick saw happen (counts, durations) for metrics.
//! - [`cluster`]: the serial driver of N shards with an in-memory journal.
//!
//! Architecture invariant: no actix, no threads, no wall clock, no disk.
//! Decisions stay in `orch-actors`; this crate only carries messages
//! between their state machines.

mod flows;

pub mod bounds;
pub mod cluster;
pub mod facts;
pub mod msg;
pub mod ownership;
mod restore;
pub mod seen;
pub mod shard;
pub mod view;

#[cfg(feature = "sim-bugs")]
pub mod bugs;
pub use cluster::Cluster;
pub use facts::{Stopwatch, TickFacts};
pub use msg::{ActorRef, Answer, Envelope, Msg, Reply, RequestId};
pub use ownership::Ownership;
pub use shard::{Overloaded, Shard, ShardLimits, TickOutput};
