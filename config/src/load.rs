//! Reading a configuration: the TOML file schema, its defaults, and error
//! messages that name the file, the dotted key and what is wrong.
//!
//! Every section is optional. With no file at all (or an empty one) the
//! result is [`embedded_default`]: BF-1 at scale 0.1, seed 42.
//!
//! ```toml
//! [network]                    # either generate ...
//! generate = { profile = "bf-1", scale = 0.1, seed = 42 }
//!
//! [[facilities]]               # ... or an explicit network, not both
//! id = "DC-01"
//! kind = "dc"                  # dc | store | dark_store
//! lat = 40.7
//! lon = -74.0
//! capacity_per_hour = 50000    # omitted keys take the BF-1 value of the kind
//! cost_per_fulfillment = 1.0
//! zones = ["A", "B"]
//! enabled = true
//! wave = { size_max = 500, wait_ms_max = 2000 }
//! cutoffs = [{ carrier = "UPS", at = "15:00", service_levels = ["same_day"] }]
//!
//! [catalog]
//! skus = ["SKU-1", "SKU-2"]
//!
//! [[stock]]
//! sku = "SKU-1"
//! facility_id = "DC-01"
//! on_hand = 10
//! safety_stock = 0             # default 0
//!
//! [routing]
//! weights = { distance_per_km = 0.01, cost = 1.0, capacity_used = 2.0, split_penalty = 5.0 }
//! max_splits = 3
//! excluded_facilities = []
//! [routing.service_level.same_day]   # weights (partial: the rest from [routing]),
//! excluded_kinds = ["store"]         # max_splits, excluded_facilities, excluded_kinds
//! [routing.channel.marketplace]
//! max_splits = 1
//!
//! [durability]
//! mode = "fsync"               # fsync | os | none
//! data_dir = "data"
//! batch_bytes_max = 1048576
//! batch_wait_us_max = 2000
//! segment_bytes_max = 67108864
//! snapshot_interval_ms = 60000
//! snapshot_events_max = 1000000
//! passivate_after_ms = 300000
//! events_retention_ms = 604800000   # the event feed: 7 days
//! events_bytes_max = 1073741824     # and 1 GiB of event JSON
//! events_memory_max = 100000        # the newest events in memory, older from disk
//! orders_retention_ms = 7776000000  # finished orders, ended holds forgotten after 90 days
//!
//! [listen]
//! http = "127.0.0.1:8080"
//! metrics = "127.0.0.1:9090"   # default: none (metrics on the HTTP port)
//!
//! [limits]
//! body_bytes_max = 1048576
//! order_lines_max = 200
//! batch_orders_max = 1000
//! scan_events_max = 5000
//! id_len_max = 128
//! qty_max = 1000000
//! inflight_requests_max = 4096
//! hold_ttl_s_max = 14400
//! holds_per_shard_max = 1000000
//! shard_inbox_max = 65536          # the shard engine's bounds per shard
//! shard_in_flight_max = 65536
//! seen_ids_max = 1000000
//! order_events_max = 1000     # timeline entries per order; then scans rejected
//!
//! [runtime]
//! workers = 0                  # 0 = one per core
//! mailbox_capacity = 1024
//! wave_tick_ms = 100
//! engine = "host"              # host (the shard engine, default) | shells
//!
//! [auth]
//! token = "secret"             # default: none (open API)
//!
//! [webhooks]
//! ca_file = "/etc/orch/ca.pem" # extra roots for https endpoints; default: web PKI only
//!
//! [[carriers]]                 # default: the BF-1 carriers for the network
//! id = "UPS"
//! [[carriers.services]]
//! id = "ground"
//! bands = [{ km_max = 300.0, base = 6.1, per_unit = 0.7, transit_days = 2 }]
//! delivery_days = ["mon", "tue", "wed", "thu", "fri"]
//! cutoffs = { "DC-01" = "18:00" }  # UTC pickup per facility id; others: none
//! ```
//!
//! With no `[[carriers]]` the network gets the BF-1 carriers
//! ([`crate::carriers::bf1`]: 3 carriers, 6 services, cutoffs by facility
//! kind), whether the network is generated or explicit. Carriers named in
//! the file replace that set entirely.
//!
//! Every number has a range, checked at load with an error that names the
//! key and the bound: `[limits]` in [`crate::validate::LIMIT_RANGES`]
//! (`order_lines_max` at most 10,000, under the core's `u16` line
//! numbers), `[durability]` in [`crate::validate::DURABILITY_RANGES`], and
//! the constants beside them for capacity, waves, stock, splits, runtime
//! and transit days ([`crate::carriers::TRANSIT_DAYS_MAX`]).
//!
//! An explicit network is put in canonical order after validation:
//! facilities by id, SKUs ascending, stock by (sku, facility); carriers by
//! id. Error keys refer to the file's own order.

