//! The typed configuration: what a TOML file (or the embedded BF-1 default)
//! turns into once it has been read and validated.
//!
//! Every type here is plain data. Validation lives in `validate.rs`, loading
//! in `load.rs`, the BF-1 generator in `bf1.rs`.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch: the one clock unit of the product.
pub type Millis = u64;

/// The whole configuration of one orchestrator process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The fulfillment network: facilities, catalog and starting stock.
    pub network: Network,
    /// How orders are routed to facilities.
    pub routing: RoutingRules,
    /// Journal and snapshot settings.
    pub durability: DurabilityConfig,
    /// Listen addresses.
    pub listen: ListenConfig,
    /// Bounds on requests, batches and ids.
    pub limits: Limits,
    /// Thread and mailbox settings of the actor runtime.
    pub runtime: RuntimeConfig,
    /// Optional bearer token for `/v1` (env `ORCHESTRATOR_TOKEN` overrides).
    pub auth: AuthConfig,
    /// Webhook delivery settings.
    pub webhooks: WebhooksConfig,
    /// Carriers and their services: the file's `[[carriers]]`, else the
    /// BF-1 set for the network.
    pub carriers: crate::carriers::Carriers,
}

/// Facilities, catalog and starting stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Every facility, in id order.
    pub facilities: Vec<FacilityConfig>,
    /// Every SKU id, sorted ascending and unique. For BF-1, index order is
    /// popularity order (index 0 is the most popular SKU).
    pub skus: Vec<String>,
    /// Starting stock, one entry per (sku, facility) cell that exists,
    /// sorted by (sku, facility), no two entries for one cell.
    pub stock: Vec<StockEntry>,
}

impl Config {
    /// An in-memory configuration on `network`, for tests, benchmarks and
    /// the load tester: durability `none` (nothing touches the disk; set
    /// `durability.mode` and `durability.data_dir` to persist), every other
    /// section at its default.
    pub fn with_network(network: Network) -> Config {
        Config {
            carriers: crate::carriers::bf1(&network),
            network,
            routing: RoutingRules::default(),
            durability: DurabilityConfig {
                mode: DurabilityMode::None,
                ..DurabilityConfig::default()
            },
            listen: ListenConfig::default(),
            limits: Limits::default(),
            runtime: RuntimeConfig::default(),
            auth: AuthConfig::default(),
            webhooks: WebhooksConfig::default(),
        }
    }
}

impl Default for Config {
    /// The embedded default: BF-1 at scale 0.1, seed 42, default settings.
    fn default() -> Self {
        crate::load::embedded_default()
    }
}

impl Network {
    /// Index of a SKU id (binary search: `skus` is sorted).
    pub fn sku_index(&self, id: &str) -> Option<u32> {
        self.skus
            .binary_search_by(|s| s.as_str().cmp(id))
            .ok()
            .map(|i| i as u32)
    }

    /// Index of a facility id (binary search: `facilities` is in id order).
    pub fn facility_index(&self, id: &str) -> Option<u16> {
        self.facilities
            .binary_search_by(|f| f.id.as_str().cmp(id))
            .ok()
            .map(|i| i as u16)
    }

    /// Sorts facilities by id and SKUs ascending, remaps the stock indices
    /// and sorts the stock by (sku, facility): the order documented on the
    /// fields. The loader calls it after validation.
    pub fn sort_canonical(&mut self) {
        let mut fac_order: Vec<usize> = (0..self.facilities.len()).collect();
        fac_order.sort_by(|&a, &b| self.facilities[a].id.cmp(&self.facilities[b].id));
        let mut sku_order: Vec<usize> = (0..self.skus.len()).collect();
        sku_order.sort_by(|&a, &b| self.skus[a].cmp(&self.skus[b]));
        let fac_sorted = fac_order.iter().enumerate().all(|(i, &o)| i == o);
        let sku_sorted = sku_order.iter().enumerate().all(|(i, &o)| i == o);
        if !fac_sorted {
            let mut new_index = vec![0u16; fac_order.len()];
            for (new, &old) in fac_order.iter().enumerate() {
                new_index[old] = new as u16;
            }
            let mut old: Vec<Option<FacilityConfig>> =
                self.facilities.drain(..).map(Some).collect();
            self.facilities = fac_order
                .iter()
                .map(|&o| old[o].take().expect("each facility moved once"))
                .collect();
            for e in &mut self.stock {
                e.facility = new_index[e.facility as usize];
            }
        }
        if !sku_sorted {
            let mut new_index = vec![0u32; sku_order.len()];
            for (new, &old) in sku_order.iter().enumerate() {
                new_index[old] = new as u32;
            }
            let mut old: Vec<Option<String>> = self.skus.drain(..).map(Some).collect();
            self.skus = sku_order
                .iter()
                .map(|&o| old[o].take().expect("each sku moved once"))
                .collect();
            for e in &mut self.stock {
                e.sku = new_index[e.sku as usize];
            }
        }
        if !self
            .stock
            .windows(2)
            .all(|w| (w[0].sku, w[0].facility) < (w[1].sku, w[1].facility))
        {
            self.stock.sort_by_key(|e| (e.sku, e.facility));
        }
    }
}

