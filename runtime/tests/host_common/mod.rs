//! What the tests of the engine host (`host.rs`) and of the application
//! over it (`hosted.rs`, `host_passive.rs`) build alike: the instant they start at, a
//! facility, a hold of SKU-0, and an fsync journal whose writes fail while
//! told to.

use std::sync::Arc;

use orch_config::{DurabilityMode, FacilityConfig, FacilityKind, Millis, WavePolicy};
use orch_journal::{FaultInjector, JournalOptions, Mode};
use orch_runtime::persist::Durability;

/// Midnight UTC, 2026-11-27.
pub const T0: Millis = 1_795_737_600_000;

/// A DC at a point, waves of up to 100 after at most `wait_ms_max`.
pub fn facility(id: &str, lat: f64, lon: f64, wait_ms_max: u64) -> FacilityConfig {
    FacilityConfig {
        id: id.into(),
        kind: FacilityKind::Dc,
        lat,
        lon,
        capacity_per_hour: 1_000,
        cost_per_fulfillment: 1.0,
        zones: vec!["A".into()],
        wave: WavePolicy {
            size_max: 100,
            wait_ms_max,
        },
        cutoffs: vec![],
        enabled: true,
    }
}

/// An fsync journal in `dir` whose writes fail while `fault` says so.
#[allow(dead_code)] // host_passive.rs opens its journal from the config
pub fn faulty_journal(dir: &std::path::Path, fault: &FaultInjector) -> Arc<Durability> {
    let opts = JournalOptions {
        mode: Mode::Fsync,
        fault: Some(fault.clone()),
        retry_failed_batches: true,
        ..JournalOptions::default()
    };
    let d = Durability::open_with(DurabilityMode::Fsync, dir.join("journal"), opts);
    Arc::new(d.unwrap().0)
}

/// A 10-minute hold of `qty` SKU-0 shipping to New York, all or nothing.
#[allow(dead_code)] // host.rs builds no holds
pub fn hold(id: &str, qty: i64) -> orch_runtime::dto::HoldInput {
    use orch_runtime::dto::{HoldInput, LineInput, ShipTo};
    HoldInput {
        hold_id: id.into(),
        ship_to: ShipTo {
            lat: 40.7,
            lon: -74.0,
        },
        service_level: None,
        ttl_s: Some(600),
        lines: vec![LineInput {
            sku: "SKU-0".into(),
            qty,
        }],
        allow_partial: Some(false),
    }
}