mod carriers;
mod de;
mod spans;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bf1::{self, Bf1Params};
use crate::model::{
    CarrierCutoff, Config, DurabilityConfig, DurabilityMode, EngineKind, FacilityConfig,
    FacilityKind, Limits, ListenConfig, Network, RoutingOverride, RoutingRules, RoutingWeights,
    RuntimeConfig, ServiceLevel, StockEntry, WavePolicy,
};
use crate::validate::validate;
use spans::KeySpans;

/// A configuration that cannot be used, and why.
///
/// Displays as `{file}: {key}: {message}`, for example
/// `orchestrator.toml: routing.max_splits: must be at least 1, got 0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct ConfigError {
    /// The file (as given), or a label such as `(embedded)`.
    pub file: String,
    /// Dotted path of the offending key, e.g. `facilities[2].wave.size_max`;
    /// `(file)` when the file as a whole is at fault.
    pub key: String,
    /// What is wrong and what was found.
    pub message: String,
}

impl ConfigError {
    /// Builds an error.
    pub fn new(
        file: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: file.into(),
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The default BF-1 network profile name.
pub const BF1_PROFILE: &str = "bf-1";
/// Largest BF-1 scale a file may ask for (12.8 million cells at 10; 100 is
/// already 128 million).
pub const BF1_SCALE_MAX: f64 = 100.0;

/// The configuration used when there is no file: BF-1 at scale 0.1, seed 42,
/// every other section at its default.
pub fn embedded_default() -> Config {
    Config {
        durability: crate::DurabilityConfig::default(),
        ..Config::with_network(bf1::generate(&Bf1Params::default()))
    }
}

/// Reads, parses and validates one TOML file.
///
/// A file that cannot be read is an error with key `(file)`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&file, "(file)", format!("cannot read the file: {e}")))?;
    from_toml_str(&text, &file)
}

/// Parses and validates TOML text; `file` names it in errors.
///
/// Every error about a key the file defines ends with its line:
/// `o.toml: carriers[1].services[0].bands[2].km_max: must be above the
/// previous band's 300 km, got 100 (line 14)`.
pub fn from_toml_str(text: &str, file: &str) -> Result<Config, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e| syntax_error(text, file, &e))?;
    let mut raw: RawConfig = de::from_value(&toml::Value::Table(table)).map_err(|e| {
        let key = e.key.unwrap_or_default();
        let key = if key.is_empty() { "(file)" } else { &key };
        with_line(text, ConfigError::new(file, key, e.message))
    })?;
    let raw_carriers = raw.carriers.take();
    let checked = |mut cfg: Config| -> Result<Config, ConfigError> {
        if let Some(c) = &raw_carriers {
            cfg.carriers = carriers::from_raw(c, &cfg.network, file)?;
        }
        validate(&cfg, file)?;
        Ok(cfg)
    };
    let mut cfg = raw
        .into_config(file)
        .and_then(checked)
        .map_err(|e| with_line(text, e))?;
    cfg.network.sort_canonical();
    // Cutoffs are kept by facility index: derive them again on the sorted
    // network (the ids were checked above).
    cfg.carriers = match &raw_carriers {
        Some(c) => carriers::from_raw(c, &cfg.network, file)?,
        None => crate::carriers::bf1(&cfg.network),
    };
    cfg.carriers.carriers.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(cfg)
}

/// Appends ` (line N)` to the message when the file defines the key (or
/// a key enclosing it).
fn with_line(text: &str, e: ConfigError) -> ConfigError {
    match KeySpans::parse(text).and_then(|s| s.line_of(text, &e.key)) {
        Some(line) => ConfigError {
            message: format!("{} (line {line})", e.message),
            ..e
        },
        None => e,
    }
}

