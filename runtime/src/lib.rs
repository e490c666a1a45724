//! The runtime around the actors: the actix shells, the registry that
//! activates an actor on its first message and places it on an arbiter by
//! key, the read-only views, and the [`facade::Orchestrator`] that the HTTP
//! API and the in-process load tester both call.
//!
//! Architecture invariant: only this crate touches actix, the disk and the
//! network; the decisions stay in `orch_actors`.

pub mod app;
pub mod catalog;
pub mod clock;
pub mod dto;
pub mod error;
pub mod events_out;
pub mod facade;
pub mod host;
pub mod hosted;
pub mod http;
pub mod idempotency;
pub mod metrics;
pub mod nearby;
pub mod persist;
pub mod present;
pub mod sampler;
pub mod serve;
pub mod shared;
pub mod shell;
pub mod validate;
pub mod view;
pub mod webhooks;

pub use app::Core;
pub use error::{ApiError, ErrorKind};
pub use facade::Orchestrator;