/// The kind of a facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    /// Distribution centre.
    Dc,
    /// Store shipping from its back room.
    Store,
    /// Dark store: a store without customers, close to demand.
    DarkStore,
}

impl FacilityKind {
    /// The snake_case name used in the API and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityKind::Dc => "dc",
            FacilityKind::Store => "store",
            FacilityKind::DarkStore => "dark_store",
        }
    }
}

/// Service levels, in release priority order (same day first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLevel {
    /// Delivered today.
    SameDay,
    /// Delivered tomorrow.
    NextDay,
    /// Ground.
    Standard,
}

impl ServiceLevel {
    /// All levels in release priority order.
    pub const ALL: [ServiceLevel; 3] = [
        ServiceLevel::SameDay,
        ServiceLevel::NextDay,
        ServiceLevel::Standard,
    ];

    /// The snake_case name used in the API and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceLevel::SameDay => "same_day",
            ServiceLevel::NextDay => "next_day",
            ServiceLevel::Standard => "standard",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<ServiceLevel> {
        match s {
            "same_day" => Some(ServiceLevel::SameDay),
            "next_day" => Some(ServiceLevel::NextDay),
            "standard" => Some(ServiceLevel::Standard),
            _ => None,
        }
    }
}

/// One facility (warehouse, store, dark store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacilityConfig {
    /// Client-visible id, e.g. `DC-03`.
    pub id: String,
    /// Kind of facility.
    pub kind: FacilityKind,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Fulfillments it can ship per hour.
    pub capacity_per_hour: u32,
    /// Relative cost of one fulfillment shipped from here (unitless, >= 0).
    pub cost_per_fulfillment: f64,
    /// Pick zones in pick-path order (at least one).
    pub zones: Vec<String>,
    /// When waves are released.
    pub wave: WavePolicy,
    /// Carrier cutoffs: at each, queued fulfillments of the listed levels are released.
    pub cutoffs: Vec<CarrierCutoff>,
    /// Whether routing may use it at start.
    pub enabled: bool,
}

/// When a facility releases a wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WavePolicy {
    /// Release as soon as this many fulfillments are queued; also the most a wave holds.
    pub size_max: u32,
    /// Release when the oldest queued fulfillment has waited this long.
    pub wait_ms_max: u64,
}

/// A carrier pick-up time of day (UTC) for some service levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierCutoff {
    /// Carrier name (free label).
    pub carrier: String,
    /// Minutes after midnight UTC, 0..1440.
    pub minute_of_day: u32,
    /// Levels released at this cutoff.
    pub service_levels: Vec<ServiceLevel>,
}

/// Starting stock of one cell. Indices keep the 1.28M cells of BF-1 scale 1 compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockEntry {
    /// Index into `Network::skus`.
    pub sku: u32,
    /// Index into `Network::facilities`.
    pub facility: u16,
    /// Units on hand at start.
    pub on_hand: u32,
    /// Units kept back from sale.
    pub safety_stock: u32,
}

/// Weights of the routing score (lower score wins).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoutingWeights {
    /// Per kilometre from facility to ship-to.
    pub distance_per_km: f64,
    /// Per unit of the facility's `cost_per_fulfillment`.
    pub cost: f64,
    /// Per unit of capacity used (0 = empty, 1 = full) this hour.
    pub capacity_used: f64,
    /// Added once per fulfillment beyond the first.
    pub split_penalty: f64,
}

impl Default for RoutingWeights {
    /// distance 0.01 per km, cost 1.0, capacity used 2.0, split penalty 5.0.
    fn default() -> Self {
        RoutingWeights {
            distance_per_km: 0.01,
            cost: 1.0,
            capacity_used: 2.0,
            split_penalty: 5.0,
        }
    }
}

/// Overrides of the routing rules for one service level or channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RoutingOverride {
    /// Replaces the weights when set.
    pub weights: Option<RoutingWeights>,
    /// Replaces `max_splits` when set.
    pub max_splits: Option<u32>,
    /// Added to the excluded facilities.
    pub excluded_facilities: Vec<String>,
    /// Facility kinds not allowed (e.g. no stores for same day).
    pub excluded_kinds: Vec<FacilityKind>,
}

