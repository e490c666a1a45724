//! `orch-events`: the order status feed and its webhooks, as plain data
//! structures and state machines.
//!
//! - [`derive`]: the events a journaled change reports. The journal is the
//!   outbox: events are derived from acknowledged records only.
//! - [`mirror`]: every order's state as the durable journal has it, and
//!   the numbered drafts each journal entry reports (the runtime's tail and
//!   the simulator share it).
//! - [`feed`]: the events kept (retention by age and bytes), paged with a
//!   cursor and a type filter; `seq` gap-free among kept events.
//! - [`sign`]: Standard Webhooks signatures.
//! - [`delivery`]: one webhook endpoint's delivery: per-order order,
//!   retries with back-off and jitter, bounded in flight and pending, the
//!   durable cursor.
//!
//! Architecture invariant: nothing here does I/O, reads the clock, spawns
//! or blocks; time and randomness come in as arguments. The runtime owns
//! the journal, the HTTP client and the listeners.

#![warn(missing_docs)]

pub mod delivery;
pub mod derive;
pub mod envelope;
pub mod feed;
pub mod kind;
pub mod mirror;
pub mod sign;

pub use envelope::{Draft, Event};
pub use kind::{EventType, TypeSet};
