//! Typed configuration of the order orchestration core.
//!
//! This crate owns what the orchestrator is told before it starts: the
//! fulfillment network (facilities, catalog, starting stock), the routing
//! rules, wave policies, carriers (rate cards, delivery days, pickup
//! cutoffs), durability, listen addresses, limits and runtime settings; the
//! TOML file schema with its defaults; the validation that turns a bad file
//! into a message a person can act on (`orchestrator.toml: facilities[2].lat:
//! must be between -90 and 90, got 91 (line 9)`);
//! and the seeded BF-1 generator that provides the embedded demo network, so
//! the program runs with no file at all.
//!
//! It knows nothing about actors, HTTP, or disk beyond reading one TOML file.

#![warn(missing_docs)]

pub mod bf1;
pub mod carriers;
pub mod geo;
pub mod load;
pub mod model;
pub mod validate;

pub use load::{embedded_default, from_toml_str, load_file, ConfigError};
pub use model::*;