/// Writes `cfg` in the file schema, network explicit; [`from_toml_str`]
/// reads it back to an equal `Config`.
///
/// Fails only if a setting cannot be written as TOML (an integer above
/// `i64::MAX`).
pub fn to_toml_string(cfg: &Config) -> Result<String, ConfigError> {
    toml::to_string(&RawConfig::from_config(cfg))
        .map_err(|e| ConfigError::new("(generated)", "(file)", e.to_string()))
}

fn syntax_error(text: &str, file: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let (line, col) = spans::line_col(text, span.start);
            let key = spans::key_at_error(text, span.start).unwrap_or_else(|| "(file)".to_string());
            ConfigError::new(
                file,
                key,
                format!("TOML syntax error at line {line}, column {col}: {message}"),
            )
        }
        None => ConfigError::new(file, "(file)", format!("TOML syntax error: {message}")),
    }
}

// ---------------------------------------------------------------------------
// The file schema.

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network: Option<RawNetwork>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    facilities: Option<Vec<RawFacility>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    catalog: Option<RawCatalog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stock: Option<Vec<RawStock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    routing: Option<RawRouting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    durability: Option<RawDurability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listen: Option<RawListen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limits: Option<RawLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime: Option<RawRuntime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth: Option<RawAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhooks: Option<RawWebhooks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    carriers: Option<Vec<carriers::RawCarrier>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generate: Option<RawGenerate>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawGenerate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawFacility {
    id: String,
    kind: FacilityKind,
    lat: f64,
    lon: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capacity_per_hour: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost_per_fulfillment: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zones: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wave: Option<RawWave>,
    #[serde(default)]
    cutoffs: Vec<RawCutoff>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawWave {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size_max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wait_ms_max: Option<u64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawCutoff {
    carrier: String,
    at: String,
    service_levels: Vec<ServiceLevel>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    skus: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawStock {
    sku: String,
    facility_id: String,
    on_hand: u32,
    #[serde(default)]
    safety_stock: u32,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawWeights {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    distance_per_km: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capacity_used: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    split_penalty: Option<f64>,
}

impl RawWeights {
    fn resolve(&self, base: RoutingWeights) -> RoutingWeights {
        RoutingWeights {
            distance_per_km: self.distance_per_km.unwrap_or(base.distance_per_km),
            cost: self.cost.unwrap_or(base.cost),
            capacity_used: self.capacity_used.unwrap_or(base.capacity_used),
            split_penalty: self.split_penalty.unwrap_or(base.split_penalty),
        }
    }

    fn from_weights(w: &RoutingWeights) -> RawWeights {
        RawWeights {
            distance_per_km: Some(w.distance_per_km),
            cost: Some(w.cost),
            capacity_used: Some(w.capacity_used),
            split_penalty: Some(w.split_penalty),
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawRouting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weights: Option<RawWeights>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_splits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    excluded_facilities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_level: Option<BTreeMap<String, RawOverride>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<BTreeMap<String, RawOverride>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weights: Option<RawWeights>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_splits: Option<u32>,
    #[serde(default)]
    excluded_facilities: Vec<String>,
    #[serde(default)]
    excluded_kinds: Vec<FacilityKind>,
}

impl RawOverride {
    fn resolve(&self, base: RoutingWeights) -> RoutingOverride {
        RoutingOverride {
            weights: self.weights.as_ref().map(|w| w.resolve(base)),
            max_splits: self.max_splits,
            excluded_facilities: self.excluded_facilities.clone(),
            excluded_kinds: self.excluded_kinds.clone(),
        }
    }

    fn from_override(o: &RoutingOverride) -> RawOverride {
        RawOverride {
            weights: o.weights.as_ref().map(RawWeights::from_weights),
            max_splits: o.max_splits,
            excluded_facilities: o.excluded_facilities.clone(),
            excluded_kinds: o.excluded_kinds.clone(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct RawDurability {
    mode: DurabilityMode,
    data_dir: String,
    batch_bytes_max: u32,
    batch_wait_us_max: u64,
    segment_bytes_max: u64,
    snapshot_interval_ms: u64,
    snapshot_events_max: u64,
    passivate_after_ms: u64,
    events_retention_ms: u64,
    events_bytes_max: u64,
    events_memory_max: u64,
    orders_retention_ms: u64,
}

impl Default for RawDurability {
    fn default() -> Self {
        RawDurability::from(DurabilityConfig::default())
    }
}

impl From<DurabilityConfig> for RawDurability {
    fn from(d: DurabilityConfig) -> Self {
        RawDurability {
            mode: d.mode,
            data_dir: d.data_dir,
            batch_bytes_max: d.batch_bytes_max,
            batch_wait_us_max: d.batch_wait_us_max,
            segment_bytes_max: d.segment_bytes_max,
            snapshot_interval_ms: d.snapshot_interval_ms,
            snapshot_events_max: d.snapshot_events_max,
            passivate_after_ms: d.passivate_after_ms,
            events_retention_ms: d.events_retention_ms,
            events_bytes_max: d.events_bytes_max,
            events_memory_max: d.events_memory_max,
            orders_retention_ms: d.orders_retention_ms,
        }
    }
}

impl From<RawDurability> for DurabilityConfig {
    fn from(d: RawDurability) -> Self {
        DurabilityConfig {
            mode: d.mode,
            data_dir: d.data_dir,
            batch_bytes_max: d.batch_bytes_max,
            batch_wait_us_max: d.batch_wait_us_max,
            segment_bytes_max: d.segment_bytes_max,
            snapshot_interval_ms: d.snapshot_interval_ms,
            snapshot_events_max: d.snapshot_events_max,
            passivate_after_ms: d.passivate_after_ms,
            events_retention_ms: d.events_retention_ms,
            events_bytes_max: d.events_bytes_max,
            events_memory_max: d.events_memory_max,
            orders_retention_ms: d.orders_retention_ms,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct RawListen {
    http: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<String>,
}

impl Default for RawListen {
    fn default() -> Self {
        let d = ListenConfig::default();
        RawListen {
            http: d.http,
            metrics: d.metrics,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct RawLimits {
    body_bytes_max: u32,
    order_lines_max: u32,
    batch_orders_max: u32,
    scan_events_max: u32,
    id_len_max: u32,
    qty_max: u32,
    inflight_requests_max: u32,
    hold_ttl_s_max: u32,
    holds_per_shard_max: u32,
    shard_inbox_max: u32,
    shard_in_flight_max: u32,
    seen_ids_max: u32,
    order_events_max: u32,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits::from(Limits::default())
    }
}

impl From<Limits> for RawLimits {
    fn from(l: Limits) -> Self {
        RawLimits {
            body_bytes_max: l.body_bytes_max,
            order_lines_max: l.order_lines_max,
            batch_orders_max: l.batch_orders_max,
            scan_events_max: l.scan_events_max,
            id_len_max: l.id_len_max,
            qty_max: l.qty_max,
            inflight_requests_max: l.inflight_requests_max,
            hold_ttl_s_max: l.hold_ttl_s_max,
            holds_per_shard_max: l.holds_per_shard_max,
            shard_inbox_max: l.shard_inbox_max,
            shard_in_flight_max: l.shard_in_flight_max,
            seen_ids_max: l.seen_ids_max,
            order_events_max: l.order_events_max,
        }
    }
}

impl From<RawLimits> for Limits {
    fn from(l: RawLimits) -> Self {
        Limits {
            body_bytes_max: l.body_bytes_max,
            order_lines_max: l.order_lines_max,
            batch_orders_max: l.batch_orders_max,
            scan_events_max: l.scan_events_max,
            id_len_max: l.id_len_max,
            qty_max: l.qty_max,
            inflight_requests_max: l.inflight_requests_max,
            hold_ttl_s_max: l.hold_ttl_s_max,
            holds_per_shard_max: l.holds_per_shard_max,
            shard_inbox_max: l.shard_inbox_max,
            shard_in_flight_max: l.shard_in_flight_max,
            seen_ids_max: l.seen_ids_max,
            order_events_max: l.order_events_max,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct RawRuntime {
    workers: u32,
    mailbox_capacity: u32,
    wave_tick_ms: u64,
    engine: EngineKind,
}

impl Default for RawRuntime {
    fn default() -> Self {
        let r = RuntimeConfig::default();
        RawRuntime {
            workers: r.workers,
            mailbox_capacity: r.mailbox_capacity,
            wave_tick_ms: r.wave_tick_ms,
            engine: r.engine,
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct RawAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawWebhooks {
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
}

// ---------------------------------------------------------------------------
// Raw to typed, and back.

/// Parses `HH:MM` or `H:MM` (UTC, 00:00..=23:59) into minutes after midnight.
fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let digits = |p: &str, lens: std::ops::RangeInclusive<usize>| {
        lens.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Formats minutes after midnight as `HH:MM`.
fn format_hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Values an explicit facility takes for the keys the file leaves out: the
/// BF-1 values of its kind (dark stores: between the two).
fn facility_defaults(kind: FacilityKind) -> (u32, f64, &'static [&'static str], WavePolicy) {
    match kind {
        FacilityKind::Dc => (
            50_000,
            1.0,
            &["A", "B", "C", "D", "E", "F"],
            WavePolicy {
                size_max: 500,
                wait_ms_max: 2000,
            },
        ),
        FacilityKind::Store => (
            500,
            1.6,
            &["FRONT", "BACK"],
            WavePolicy {
                size_max: 20,
                wait_ms_max: 5000,
            },
        ),
        FacilityKind::DarkStore => (
            2000,
            1.3,
            &["FRONT", "BACK"],
            WavePolicy {
                size_max: 50,
                wait_ms_max: 3000,
            },
        ),
    }
}

impl RawFacility {
    fn into_config(self, i: usize, file: &str) -> Result<FacilityConfig, ConfigError> {
        let (capacity, cost, zones, wave) = facility_defaults(self.kind);
        let raw_wave = self.wave.unwrap_or_default();
        let cutoffs = self
            .cutoffs
            .into_iter()
            .enumerate()
            .map(|(j, c)| {
                let minute_of_day = parse_hhmm(&c.at).ok_or_else(|| {
                    ConfigError::new(
                        file,
                        format!("facilities[{i}].cutoffs[{j}].at"),
                        format!(
                            "must be a UTC time of day \"HH:MM\" from 00:00 to 23:59, got {:?}",
                            c.at
                        ),
                    )
                })?;
                Ok(CarrierCutoff {
                    carrier: c.carrier,
                    minute_of_day,
                    service_levels: c.service_levels,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(FacilityConfig {
            id: self.id,
            kind: self.kind,
            lat: self.lat,
            lon: self.lon,
            capacity_per_hour: self.capacity_per_hour.unwrap_or(capacity),
            cost_per_fulfillment: self.cost_per_fulfillment.unwrap_or(cost),
            zones: self
                .zones
                .unwrap_or_else(|| zones.iter().map(|z| z.to_string()).collect()),
            wave: WavePolicy {
                size_max: raw_wave.size_max.unwrap_or(wave.size_max),
                wait_ms_max: raw_wave.wait_ms_max.unwrap_or(wave.wait_ms_max),
            },
            cutoffs,
            enabled: self.enabled.unwrap_or(true),
        })
    }

    fn from_config(f: &FacilityConfig) -> RawFacility {
        RawFacility {
            id: f.id.clone(),
            kind: f.kind,
            lat: f.lat,
            lon: f.lon,
            capacity_per_hour: Some(f.capacity_per_hour),
            cost_per_fulfillment: Some(f.cost_per_fulfillment),
            zones: Some(f.zones.clone()),
            enabled: Some(f.enabled),
            wave: Some(RawWave {
                size_max: Some(f.wave.size_max),
                wait_ms_max: Some(f.wave.wait_ms_max),
            }),
            cutoffs: f
                .cutoffs
                .iter()
                .map(|c| RawCutoff {
                    carrier: c.carrier.clone(),
                    at: format_hhmm(c.minute_of_day),
                    service_levels: c.service_levels.clone(),
                })
                .collect(),
        }
    }
}

impl RawConfig {
    fn into_config(self, file: &str) -> Result<Config, ConfigError> {
        let err = |key: &str, message: String| ConfigError::new(file, key, message);
        let explicit = self.facilities.is_some() || self.catalog.is_some() || self.stock.is_some();
        let generate = self.network.and_then(|n| n.generate);
        let network = match (generate, explicit) {
            (Some(_), true) => {
                return Err(err(
                    "network.generate",
                    "cannot be combined with an explicit network ([[facilities]], [catalog], \
                     [[stock]]); keep one or the other"
                        .to_string(),
                ))
            }
            (generate, false) => {
                let g = generate.unwrap_or_default();
                let profile = g.profile.as_deref().unwrap_or(BF1_PROFILE);
                if !profile.eq_ignore_ascii_case(BF1_PROFILE) {
                    return Err(err(
                        "network.generate.profile",
                        format!("unknown profile {profile:?}, expected \"{BF1_PROFILE}\""),
                    ));
                }
                let defaults = Bf1Params::default();
                let scale = g.scale.unwrap_or(defaults.scale);
                if !(scale.is_finite() && scale > 0.0 && scale <= BF1_SCALE_MAX) {
                    return Err(err(
                        "network.generate.scale",
                        format!("must be greater than 0 and at most {BF1_SCALE_MAX}, got {scale}"),
                    ));
                }
                let seed = g.seed.unwrap_or(defaults.seed);
                bf1::generate(&Bf1Params { scale, seed })
            }
            (None, true) => explicit_network(
                self.facilities.unwrap_or_default(),
                self.catalog.map(|c| c.skus).unwrap_or_default(),
                self.stock.unwrap_or_default(),
                file,
            )?,
        };

        let routing = match self.routing {
            None => RoutingRules::default(),
            Some(r) => {
                let defaults = RoutingRules::default();
                let weights = r
                    .weights
                    .as_ref()
                    .map_or(defaults.weights, |w| w.resolve(defaults.weights));
                let by_service_level = match &r.service_level {
                    None => defaults.by_service_level,
                    Some(map) => {
                        let mut v = Vec::with_capacity(map.len());
                        for (name, o) in map {
                            let level = ServiceLevel::parse(name).ok_or_else(|| {
                                err(
                                    &format!("routing.service_level.{name}"),
                                    format!(
                                        "unknown service level {name:?}, expected one of \
                                         `same_day`, `next_day`, `standard`"
                                    ),
                                )
                            })?;
                            v.push((level, o.resolve(weights)));
                        }
                        v.sort_by_key(|(level, _)| *level);
                        v
                    }
                };
                let by_channel = r
                    .channel
                    .as_ref()
                    .map(|map| {
                        map.iter()
                            .map(|(name, o)| (name.clone(), o.resolve(weights)))
                            .collect()
                    })
                    .unwrap_or_default();
                RoutingRules {
                    weights,
                    max_splits: r.max_splits.unwrap_or(defaults.max_splits),
                    excluded_facilities: r.excluded_facilities.unwrap_or_default(),
                    by_service_level,
                    by_channel,
                }
            }
        };

        let listen = self.listen.unwrap_or_default();
        let runtime = self.runtime.unwrap_or_default();
        Ok(Config {
            carriers: crate::carriers::bf1(&network),
            network,
            routing,
            durability: self.durability.unwrap_or_default().into(),
            listen: ListenConfig {
                http: listen.http,
                metrics: listen.metrics,
            },
            limits: self.limits.unwrap_or_default().into(),
            runtime: RuntimeConfig {
                workers: runtime.workers,
                mailbox_capacity: runtime.mailbox_capacity,
                wave_tick_ms: runtime.wave_tick_ms,
                engine: runtime.engine,
            },
            auth: crate::model::AuthConfig {
                token: self.auth.unwrap_or_default().token,
            },
            webhooks: crate::model::WebhooksConfig {
                ca_file: self.webhooks.unwrap_or_default().ca_file,
            },
        })
    }

    fn from_config(cfg: &Config) -> RawConfig {
        let n = &cfg.network;
        let r = &cfg.routing;
        RawConfig {
            network: None,
            facilities: Some(n.facilities.iter().map(RawFacility::from_config).collect()),
            catalog: Some(RawCatalog {
                skus: n.skus.clone(),
            }),
            stock: Some(
                n.stock
                    .iter()
                    .map(|e| RawStock {
                        sku: n.skus[e.sku as usize].clone(),
                        facility_id: n.facilities[e.facility as usize].id.clone(),
                        on_hand: e.on_hand,
                        safety_stock: e.safety_stock,
                    })
                    .collect(),
            ),
            routing: Some(RawRouting {
                weights: Some(RawWeights::from_weights(&r.weights)),
                max_splits: Some(r.max_splits),
                excluded_facilities: Some(r.excluded_facilities.clone()),
                service_level: Some(
                    r.by_service_level
                        .iter()
                        .map(|(l, o)| (l.as_str().to_string(), RawOverride::from_override(o)))
                        .collect(),
                ),
                channel: Some(
                    r.by_channel
                        .iter()
                        .map(|(c, o)| (c.clone(), RawOverride::from_override(o)))
                        .collect(),
                ),
            }),
            durability: Some(cfg.durability.clone().into()),
            listen: Some(RawListen {
                http: cfg.listen.http.clone(),
                metrics: cfg.listen.metrics.clone(),
            }),
            limits: Some(cfg.limits.into()),
            runtime: Some(RawRuntime {
                workers: cfg.runtime.workers,
                mailbox_capacity: cfg.runtime.mailbox_capacity,
                wave_tick_ms: cfg.runtime.wave_tick_ms,
                engine: cfg.runtime.engine,
            }),
            auth: Some(RawAuth {
                token: cfg.auth.token.clone(),
            }),
            webhooks: Some(RawWebhooks {
                ca_file: cfg.webhooks.ca_file.clone(),
            }),
            carriers: Some(carriers::to_raw(&cfg.carriers, n)),
        }
    }
}

/// Builds an explicit network in file order; stock names become indices.
fn explicit_network(
    facilities: Vec<RawFacility>,
    skus: Vec<String>,
    stock: Vec<RawStock>,
    file: &str,
) -> Result<Network, ConfigError> {
    let max_facilities = u16::MAX as usize + 1;
    if facilities.len() > max_facilities {
        return Err(ConfigError::new(
            file,
            "facilities",
            format!(
                "at most {max_facilities} facilities, got {}",
                facilities.len()
            ),
        ));
    }
    if skus.len() > u32::MAX as usize {
        return Err(ConfigError::new(
            file,
            "catalog.skus",
            format!("at most {} skus, got {}", u32::MAX, skus.len()),
        ));
    }
    let facilities = facilities
        .into_iter()
        .enumerate()
        .map(|(i, f)| f.into_config(i, file))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sku_index: HashMap<&str, u32> = HashMap::with_capacity(skus.len());
    for (i, s) in skus.iter().enumerate() {
        sku_index.entry(s.as_str()).or_insert(i as u32);
    }
    let mut fac_index: HashMap<&str, u16> = HashMap::with_capacity(facilities.len());
    for (i, f) in facilities.iter().enumerate() {
        fac_index.entry(f.id.as_str()).or_insert(i as u16);
    }
    let mut entries = Vec::with_capacity(stock.len());
    for (i, s) in stock.iter().enumerate() {
        let sku = *sku_index.get(s.sku.as_str()).ok_or_else(|| {
            ConfigError::new(
                file,
                format!("stock[{i}].sku"),
                format!("unknown sku {:?} (not in catalog.skus)", s.sku),
            )
        })?;
        let facility = *fac_index.get(s.facility_id.as_str()).ok_or_else(|| {
            ConfigError::new(
                file,
                format!("stock[{i}].facility_id"),
                format!(
                    "unknown facility {:?} (no [[facilities]] has this id)",
                    s.facility_id
                ),
            )
        })?;
        entries.push(StockEntry {
            sku,
            facility,
            on_hand: s.on_hand,
            safety_stock: s.safety_stock,
        });
    }
    Ok(Network {
        facilities,
        skus,
        stock: entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("00:00"), Some(0));
        assert_eq!(parse_hhmm("15:00"), Some(900));
        assert_eq!(parse_hhmm("9:05"), Some(545));
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        for bad in [
            "24:00", "25:00", "12:60", "12", "12:5", "", ":", "1:2:3", "+1:00", "aa:bb",
        ] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
        assert_eq!(format_hhmm(900), "15:00");
        assert_eq!(format_hhmm(545), "09:05");
    }
}
