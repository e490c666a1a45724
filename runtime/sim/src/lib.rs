#![warn(missing_docs)]
//! A deterministic simulator of the shard engine: from one seed it chooses
//! a network, a workload of every operation, a schedule (through the
//! engine's seeded serial [`orch_engine::Cluster`]), disk faults and
//! power-loss crashes, and checks the invariants from its own book of what
//! it sent and had acknowledged.
//!
//! - [`options`]: what a seed chooses.
//! - [`network`]: the network and stock a seed chooses.
//! - [`disk`]: the simulated journal file: records, fsync, torn tails.
//! - [`book`]: what the simulator sent and had acknowledged.
//! - [`holds`]: the book of holds and the hold checks.
//! - [`run`]: one seed's run and its checks.
//! - [`bugs`]: the deliberate bugs (their hooks need feature `bugs`).

pub mod book;
pub mod bugs;
pub mod disk;
pub mod holds;
pub mod network;
pub mod options;
pub mod run;

pub use bugs::Bug;
pub use options::SimOptions;
pub use run::{run_seed, Outcome};
