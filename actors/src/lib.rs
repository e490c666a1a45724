//! The three actors of the orchestration core as plain state machines:
//! [`order::OrderState`], [`cell::CellState`] (one SKU at one facility) and
//! [`facility::FacilityState`], plus the per-SKU [`backorder::DeskState`],
//! the routing planner and the placement driver that turns a plan into
//! reservations.
//!
//! Architecture invariant: nothing here knows about actix, HTTP, sled or
//! Prometheus, nothing blocks, and nothing sends a message. Decisions
//! (`decide_*`) never mutate; `apply` never refuses. The runtime wraps each
//! state machine in an actor; [`sim::World`] drives them all in one thread.

pub mod audit;
pub mod backorder;
pub mod cell;
pub mod facility;
pub mod hold;
pub mod ids;
pub mod log;
pub mod order;
pub mod placement;
pub mod routing;
pub mod shipping;
pub mod sim;

pub use ids::{CellKey, FacilityIdx, FulfillmentRef, LineRef, OrderNo, SkuIdx};