/// Routing rules: data, not code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingRules {
    /// Default weights.
    pub weights: RoutingWeights,
    /// Most fulfillments one order may be split into (>= 1).
    pub max_splits: u32,
    /// Never routed to.
    pub excluded_facilities: Vec<String>,
    /// Overrides by service level.
    pub by_service_level: Vec<(ServiceLevel, RoutingOverride)>,
    /// Overrides by channel (applied after the service-level one).
    pub by_channel: Vec<(String, RoutingOverride)>,
}

impl Default for RoutingRules {
    /// Default weights, at most 3 fulfillments per order, nothing excluded,
    /// and an (empty) same-day override as the place to add exclusions.
    fn default() -> Self {
        RoutingRules {
            weights: RoutingWeights::default(),
            max_splits: 3,
            excluded_facilities: Vec::new(),
            by_service_level: vec![(ServiceLevel::SameDay, RoutingOverride::default())],
            by_channel: Vec::new(),
        }
    }
}

/// Durability mode of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurabilityMode {
    /// fsync each batch before acknowledging (default).
    #[default]
    Fsync,
    /// Written to the OS, not fsynced.
    Os,
    /// Pure memory, for benchmarks.
    None,
}

impl DurabilityMode {
    /// The name used in config, logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DurabilityMode::Fsync => "fsync",
            DurabilityMode::Os => "os",
            DurabilityMode::None => "none",
        }
    }

    /// Parses `fsync`, `os` or `none`.
    pub fn parse(s: &str) -> Option<DurabilityMode> {
        match s {
            "fsync" => Some(DurabilityMode::Fsync),
            "os" => Some(DurabilityMode::Os),
            "none" => Some(DurabilityMode::None),
            _ => None,
        }
    }
}

/// Journal, snapshot and passivation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DurabilityConfig {
    /// fsync, os or none.
    pub mode: DurabilityMode,
    /// Where the journal and snapshots live.
    pub data_dir: String,
    /// Most bytes in one group-commit batch.
    pub batch_bytes_max: u32,
    /// Longest a record waits for its batch to be written, in microseconds.
    pub batch_wait_us_max: u64,
    /// Journal segment size before rolling to a new file.
    pub segment_bytes_max: u64,
    /// Snapshot at least this often.
    pub snapshot_interval_ms: u64,
    /// ... or after this many events since the last one.
    pub snapshot_events_max: u64,
    /// Finished orders idle this long leave memory.
    pub passivate_after_ms: u64,
    /// Events older than this leave the event feed (`GET /v1/events`) and
    /// its store on disk.
    #[serde(default = "events_retention_ms_default")]
    pub events_retention_ms: u64,
    /// The feed's kept events stay within this many bytes of JSON (oldest
    /// dropped first).
    #[serde(default = "events_bytes_max_default")]
    pub events_bytes_max: u64,
    /// The newest this many kept events stay in memory; older ones are
    /// read from the event store on disk when a reader asks for them (in
    /// durability mode `none` every kept event stays in memory).
    #[serde(default = "events_memory_max_default")]
    pub events_memory_max: u64,
    /// Finished orders and ended holds whose last change is older than
    /// this are forgotten (by the shard engine) at a snapshot: it no longer
    /// holds them, their client ids are free again, and a read answers 404.
    #[serde(default = "orders_retention_ms_default")]
    pub orders_retention_ms: u64,
}

fn orders_retention_ms_default() -> u64 {
    90 * 24 * 3_600_000
}

fn events_retention_ms_default() -> u64 {
    7 * 24 * 3_600_000
}

fn events_bytes_max_default() -> u64 {
    1 << 30
}

fn events_memory_max_default() -> u64 {
    100_000
}

impl Default for DurabilityConfig {
    /// fsync into `data`, 1 MiB / 2 ms batches, 64 MiB segments, a snapshot
    /// every minute or million events, passivation after 5 minutes idle,
    /// events kept 7 days within 1 GiB, the newest 100,000 in memory.
    fn default() -> Self {
        DurabilityConfig {
            mode: DurabilityMode::Fsync,
            data_dir: "data".to_string(),
            batch_bytes_max: 1024 * 1024,
            batch_wait_us_max: 2000,
            segment_bytes_max: 64 * 1024 * 1024,
            snapshot_interval_ms: 60_000,
            snapshot_events_max: 1_000_000,
            passivate_after_ms: 300_000,
            events_retention_ms: events_retention_ms_default(),
            events_bytes_max: events_bytes_max_default(),
            events_memory_max: events_memory_max_default(),
            orders_retention_ms: orders_retention_ms_default(),
        }
    }
}

/// Listen addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenConfig {
    /// HTTP API address.
    pub http: String,
    /// Separate metrics address, if any.
    pub metrics: Option<String>,
}

impl Default for ListenConfig {
    /// HTTP on `127.0.0.1:8080`, metrics on the same port.
    fn default() -> Self {
        ListenConfig {
            http: "127.0.0.1:8080".to_string(),
            metrics: None,
        }
    }
}

