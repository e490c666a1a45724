//! Checks a [`Config`] before anything runs on it.
//!
//! The first problem found is returned as a [`ConfigError`] naming the
//! dotted key in the file schema (`facilities[3].lat`, `stock[12].sku`,
//! `routing.service_level.same_day.max_splits`), what is wrong and what was
//! found. Indices are positions in the `Config` as given, which for a loaded
//! file is the file's own order.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::load::ConfigError;
use crate::model::{Config, FacilityConfig, Network, RoutingOverride, RoutingWeights};

/// Longest id (facility, SKU, channel) a configuration may use.
pub const ID_LEN_MAX: usize = 128;

/// Smallest journal batch (`durability.batch_bytes_max`).
pub const BATCH_BYTES_MIN: u32 = 4096;

/// The range of each `[durability]` number: `(key, min, max)`.
///
/// A batch is held whole in memory (64 MiB at most) and waits at most 1 s
/// for company; a segment is at most 1 GiB; a snapshot is taken at least
/// weekly or every billion events; a finished order stays in memory at
/// most a week; events are kept a minute to a quarter, in 1 MiB to 64 GiB,
/// of which 1 to 10 million stay in memory; finished orders are kept a day
/// to ten years.
pub const DURABILITY_RANGES: [(&str, u64, u64); 10] = [
    ("batch_bytes_max", BATCH_BYTES_MIN as u64, 64 * 1024 * 1024),
    ("batch_wait_us_max", 0, 1_000_000),
    ("segment_bytes_max", 1, 1024 * 1024 * 1024),
    ("snapshot_interval_ms", 0, WEEK_MS),
    ("snapshot_events_max", 0, 1_000_000_000),
    ("passivate_after_ms", 0, WEEK_MS),
    ("events_retention_ms", 60_000, 13 * WEEK_MS),
    ("events_bytes_max", 1 << 20, 64 << 30),
    ("events_memory_max", 1, 10_000_000),
    (
        "orders_retention_ms",
        24 * 3_600_000,
        3_650 * 24 * 3_600_000,
    ),
];

const WEEK_MS: u64 = 7 * 24 * 3600 * 1000;

/// The range of `facilities[i].capacity_per_hour`: up to 10 million
/// fulfillments an hour.
pub const CAPACITY_PER_HOUR_RANGE: (u32, u32) = (1, 10_000_000);

/// The range of `facilities[i].wave.size_max`: a wave holds at most
/// 100,000 fulfillments.
pub const WAVE_SIZE_RANGE: (u32, u32) = (1, 100_000);

/// The range of `facilities[i].wave.wait_ms_max`: a queued fulfillment
/// waits at most an hour for its wave.
pub const WAVE_WAIT_MS_RANGE: (u64, u64) = (1, 3_600_000);

/// Most units in `stock[i].on_hand` or `stock[i].safety_stock`: a billion,
/// which leaves room in a `u32` cell for receipts on top.
pub const STOCK_UNITS_MAX: u32 = 1_000_000_000;

/// The range of `routing.max_splits` and of every override's: at most 100
/// fulfillments per order.
pub const MAX_SPLITS_RANGE: (u32, u32) = (1, 100);

/// Most `runtime.workers` (0 means one per core).
pub const WORKERS_MAX: u32 = 1024;

/// The range each `[limits]` setting must fall in: `(key, min, max)`.
///
/// Why the tops are where they are: order lines are numbered with `u16`
/// inside the core, so `order_lines_max` stays well below 65,535; ids and
/// quantities may not exceed what the API contract lets any client send
/// (1-128 characters, 1-1,000,000 units); bodies and batches are held
/// whole in memory while they are validated; a hold lasts at most 4 h
/// (the longest cart reservation the references allow); a shard's inbox,
/// in-flight requests and remembered ids are held in memory.
pub const LIMIT_RANGES: [(&str, u32, u32); 13] = [
    ("body_bytes_max", 1, 256 * 1024 * 1024),
    ("order_lines_max", 1, 10_000),
    ("batch_orders_max", 1, 10_000),
    ("scan_events_max", 1, 100_000),
    ("id_len_max", 1, ID_LEN_MAX as u32),
    ("qty_max", 1, 1_000_000),
    ("inflight_requests_max", 1, 1_000_000),
    ("hold_ttl_s_max", 1, 14_400),
    ("holds_per_shard_max", 1, 100_000_000),
    ("shard_inbox_max", 1, 16_777_216),
    ("shard_in_flight_max", 1, 16_777_216),
    ("seen_ids_max", 1, 100_000_000),
    ("order_events_max", 16, 100_000),
];