/// Bounds on everything that comes from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest request body.
    pub body_bytes_max: u32,
    /// Most lines in one order.
    pub order_lines_max: u32,
    /// Most orders in one batch request.
    pub batch_orders_max: u32,
    /// Most events in one scan request.
    pub scan_events_max: u32,
    /// Longest client id.
    pub id_len_max: u32,
    /// Largest quantity in one line, receipt or adjustment.
    pub qty_max: u32,
    /// Most requests in flight before 429.
    pub inflight_requests_max: u32,
    /// Longest hold (cart) TTL in seconds (at most 4 h).
    #[serde(default = "hold_ttl_s_max_default")]
    pub hold_ttl_s_max: u32,
    /// Most holds one shard keeps (active or ended and remembered) before
    /// it answers overloaded.
    #[serde(default = "holds_per_shard_max_default")]
    pub holds_per_shard_max: u32,
    /// Most requests waiting in one shard's inbox of the shard engine; a
    /// full inbox answers 429 and queues nothing.
    #[serde(default = "shard_inbox_max_default")]
    pub shard_inbox_max: u32,
    /// Most requests admitted to one shard and not yet answered (waiting,
    /// running or waiting for durability); past it, 429.
    #[serde(default = "shard_in_flight_max_default")]
    pub shard_in_flight_max: u32,
    /// Receipt and adjustment ids one shard remembers (oldest forgotten
    /// first): a retry older than this many newer ids applies again.
    #[serde(default = "seen_ids_max_default")]
    pub seen_ids_max: u32,
    /// Timeline entries one order keeps (its scans, waves, fills, returns):
    /// past it, the order's further scans are rejected, so no order's
    /// timeline and seen scan ids grow without bound.
    #[serde(default = "order_events_max_default")]
    pub order_events_max: u32,
}

fn order_events_max_default() -> u32 {
    1_000
}

fn shard_inbox_max_default() -> u32 {
    65_536
}

fn shard_in_flight_max_default() -> u32 {
    65_536
}

fn seen_ids_max_default() -> u32 {
    1_000_000
}

fn hold_ttl_s_max_default() -> u32 {
    14_400
}

fn holds_per_shard_max_default() -> u32 {
    1_000_000
}

impl Default for Limits {
    /// 1 MiB bodies, 200 lines, 1000 orders per batch, 5000 scans per
    /// request, 128-character ids, quantities up to 1,000,000, 4096 in
    /// flight, holds of up to 4 h, 1,000,000 holds per shard, 65,536
    /// requests waiting and 65,536 in flight per shard, 1,000,000 receipt
    /// and adjustment ids remembered per shard, 1,000 timeline entries per
    /// order.
    fn default() -> Self {
        Limits {
            body_bytes_max: 1024 * 1024,
            order_lines_max: 200,
            batch_orders_max: 1000,
            scan_events_max: 5000,
            id_len_max: 128,
            qty_max: 1_000_000,
            inflight_requests_max: 4096,
            hold_ttl_s_max: hold_ttl_s_max_default(),
            holds_per_shard_max: holds_per_shard_max_default(),
            shard_inbox_max: shard_inbox_max_default(),
            shard_in_flight_max: shard_in_flight_max_default(),
            seen_ids_max: seen_ids_max_default(),
            order_events_max: order_events_max_default(),
        }
    }
}

/// Actor runtime settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// Number of actix arbiters (0 = one per core).
    pub workers: u32,
    /// Mailbox capacity of every actor.
    pub mailbox_capacity: u32,
    /// How often facilities check their wave triggers, in milliseconds.
    pub wave_tick_ms: u64,
    /// What runs the flows under the API: the shard engine host or the
    /// per-actor shells.
    #[serde(default)]
    pub engine: EngineKind,
}

/// What runs the flows under the API (`runtime.engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// One actix actor per order, cell, facility and desk (`"shells"`).
    Shells,
    /// The shard engine: many actors per shard, one shard per core, bounded
    /// inboxes, one journal batch per tick; serves holds (`"host"`, the
    /// default).
    #[default]
    Host,
}

impl EngineKind {
    /// The name used in config, logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Shells => "shells",
            EngineKind::Host => "host",
        }
    }
}

impl Default for RuntimeConfig {
    /// One worker per core, mailboxes of 1024, wave checks every 100 ms.
    fn default() -> Self {
        RuntimeConfig {
            workers: 0,
            mailbox_capacity: 1024,
            wave_tick_ms: 100,
            engine: EngineKind::default(),
        }
    }
}

/// Webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WebhooksConfig {
    /// A PEM file of extra root certificates `https` endpoints may chain
    /// to (a private CA), besides the built-in web PKI roots.
    pub ca_file: Option<String>,
}

/// Authentication of the `/v1` API.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthConfig {
    /// Bearer token; none means the API is open.
    pub token: Option<String>,
}