/// The range of `runtime.mailbox_capacity`: a bounded inbox must be bounded.
pub const MAILBOX_CAPACITY_RANGE: (u32, u32) = (1, 1 << 20);

/// The range of `runtime.wave_tick_ms`: at most a minute between wave checks.
pub const WAVE_TICK_MS_RANGE: (u64, u64) = (1, 60_000);

/// Whether `id` is 1..=128 characters of `A-Z a-z 0-9 - _ . :`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= ID_LEN_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Validates `cfg`; `file` names its source in the error.
pub fn validate(cfg: &Config, file: &str) -> Result<(), ConfigError> {
    let v = Checker { file };
    v.network(&cfg.network)?;
    v.routing(cfg)?;
    v.durability(cfg)?;
    v.listen(cfg)?;
    v.limits(cfg)?;
    v.runtime(cfg)?;
    crate::carriers::check(&cfg.carriers, cfg.network.facilities.len())
        .map_err(|(key, message)| v.err(key, message))?;
    if let Some(token) = &cfg.auth.token {
        if token.is_empty() {
            return Err(v.err(
                "auth.token",
                "must not be empty; leave the key out for an open API",
            ));
        }
    }
    if cfg
        .webhooks
        .ca_file
        .as_deref()
        .is_some_and(|f| f.trim().is_empty())
    {
        return Err(v.err(
            "webhooks.ca_file",
            "must not be empty; leave the key out for the web PKI roots only",
        ));
    }
    Ok(())
}

/// A value shown in a message: quoted, and cut if very long.
fn shown(s: &str) -> String {
    if s.chars().count() > 60 {
        let head: String = s.chars().take(40).collect();
        format!("{head:?}... ({} characters)", s.chars().count())
    } else {
        format!("{s:?}")
    }
}

struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, key, message)
    }

    fn id(&self, key: impl Into<String>, id: &str) -> Result<(), ConfigError> {
        if is_valid_id(id) {
            Ok(())
        } else {
            Err(self.err(
                key,
                format!(
                    "must be 1 to {ID_LEN_MAX} characters of A-Z a-z 0-9 - _ . :, got {}",
                    shown(id)
                ),
            ))
        }
    }

    fn within<T: PartialOrd + std::fmt::Display>(
        &self,
        key: impl Into<String>,
        value: T,
        (min, max): (T, T),
    ) -> Result<(), ConfigError> {
        if value < min || value > max {
            Err(self.err(key, format!("must be from {min} to {max}, got {value}")))
        } else {
            Ok(())
        }
    }

    /// `min..=max`, saying which end was crossed.
    fn bounded<T: PartialOrd + std::fmt::Display>(
        &self,
        key: impl Into<String>,
        value: T,
        (min, max): (T, T),
    ) -> Result<(), ConfigError> {
        if value < min {
            Err(self.err(key, format!("must be at least {min}, got {value}")))
        } else if value > max {
            Err(self.err(key, format!("must be at most {max}, got {value}")))
        } else {
            Ok(())
        }
    }

    fn in_range(&self, key: String, value: f64, lo: f64, hi: f64) -> Result<(), ConfigError> {
        if value.is_finite() && (lo..=hi).contains(&value) {
            Ok(())
        } else {
            Err(self.err(key, format!("must be between {lo} and {hi}, got {value}")))
        }
    }

    fn non_negative(&self, key: String, value: f64) -> Result<(), ConfigError> {
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(self.err(key, format!("must be a finite number >= 0, got {value}")))
        }
    }

    fn network(&self, n: &Network) -> Result<(), ConfigError> {
        if n.facilities.is_empty() {
            return Err(self.err(
                "facilities",
                "at least one facility is required, found none",
            ));
        }
        let max_facilities = u16::MAX as usize + 1;
        if n.facilities.len() > max_facilities {
            return Err(self.err(
                "facilities",
                format!(
                    "at most {max_facilities} facilities, got {}",
                    n.facilities.len()
                ),
            ));
        }
        let mut ids: HashMap<&str, usize> = HashMap::with_capacity(n.facilities.len());
        for (i, f) in n.facilities.iter().enumerate() {
            self.facility(i, f)?;
            if let Some(first) = ids.insert(f.id.as_str(), i) {
                return Err(self.err(
                    format!("facilities[{i}].id"),
                    format!(
                        "duplicate facility id {}, first at facilities[{first}]",
                        shown(&f.id)
                    ),
                ));
            }
        }

        if n.skus.is_empty() {
            return Err(self.err("catalog.skus", "at least one sku is required, found none"));
        }
        if n.skus.len() > u32::MAX as usize {
            return Err(self.err(
                "catalog.skus",
                format!("at most {} skus, got {}", u32::MAX, n.skus.len()),
            ));
        }
        let mut skus: HashMap<&str, usize> = HashMap::with_capacity(n.skus.len());
        for (i, s) in n.skus.iter().enumerate() {
            self.id(format!("catalog.skus[{i}]"), s)?;
            if let Some(first) = skus.insert(s.as_str(), i) {
                return Err(self.err(
                    format!("catalog.skus[{i}]"),
                    format!("duplicate sku {}, first at catalog.skus[{first}]", shown(s)),
                ));
            }
        }

        let mut sorted = true;
        for (i, e) in n.stock.iter().enumerate() {
            if e.sku as usize >= n.skus.len() {
                return Err(self.err(
                    format!("stock[{i}].sku"),
                    format!(
                        "refers to sku index {} but the catalog has {} skus",
                        e.sku,
                        n.skus.len()
                    ),
                ));
            }
            if e.facility as usize >= n.facilities.len() {
                return Err(self.err(
                    format!("stock[{i}].facility_id"),
                    format!(
                        "refers to facility index {} but there are {} facilities",
                        e.facility,
                        n.facilities.len()
                    ),
                ));
            }
            self.bounded(
                format!("stock[{i}].on_hand"),
                e.on_hand,
                (0, STOCK_UNITS_MAX),
            )?;
            self.bounded(
                format!("stock[{i}].safety_stock"),
                e.safety_stock,
                (0, STOCK_UNITS_MAX),
            )?;
            if i > 0 {
                let prev = &n.stock[i - 1];
                sorted &= (prev.sku, prev.facility) < (e.sku, e.facility);
            }
        }
        if !sorted {
            // Sorted input (BF-1, canonical order) has no duplicates by the
            // check above; otherwise look for them.
            let mut cells: HashMap<(u32, u16), usize> = HashMap::with_capacity(n.stock.len());
            for (i, e) in n.stock.iter().enumerate() {
                if let Some(first) = cells.insert((e.sku, e.facility), i) {
                    return Err(self.err(
                        format!("stock[{i}]"),
                        format!(
                            "duplicate cell (sku {}, facility {}), first at stock[{first}]",
                            shown(&n.skus[e.sku as usize]),
                            shown(&n.facilities[e.facility as usize].id)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn facility(&self, i: usize, f: &FacilityConfig) -> Result<(), ConfigError> {
        let key = |field: &str| format!("facilities[{i}].{field}");
        self.id(key("id"), &f.id)?;
        self.in_range(key("lat"), f.lat, -90.0, 90.0)?;
        self.in_range(key("lon"), f.lon, -180.0, 180.0)?;
        self.bounded(
            key("capacity_per_hour"),
            f.capacity_per_hour,
            CAPACITY_PER_HOUR_RANGE,
        )?;
        self.non_negative(key("cost_per_fulfillment"), f.cost_per_fulfillment)?;
        if f.zones.is_empty() {
            return Err(self.err(key("zones"), "at least one pick zone is required, got []"));
        }
        for (j, z) in f.zones.iter().enumerate() {
            if z.trim().is_empty() {
                return Err(self.err(
                    format!("facilities[{i}].zones[{j}]"),
                    "zone name must not be empty",
                ));
            }
            if let Some(first) = f.zones[..j].iter().position(|other| other == z) {
                return Err(self.err(
                    format!("facilities[{i}].zones[{j}]"),
                    format!("duplicate zone {}, first at zones[{first}]", shown(z)),
                ));
            }
        }
        self.bounded(key("wave.size_max"), f.wave.size_max, WAVE_SIZE_RANGE)?;
        self.bounded(
            key("wave.wait_ms_max"),
            f.wave.wait_ms_max,
            WAVE_WAIT_MS_RANGE,
        )?;
        for (j, c) in f.cutoffs.iter().enumerate() {
            let key = |field: &str| format!("facilities[{i}].cutoffs[{j}].{field}");
            if c.carrier.trim().is_empty() {
                return Err(self.err(key("carrier"), "carrier name must not be empty"));
            }
            if c.minute_of_day >= 24 * 60 {
                return Err(self.err(
                    key("at"),
                    format!(
                        "must be a time of day before 24:00, got minute {} of the day",
                        c.minute_of_day
                    ),
                ));
            }
            if c.service_levels.is_empty() {
                return Err(self.err(
                    key("service_levels"),
                    "at least one service level is required (same_day, next_day, standard), got []",
                ));
            }
        }
        Ok(())
    }

    fn weights(&self, prefix: &str, w: &RoutingWeights) -> Result<(), ConfigError> {
        let key = |field: &str| format!("{prefix}.weights.{field}");
        self.non_negative(key("distance_per_km"), w.distance_per_km)?;
        self.non_negative(key("cost"), w.cost)?;
        self.non_negative(key("capacity_used"), w.capacity_used)?;
        self.non_negative(key("split_penalty"), w.split_penalty)
    }

    fn excluded(
        &self,
        key: &str,
        ids: &[String],
        facilities: &HashMap<&str, ()>,
    ) -> Result<(), ConfigError> {
        for (j, id) in ids.iter().enumerate() {
            if !facilities.contains_key(id.as_str()) {
                return Err(self.err(
                    format!("{key}[{j}]"),
                    format!("unknown facility {} (no facility has this id)", shown(id)),
                ));
            }
        }
        Ok(())
    }

    fn override_(
        &self,
        prefix: &str,
        o: &RoutingOverride,
        facilities: &HashMap<&str, ()>,
    ) -> Result<(), ConfigError> {
        if let Some(w) = &o.weights {
            self.weights(prefix, w)?;
        }
        if let Some(m) = o.max_splits {
            self.bounded(format!("{prefix}.max_splits"), m, MAX_SPLITS_RANGE)?;
        }
        self.excluded(
            &format!("{prefix}.excluded_facilities"),
            &o.excluded_facilities,
            facilities,
        )
    }

    fn routing(&self, cfg: &Config) -> Result<(), ConfigError> {
        let r = &cfg.routing;
        let facilities: HashMap<&str, ()> = cfg
            .network
            .facilities
            .iter()
            .map(|f| (f.id.as_str(), ()))
            .collect();
        self.weights("routing", &r.weights)?;
        self.bounded("routing.max_splits", r.max_splits, MAX_SPLITS_RANGE)?;
        self.excluded(
            "routing.excluded_facilities",
            &r.excluded_facilities,
            &facilities,
        )?;
        for (i, (level, o)) in r.by_service_level.iter().enumerate() {
            let prefix = format!("routing.service_level.{}", level.as_str());
            if r.by_service_level[..i].iter().any(|(l, _)| l == level) {
                return Err(self.err(prefix, "override given twice"));
            }
            self.override_(&prefix, o, &facilities)?;
        }
        for (i, (channel, o)) in r.by_channel.iter().enumerate() {
            let prefix = format!("routing.channel.{channel}");
            self.id(prefix.clone(), channel).map_err(|e| ConfigError {
                message: format!("channel name {}", e.message),
                ..e
            })?;
            if r.by_channel[..i].iter().any(|(c, _)| c == channel) {
                return Err(self.err(prefix, "override given twice"));
            }
            self.override_(&prefix, o, &facilities)?;
        }
        Ok(())
    }

    fn durability(&self, cfg: &Config) -> Result<(), ConfigError> {
        let d = &cfg.durability;
        if d.data_dir.trim().is_empty() {
            return Err(self.err("durability.data_dir", "must not be empty, got \"\""));
        }
        let values = [
            u64::from(d.batch_bytes_max),
            d.batch_wait_us_max,
            d.segment_bytes_max,
            d.snapshot_interval_ms,
            d.snapshot_events_max,
            d.passivate_after_ms,
            d.events_retention_ms,
            d.events_bytes_max,
            d.events_memory_max,
            d.orders_retention_ms,
        ];
        for ((name, min, max), value) in DURABILITY_RANGES.into_iter().zip(values) {
            self.bounded(format!("durability.{name}"), value, (min, max))?;
        }
        Ok(())
    }

    fn listen(&self, cfg: &Config) -> Result<(), ConfigError> {
        let addr = |key: &str, a: &str| -> Result<(), ConfigError> {
            a.parse::<SocketAddr>().map(|_| ()).map_err(|_| {
                self.err(
                    key,
                    format!(
                        "must be an IP address and port such as \"127.0.0.1:8080\" or \"[::]:8080\", got {}",
                        shown(a)
                    ),
                )
            })
        };
        addr("listen.http", &cfg.listen.http)?;
        if let Some(m) = &cfg.listen.metrics {
            addr("listen.metrics", m)?;
        }
        Ok(())
    }

    fn limits(&self, cfg: &Config) -> Result<(), ConfigError> {
        let l = &cfg.limits;
        let values = [
            l.body_bytes_max,
            l.order_lines_max,
            l.batch_orders_max,
            l.scan_events_max,
            l.id_len_max,
            l.qty_max,
            l.inflight_requests_max,
            l.hold_ttl_s_max,
            l.holds_per_shard_max,
            l.shard_inbox_max,
            l.shard_in_flight_max,
            l.seen_ids_max,
            l.order_events_max,
        ];
        for ((name, min, max), value) in LIMIT_RANGES.into_iter().zip(values) {
            self.within(format!("limits.{name}"), value, (min, max))?;
        }
        Ok(())
    }

    fn runtime(&self, cfg: &Config) -> Result<(), ConfigError> {
        self.bounded("runtime.workers", cfg.runtime.workers, (0, WORKERS_MAX))?;
        self.within(
            "runtime.mailbox_capacity",
            cfg.runtime.mailbox_capacity,
            MAILBOX_CAPACITY_RANGE,
        )?;
        self.within(
            "runtime.wave_tick_ms",
            cfg.runtime.wave_tick_ms,
            WAVE_TICK_MS_RANGE,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("DC-01"));
        assert!(is_valid_id("a.b_c:d-9"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("has space"));
        assert!(!is_valid_id("é"));
        assert!(is_valid_id(&"x".repeat(128)));
        assert!(!is_valid_id(&"x".repeat(129)));
    }

    #[test]
    fn unsorted_duplicate_cells_are_found() {
        let mut cfg = crate::load::embedded_default();
        let first = cfg.network.stock[0];
        cfg.network.stock.push(first);
        let e = validate(&cfg, "x").unwrap_err();
        assert_eq!(e.key, format!("stock[{}]", cfg.network.stock.len() - 1));
        assert!(e.message.contains("first at stock[0]"), "{e}");
    }

    #[test]
    fn limits_have_upper_bounds() {
        let mut cfg = crate::load::embedded_default();
        cfg.limits.order_lines_max = 70_000;
        let e = validate(&cfg, "x").unwrap_err();
        assert_eq!(e.key, "limits.order_lines_max");
        assert!(e.message.contains("from 1 to 10000, got 70000"), "{e}");
        let mut cfg = crate::load::embedded_default();
        cfg.limits.id_len_max = 129;
        assert_eq!(validate(&cfg, "x").unwrap_err().key, "limits.id_len_max");
        let mut cfg = crate::load::embedded_default();
        cfg.limits.qty_max = 0;
        assert_eq!(validate(&cfg, "x").unwrap_err().key, "limits.qty_max");
        let mut cfg = crate::load::embedded_default();
        cfg.runtime.mailbox_capacity = u32::MAX;
        assert_eq!(
            validate(&cfg, "x").unwrap_err().key,
            "runtime.mailbox_capacity"
        );
        let mut cfg = crate::load::embedded_default();
        cfg.limits.order_lines_max = 10_000;
        validate(&cfg, "x").expect("the top of the range is allowed");
    }

    #[test]
    fn out_of_range_indices() {
        let mut cfg = crate::load::embedded_default();
        cfg.network.stock[3].sku = u32::MAX;
        assert_eq!(validate(&cfg, "x").unwrap_err().key, "stock[3].sku");
        let mut cfg = crate::load::embedded_default();
        cfg.network.stock[4].facility = 999;
        assert_eq!(validate(&cfg, "x").unwrap_err().key, "stock[4].facility_id");
    }
}
