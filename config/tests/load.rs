//! Loading configuration files: defaults, an explicit network, round trips,
//! and bad files whose errors must name the offending key.

use orch_config::load::to_toml_string;
use orch_config::validate::validate;
use orch_config::*;

const FULL: &str = r#"
[[facilities]]
id = "ST-9"
kind = "store"
lat = 34.05
lon = -118.24
capacity_per_hour = 400
cost_per_fulfillment = 1.7
zones = ["FRONT", "BACK"]
enabled = false
wave = { size_max = 10, wait_ms_max = 4000 }
cutoffs = [{ carrier = "COURIER", at = "16:30", service_levels = ["same_day", "next_day", "standard"] }]

[[facilities]]
id = "DC-01"
kind = "dc"
lat = 40.7
lon = -74.0
capacity_per_hour = 50000
cost_per_fulfillment = 1.0
zones = ["A", "B"]
enabled = true
wave = { size_max = 500, wait_ms_max = 2000 }
cutoffs = [
  { carrier = "UPS", at = "15:00", service_levels = ["same_day"] },
  { carrier = "UPS", at = "20:00", service_levels = ["next_day", "standard"] },
]

[[facilities]]
id = "DS-1"
kind = "dark_store"
lat = 41.88
lon = -87.63

[catalog]
skus = ["SKU-2", "SKU-1", "SKU-3"]

[[stock]]
sku = "SKU-1"
facility_id = "ST-9"
on_hand = 5
safety_stock = 1

[[stock]]
sku = "SKU-1"
facility_id = "DC-01"
on_hand = 10

[[stock]]
sku = "SKU-2"
facility_id = "DC-01"
on_hand = 7

[routing]
weights = { distance_per_km = 0.02, cost = 1.5, capacity_used = 3.0, split_penalty = 6.0 }
max_splits = 2
excluded_facilities = ["DS-1"]

[routing.service_level.same_day]
excluded_kinds = ["store"]
weights = { split_penalty = 50.0 }

[routing.service_level.standard]
max_splits = 4

[routing.channel.marketplace]
max_splits = 1
excluded_facilities = ["ST-9"]

[durability]
mode = "os"
data_dir = "/var/lib/orch"
batch_bytes_max = 65536
batch_wait_us_max = 500
segment_bytes_max = 1048576
snapshot_interval_ms = 30000
snapshot_events_max = 5000
passivate_after_ms = 1000
events_retention_ms = 86400000

[listen]
http = "0.0.0.0:8081"
metrics = "[::1]:9091"

[limits]
body_bytes_max = 2048
order_lines_max = 10
batch_orders_max = 20
scan_events_max = 30
id_len_max = 64
qty_max = 99
inflight_requests_max = 8

[runtime]
workers = 2
mailbox_capacity = 16
wave_tick_ms = 50
engine = "host"

[auth]
token = "s3cret"

[[carriers]]
id = "UPS"

[[carriers.services]]
id = "ground"
bands = [
  { km_max = 100.0, base = 5.0, per_unit = 0.5, transit_days = 1 },
  { km_max = 3000.0, base = 9.5, per_unit = 0.75, transit_days = 4 },
]
delivery_days = ["mon", "tue", "wed", "thu", "fri"]
cutoffs = { "DC-01" = "18:00", "ST-9" = "16:30" }

[[carriers.services]]
id = "next_day"
bands = [{ km_max = 5000.0, base = 20.0, per_unit = 1.5, transit_days = 1 }]
delivery_days = ["sat", "mon"]
cutoffs = { "DC-01" = "19:15" }

[[carriers]]
id = "COURIER"

[[carriers.services]]
id = "same_day"
bands = [{ km_max = 40.0, base = 9.0, per_unit = 1.0, transit_days = 0 }]
delivery_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
cutoffs = { "ST-9" = "14:00", "DS-1" = "13:00" }
"#;

#[test]
fn embedded_default_is_bf1_at_0_1_and_validates() {
    let cfg = embedded_default();
    validate(&cfg, "(embedded)").unwrap();
    assert_eq!(cfg.network.facilities.len(), 6);
    assert_eq!(cfg.network.skus.len(), 10_000);
    assert_eq!(cfg.routing, RoutingRules::default());
    assert_eq!(cfg.durability.mode, DurabilityMode::Fsync);
    assert_eq!(cfg.listen.http, "127.0.0.1:8080");
    assert_eq!(cfg.listen.metrics, None);
    assert_eq!(cfg.auth.token, None);
    assert_eq!(Config::default(), cfg);
}

#[test]
fn empty_file_and_bare_network_section_give_the_embedded_default() {
    let d = embedded_default();
    assert_eq!(from_toml_str("", "empty.toml").unwrap(), d);
    assert_eq!(
        from_toml_str("# nothing\n[network]\n", "n.toml").unwrap(),
        d
    );
    let g = "[network]\ngenerate = { profile = \"bf-1\", scale = 0.1, seed = 42 }\n";
    assert_eq!(from_toml_str(g, "g.toml").unwrap(), d);
}

#[test]
fn generate_scale_and_seed_are_used() {
    let cfg = from_toml_str(
        "[network]\ngenerate = { scale = 0.01, seed = 7 }\n",
        "g.toml",
    )
    .unwrap();
    assert_eq!(
        cfg.network,
        bf1::generate(&bf1::Bf1Params {
            scale: 0.01,
            seed: 7
        })
    );
}

#[test]
fn defaults_match_the_brief() {
    let r = RoutingRules::default();
    assert_eq!(r.weights.distance_per_km, 0.01);
    assert_eq!(r.weights.cost, 1.0);
    assert_eq!(r.weights.capacity_used, 2.0);
    assert_eq!(r.weights.split_penalty, 5.0);
    assert_eq!(r.max_splits, 3);
    assert_eq!(
        r.by_service_level,
        vec![(ServiceLevel::SameDay, RoutingOverride::default())]
    );
    assert!(r.by_channel.is_empty() && r.excluded_facilities.is_empty());
    let d = DurabilityConfig::default();
    assert_eq!(
        (
            d.mode,
            d.data_dir.as_str(),
            d.batch_bytes_max,
            d.batch_wait_us_max,
            d.segment_bytes_max
        ),
        (DurabilityMode::Fsync, "data", 1_048_576, 2000, 67_108_864)
    );
    assert_eq!(
        (
            d.snapshot_interval_ms,
            d.snapshot_events_max,
            d.passivate_after_ms
        ),
        (60_000, 1_000_000, 300_000)
    );
    let l = Limits::default();
    assert_eq!(
        [
            l.body_bytes_max,
            l.order_lines_max,
            l.batch_orders_max,
            l.scan_events_max,
            l.id_len_max,
            l.qty_max,
            l.inflight_requests_max,
            l.hold_ttl_s_max,
            l.holds_per_shard_max
        ],
        [1_048_576, 200, 1000, 5000, 128, 1_000_000, 4096, 14_400, 1_000_000]
    );
    let rt = RuntimeConfig::default();
    assert_eq!(
        (rt.workers, rt.mailbox_capacity, rt.wave_tick_ms),
        (0, 1024, 100)
    );
}

#[test]
fn full_explicit_file() {
    let cfg = from_toml_str(FULL, "full.toml").unwrap();
    let n = &cfg.network;
    // Canonical order: facilities by id, skus ascending, stock by (sku, facility).
    let ids: Vec<&str> = n.facilities.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["DC-01", "DS-1", "ST-9"]);
    assert_eq!(n.skus, ["SKU-1", "SKU-2", "SKU-3"]);
    assert_eq!(
        n.stock,
        vec![
            StockEntry {
                sku: 0,
                facility: 0,
                on_hand: 10,
                safety_stock: 0
            },
            StockEntry {
                sku: 0,
                facility: 2,
                on_hand: 5,
                safety_stock: 1
            },
            StockEntry {
                sku: 1,
                facility: 0,
                on_hand: 7,
                safety_stock: 0
            },
        ]
    );
    assert_eq!(n.sku_index("SKU-2"), Some(1));
    assert_eq!(n.facility_index("ST-9"), Some(2));
    assert_eq!(n.facility_index("nope"), None);

    let dc = &n.facilities[0];
    assert_eq!(dc.kind, FacilityKind::Dc);
    assert_eq!((dc.lat, dc.lon), (40.7, -74.0));
    assert_eq!(dc.zones, ["A", "B"]);
    assert_eq!(dc.cutoffs.len(), 2);
    assert_eq!(dc.cutoffs[0].minute_of_day, 900);
    assert_eq!(dc.cutoffs[0].service_levels, [ServiceLevel::SameDay]);
    assert_eq!(dc.cutoffs[1].minute_of_day, 1200);

    let st = &n.facilities[2];
    assert_eq!(st.kind, FacilityKind::Store);
    assert!(!st.enabled);
    assert_eq!(st.capacity_per_hour, 400);
    assert_eq!(st.cost_per_fulfillment, 1.7);
    assert_eq!(
        st.wave,
        WavePolicy {
            size_max: 10,
            wait_ms_max: 4000
        }
    );
    assert_eq!(st.cutoffs[0].minute_of_day, 16 * 60 + 30);
    assert_eq!(st.cutoffs[0].service_levels, ServiceLevel::ALL);

    // Omitted facility keys take defaults of the kind.
    let ds = &n.facilities[1];
    assert_eq!(ds.kind, FacilityKind::DarkStore);
    assert!(ds.enabled);
    assert!(ds.capacity_per_hour > 0 && !ds.zones.is_empty() && ds.cutoffs.is_empty());

    let r = &cfg.routing;
    assert_eq!(
        r.weights,
        RoutingWeights {
            distance_per_km: 0.02,
            cost: 1.5,
            capacity_used: 3.0,
            split_penalty: 6.0
        }
    );
    assert_eq!(r.max_splits, 2);
    assert_eq!(r.excluded_facilities, ["DS-1"]);
    assert_eq!(r.by_service_level.len(), 2);
    let (level, same_day) = &r.by_service_level[0];
    assert_eq!(*level, ServiceLevel::SameDay);
    assert_eq!(same_day.excluded_kinds, [FacilityKind::Store]);
    // Partial override weights are filled from [routing].
    assert_eq!(
        same_day.weights,
        Some(RoutingWeights {
            split_penalty: 50.0,
            ..r.weights
        })
    );
    assert_eq!(r.by_service_level[1].0, ServiceLevel::Standard);
    assert_eq!(r.by_service_level[1].1.max_splits, Some(4));
    assert_eq!(r.by_channel.len(), 1);
    assert_eq!(r.by_channel[0].0, "marketplace");
    assert_eq!(r.by_channel[0].1.max_splits, Some(1));
    assert_eq!(r.by_channel[0].1.excluded_facilities, ["ST-9"]);

    assert_eq!(
        cfg.durability,
        DurabilityConfig {
            mode: DurabilityMode::Os,
            data_dir: "/var/lib/orch".into(),
            batch_bytes_max: 65536,
            batch_wait_us_max: 500,
            segment_bytes_max: 1_048_576,
            snapshot_interval_ms: 30_000,
            snapshot_events_max: 5000,
            passivate_after_ms: 1000,
            events_retention_ms: 86_400_000,
            events_bytes_max: 1 << 30,
            events_memory_max: 100_000,
            orders_retention_ms: 90 * 24 * 3_600_000,
        }
    );
    assert_eq!(cfg.listen.http, "0.0.0.0:8081");
    assert_eq!(cfg.listen.metrics.as_deref(), Some("[::1]:9091"));
    assert_eq!(
        cfg.limits,
        Limits {
            body_bytes_max: 2048,
            order_lines_max: 10,
            batch_orders_max: 20,
            scan_events_max: 30,
            id_len_max: 64,
            qty_max: 99,
            inflight_requests_max: 8,
            hold_ttl_s_max: 14_400,
            holds_per_shard_max: 1_000_000,
            shard_inbox_max: 65_536,
            shard_in_flight_max: 65_536,
            seen_ids_max: 1_000_000,
            order_events_max: 1_000,
        }
    );
    assert_eq!(
        cfg.runtime,
        RuntimeConfig {
            workers: 2,
            mailbox_capacity: 16,
            wave_tick_ms: 50,
            engine: EngineKind::Host,
        }
    );
    assert_eq!(cfg.auth.token.as_deref(), Some("s3cret"));

    // Carriers in id order; cutoffs by index of the sorted facilities
    // (DC-01, DS-1, ST-9), `None` where a service does not pick up.
    let band = |km_max, base, per_unit, transit_days| carriers::RateBand {
        km_max,
        base,
        per_unit,
        transit_days,
    };
    assert_eq!(
        cfg.carriers,
        carriers::Carriers {
            carriers: vec![
                carriers::CarrierConfig {
                    id: "COURIER".into(),
                    services: vec![carriers::ServiceConfig {
                        id: "same_day".into(),
                        bands: vec![band(40.0, 9.0, 1.0, 0)],
                        delivery_days: carriers::EVERY_DAY,
                        cutoffs: vec![None, Some(13 * 60), Some(14 * 60)],
                    }],
                },
                carriers::CarrierConfig {
                    id: "UPS".into(),
                    services: vec![
                        carriers::ServiceConfig {
                            id: "ground".into(),
                            bands: vec![band(100.0, 5.0, 0.5, 1), band(3000.0, 9.5, 0.75, 4)],
                            delivery_days: carriers::WEEKDAYS,
                            cutoffs: vec![Some(18 * 60), None, Some(16 * 60 + 30)],
                        },
                        carriers::ServiceConfig {
                            id: "next_day".into(),
                            bands: vec![band(5000.0, 20.0, 1.5, 1)],
                            delivery_days: [true, false, false, false, false, true, false],
                            cutoffs: vec![Some(19 * 60 + 15), None, None],
                        },
                    ],
                },
            ],
        }
    );
}

#[test]
fn a_file_without_carriers_gets_the_bf1_carriers_of_its_network() {
    let cfg = from_toml_str(&with_net(""), "ok.toml").unwrap();
    assert_eq!(cfg.carriers, carriers::bf1(&cfg.network));
    assert_eq!(cfg.carriers.service_count(), 6);
}

#[test]
fn written_toml_reads_back_equal() {
    let cfg = from_toml_str(FULL, "full.toml").unwrap();
    let text = to_toml_string(&cfg).unwrap();
    assert_eq!(from_toml_str(&text, "again.toml").unwrap(), cfg);

    let small = Config::with_network(bf1::generate(&bf1::Bf1Params {
        scale: 0.01,
        seed: 3,
    }));
    let text = to_toml_string(&small).unwrap();
    assert_eq!(from_toml_str(&text, "bf1.toml").unwrap(), small);
}

#[test]
fn load_file_reads_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orchestrator.toml");
    std::fs::write(&path, FULL).unwrap();
    let cfg = load_file(&path).unwrap();
    assert_eq!(cfg, from_toml_str(FULL, "x").unwrap());

    std::fs::write(&path, "[routing]\nmax_splits = 0\n").unwrap();
    let e = load_file(&path).unwrap_err();
    assert_eq!(e.file, path.display().to_string());
    assert_eq!(e.key, "routing.max_splits");

    let missing = dir.path().join("missing.toml");
    let e = load_file(&missing).unwrap_err();
    assert_eq!(e.file, missing.display().to_string());
    assert_eq!(e.key, "(file)");
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn display_is_file_key_message() {
    let e = from_toml_str("[routing]\nmax_splits = 0\n", "orchestrator.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "orchestrator.toml: routing.max_splits: must be at least 1, got 0 (line 2)"
    );
    // A key the file does not define has no line.
    let e = from_toml_str("[catalog]\nskus = [\"S\"]\n", "o.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "o.toml: facilities: at least one facility is required, found none"
    );
}

#[test]
fn syntax_errors_give_line_and_key() {
    let e = from_toml_str("[routing]\nmax_splits = = 3\n", "o.toml").unwrap_err();
    assert_eq!(e.key, "routing.max_splits", "{e}");
    assert!(e.message.contains("line 2"), "{e}");
    let e = from_toml_str("a = 1\na = 2\n", "o.toml").unwrap_err();
    assert!(e.message.contains("line 2"), "{e}");
}

#[test]
fn type_errors_give_the_line_too() {
    let text = "[[facilities]]\nid = \"DC-1\"\nkind = \"dc\"\nlat = 1.0\nlon = 1.0\n\
                [[facilities]]\nid = \"DC-2\"\nkind = \"dc\"\nlat = \"north\"\nlon = 1.0\n";
    let e = from_toml_str(text, "o.toml").unwrap_err();
    assert_eq!(e.key, "facilities[1].lat");
    assert!(e.message.contains("line 9"), "{e}");
    assert!(e.message.contains("expected f64"), "{e}");
}

/// A minimal valid explicit network followed by `extra`.
fn with_net(extra: &str) -> String {
    format!(
        r#"
[[facilities]]
id = "DC-01"
kind = "dc"
lat = 40.0
lon = -74.0
cutoffs = [{{ carrier = "UPS", at = "15:00", service_levels = ["same_day"] }}]

[[facilities]]
id = "ST-001"
kind = "store"
lat = 41.0
lon = -73.0

[catalog]
skus = ["SKU-1", "SKU-2"]

[[stock]]
sku = "SKU-1"
facility_id = "DC-01"
on_hand = 3
{extra}"#
    )
}

#[test]
fn minimal_explicit_network_is_valid() {
    let cfg = from_toml_str(&with_net(""), "ok.toml").unwrap();
    assert_eq!(cfg.network.facilities.len(), 2);
    assert_eq!(cfg.network.facilities[1].capacity_per_hour, 500);
}

#[test]
fn bad_files_name_the_key() {
    let fac = |body: &str| {
        format!("[[facilities]]\nid = \"DC-01\"\nkind = \"dc\"\nlat = 40.0\nlon = -74.0\n{body}\n[catalog]\nskus = [\"S\"]\n")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("unknown top-level section", "[rooting]\nmax_splits = 1\n".into(), "rooting"),
        ("unknown key", "[routing]\nmax_split = 1\n".into(), "routing.max_split"),
        (
            "unknown key in inline table",
            with_net("[routing]\nweights = { distance = 1.0 }\n"),
            "routing.weights.distance",
        ),
        (
            "wrong type",
            "[limits]\norder_lines_max = \"many\"\n".into(),
            "limits.order_lines_max",
        ),
        (
            "negative for unsigned",
            "[runtime]\nworkers = -1\n".into(),
            "runtime.workers",
        ),
        (
            "wrong type deep in an array of tables",
            fac("wave = { size_max = 1.5 }"),
            "facilities[0].wave.size_max",
        ),
        (
            "unknown key deep in an array of tables",
            with_net("[[facilities]]\nid = \"X\"\nkind = \"dc\"\nlat = 1.0\nlon = 1.0\nwave = { size_max = 1, wiat = 2 }\n"),
            "facilities[2].wave.wiat",
        ),
        ("missing key", "[[facilities]]\nid = \"DC-01\"\nkind = \"dc\"\nlat = 1.0\n".into(), "facilities[0].lon"),
        ("bad kind", fac("").replace("\"dc\"", "\"warehouse\""), "facilities[0].kind"),
        (
            "duplicate facility",
            with_net("[[facilities]]\nid = \"DC-01\"\nkind = \"store\"\nlat = 1.0\nlon = 1.0\n"),
            "facilities[2].id",
        ),
        ("bad facility id", fac("").replace("DC-01", "DC 01"), "facilities[0].id"),
        ("lat 91", fac("").replace("lat = 40.0", "lat = 91"), "facilities[0].lat"),
        ("lon -181", fac("").replace("lon = -74.0", "lon = -181.0"), "facilities[0].lon"),
        ("capacity 0", fac("capacity_per_hour = 0"), "facilities[0].capacity_per_hour"),
        ("negative cost", fac("cost_per_fulfillment = -1.0"), "facilities[0].cost_per_fulfillment"),
        ("empty zones", fac("zones = []"), "facilities[0].zones"),
        ("duplicate zone", fac("zones = [\"A\", \"A\"]"), "facilities[0].zones[1]"),
        ("wave size 0", fac("wave = { size_max = 0 }"), "facilities[0].wave.size_max"),
        ("wave wait 0", fac("wave = { wait_ms_max = 0 }"), "facilities[0].wave.wait_ms_max"),
        (
            "bad cutoff 25:00",
            fac("cutoffs = [{ carrier = \"UPS\", at = \"15:00\", service_levels = [\"same_day\"] }, { carrier = \"UPS\", at = \"25:00\", service_levels = [\"standard\"] }]"),
            "facilities[0].cutoffs[1].at",
        ),
        (
            "cutoff without levels",
            fac("cutoffs = [{ carrier = \"UPS\", at = \"15:00\", service_levels = [] }]"),
            "facilities[0].cutoffs[0].service_levels",
        ),
        (
            "unknown service level in cutoff",
            fac("cutoffs = [{ carrier = \"UPS\", at = \"15:00\", service_levels = [\"tomorrow\"] }]"),
            "facilities[0].cutoffs[0].service_levels[0]",
        ),
        ("no facilities", "[catalog]\nskus = [\"S\"]\n".into(), "facilities"),
        ("no skus", fac("").replace("skus = [\"S\"]", "skus = []"), "catalog.skus"),
        ("duplicate sku", fac("").replace("[\"S\"]", "[\"S\", \"T\", \"S\"]"), "catalog.skus[2]"),
        (
            "unknown sku in stock",
            with_net("[[stock]]\nsku = \"SKU-9\"\nfacility_id = \"DC-01\"\non_hand = 1\n"),
            "stock[1].sku",
        ),
        (
            "unknown facility in stock",
            with_net("[[stock]]\nsku = \"SKU-2\"\nfacility_id = \"DC-99\"\non_hand = 1\n"),
            "stock[1].facility_id",
        ),
        (
            "duplicate cell",
            with_net("[[stock]]\nsku = \"SKU-1\"\nfacility_id = \"DC-01\"\non_hand = 1\n"),
            "stock[1]",
        ),
        (
            "both generate and facilities",
            with_net("[network]\ngenerate = { scale = 0.01 }\n"),
            "network.generate",
        ),
        ("unknown profile", "[network]\ngenerate = { profile = \"bf-2\" }\n".into(), "network.generate.profile"),
        ("scale 0", "[network]\ngenerate = { scale = 0.0 }\n".into(), "network.generate.scale"),
        ("max_splits 0", "[routing]\nmax_splits = 0\n".into(), "routing.max_splits"),
        (
            "negative weight",
            "[routing]\nweights = { cost = -1.0 }\n".into(),
            "routing.weights.cost",
        ),
        (
            "nan weight",
            "[routing]\nweights = { distance_per_km = nan }\n".into(),
            "routing.weights.distance_per_km",
        ),
        (
            "unknown excluded facility",
            with_net("[routing]\nexcluded_facilities = [\"DC-01\", \"DC-77\"]\n"),
            "routing.excluded_facilities[1]",
        ),
        (
            "override max_splits 0",
            "[routing.channel.marketplace]\nmax_splits = 0\n".into(),
            "routing.channel.marketplace.max_splits",
        ),
        (
            "override unknown excluded facility",
            with_net("[routing.service_level.same_day]\nexcluded_facilities = [\"NOPE\"]\n"),
            "routing.service_level.same_day.excluded_facilities[0]",
        ),
        (
            "unknown service level override",
            "[routing.service_level.tomorrow]\nmax_splits = 1\n".into(),
            "routing.service_level.tomorrow",
        ),
        (
            "bad excluded kind",
            "[routing.service_level.same_day]\nexcluded_kinds = [\"shop\"]\n".into(),
            "routing.service_level.same_day.excluded_kinds[0]",
        ),
        ("bad durability mode", "[durability]\nmode = \"fsync-ish\"\n".into(), "durability.mode"),
        ("bad engine", "[runtime]\nengine = \"actors\"\n".into(), "runtime.engine"),
        ("empty data_dir", "[durability]\ndata_dir = \"\"\n".into(), "durability.data_dir"),
        ("tiny batch", "[durability]\nbatch_bytes_max = 100\n".into(), "durability.batch_bytes_max"),
        ("bad listen address", "[listen]\nhttp = \"localhost\"\n".into(), "listen.http"),
        ("bad metrics address", "[listen]\nmetrics = \"127.0.0.1:99999\"\n".into(), "listen.metrics"),
        ("limit 0", "[limits]\nqty_max = 0\n".into(), "limits.qty_max"),
        ("mailbox 0", "[runtime]\nmailbox_capacity = 0\n".into(), "runtime.mailbox_capacity"),
        ("empty token", "[auth]\ntoken = \"\"\n".into(), "auth.token"),
    ];
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (what, text, key) in &cases {
        match from_toml_str(text, "bad.toml") {
            Ok(_) => failures.push(format!("{what}: loaded, expected an error at {key}")),
            Err(e) => {
                assert_eq!(e.file, "bad.toml");
                assert!(!e.message.is_empty());
                if e.key != *key {
                    failures.push(format!("{what}: expected key {key}, got {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn messages_say_what_was_found() {
    let msg = |text: &str| from_toml_str(text, "o.toml").unwrap_err().to_string();
    let m = msg("[listen]\nhttp = \"localhost\"\n");
    assert!(m.contains("\"localhost\""), "{m}");
    let m = msg("[durability]\nmode = \"fsync-ish\"\n");
    assert!(m.contains("fsync-ish") && m.contains("`os`"), "{m}");
    let m = msg("[routing]\nmax_split = 1\n");
    assert!(
        m.contains("unknown key `max_split`") && m.contains("`max_splits`"),
        "{m}"
    );
    let m = msg(&with_net(
        "[[stock]]\nsku = \"SKU-9\"\nfacility_id = \"DC-01\"\non_hand = 1\n",
    ));
    assert!(m.contains("\"SKU-9\""), "{m}");
}

/// A valid service of carrier `BBB` (the second carrier of `with_carriers`).
const GOOD_SERVICE: &str = r#"id = "air"
bands = [
  { km_max = 50.0, base = 9.0, per_unit = 1.0, transit_days = 1 },
  { km_max = 300.0, base = 10.0, per_unit = 1.0, transit_days = 1 },
  { km_max = 900.0, base = 12.0, per_unit = 1.0, transit_days = 2 },
]
delivery_days = ["mon", "tue", "wed", "thu", "fri"]
cutoffs = { "DC-01" = "19:00", "ST-001" = "16:00" }"#;

/// `with_net` and two carriers, `AAA` (valid) then `BBB` whose first
/// service is `service` (then `more`, e.g. a second service).
fn with_carriers(service: &str, more: &str) -> String {
    with_net(&format!(
        r#"
[[carriers]]
id = "AAA"
[[carriers.services]]
id = "ground"
bands = [{{ km_max = 100.0, base = 5.0, per_unit = 0.5, transit_days = 2 }}]
delivery_days = ["mon"]

[[carriers]]
id = "BBB"
[[carriers.services]]
{service}
{more}"#
    ))
}

#[test]
fn carriers_from_the_file_load_and_read_back() {
    let cfg = from_toml_str(&with_carriers(GOOD_SERVICE, ""), "c.toml").unwrap();
    let ids: Vec<&str> = cfg
        .carriers
        .carriers
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["AAA", "BBB"]);
    let air = &cfg.carriers.carriers[1].services[0];
    assert_eq!(air.bands.len(), 3);
    assert_eq!(air.bands[2].km_max, 900.0);
    assert_eq!(air.delivery_days, carriers::WEEKDAYS);
    assert_eq!(air.cutoffs, [Some(19 * 60), Some(16 * 60)]);
    assert_eq!(cfg.carriers.carriers[0].services[0].cutoffs, [None, None]);
    let text = to_toml_string(&cfg).unwrap();
    assert_eq!(from_toml_str(&text, "again.toml").unwrap(), cfg);
}

#[test]
fn bad_carriers_name_the_key_and_line() {
    let with = |from: &str, to: &str| {
        assert!(GOOD_SERVICE.contains(from), "{from}");
        with_carriers(&GOOD_SERVICE.replace(from, to), "")
    };
    let s = "carriers[1].services[0]";
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "band not above the previous one",
            with("km_max = 900.0", "km_max = 200.0"),
            format!("{s}.bands[2].km_max"),
            "previous band",
        ),
        (
            "negative base",
            with("base = 10.0", "base = -1.0"),
            format!("{s}.bands[1].base"),
            "price",
        ),
        (
            "nan per unit",
            with(
                "per_unit = 1.0, transit_days = 2",
                "per_unit = nan, transit_days = 2",
            ),
            format!("{s}.bands[2].per_unit"),
            "price",
        ),
        (
            "transit too long",
            with("transit_days = 2", "transit_days = 31"),
            format!("{s}.bands[2].transit_days"),
            "at most 30",
        ),
        (
            "wrong type in a band",
            with("km_max = 50.0", "km_max = \"near\""),
            format!("{s}.bands[0].km_max"),
            "f64",
        ),
        (
            "unknown key in a band",
            with("base = 9.0", "bace = 9.0"),
            format!("{s}.bands[0].bace"),
            "unknown key",
        ),
        (
            "no bands",
            with_carriers("id = \"air\"\nbands = []\ndelivery_days = [\"mon\"]", ""),
            format!("{s}.bands"),
            "at least one",
        ),
        (
            "unknown day",
            with("\"wed\"", "\"wday\""),
            format!("{s}.delivery_days[2]"),
            "`sun`",
        ),
        (
            "day twice",
            with("\"wed\"", "\"mon\""),
            format!("{s}.delivery_days[2]"),
            "twice",
        ),
        (
            "no delivery day",
            with("[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]", "[]"),
            format!("{s}.delivery_days"),
            "at least one day",
        ),
        (
            "unknown facility in cutoffs",
            with("\"ST-001\" = ", "\"ST-404\" = "),
            format!("{s}.cutoffs.ST-404"),
            "unknown facility \"ST-404\"",
        ),
        (
            "cutoff not a time",
            with("\"16:00\"", "\"25:00\""),
            format!("{s}.cutoffs.ST-001"),
            "HH:MM",
        ),
        (
            "bad service id",
            with("id = \"air\"", "id = \"a ir\""),
            format!("{s}.id"),
            "valid id",
        ),
        (
            "service id twice in a carrier",
            with_carriers(
                GOOD_SERVICE,
                &format!("[[carriers.services]]\n{GOOD_SERVICE}\n"),
            ),
            "carriers[1].services[1].id".to_string(),
            "unique",
        ),
        (
            "carrier id twice",
            with_carriers(GOOD_SERVICE, "").replace("id = \"BBB\"", "id = \"AAA\""),
            "carriers[1].id".to_string(),
            "twice",
        ),
        (
            "carrier without services",
            with_net("[[carriers]]\nid = \"AAA\"\nservices = []\n"),
            "carriers[0].services".to_string(),
            "at least one service",
        ),
        (
            "empty carriers list",
            format!("carriers = []\n{}", with_net("")),
            "carriers".to_string(),
            "at least one carrier",
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, key, says) in &cases {
        match from_toml_str(text, "bad.toml") {
            Ok(_) => failures.push(format!("{what}: loaded, expected an error at {key}")),
            Err(e) => {
                assert_eq!(e.file, "bad.toml");
                if e.key != *key || !e.message.contains(says) {
                    failures.push(format!("{what}: expected {key}: ...{says}..., got {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    // The line is the one defining the key.
    let text = with("km_max = 900.0", "km_max = 200.0");
    let line = 1 + text.lines().position(|l| l.contains("200.0")).unwrap();
    let e = from_toml_str(&text, "bad.toml").unwrap_err();
    assert!(e.message.ends_with(&format!("(line {line})")), "{e}");
    let text = with("\"ST-001\" = ", "\"ST-404\" = ");
    let line = 1 + text.lines().position(|l| l.contains("ST-404")).unwrap();
    let e = from_toml_str(&text, "bad.toml").unwrap_err();
    assert!(e.message.ends_with(&format!("(line {line})")), "{e}");
}

#[test]
fn every_bounded_number_loads_at_its_top_and_fails_one_above() {
    use orch_config::validate::*;
    let facility = "[[facilities]]\nid = \"X-1\"\nkind = \"dc\"\nlat = 1.0\nlon = 1.0\n";
    let stock = "[[stock]]\nsku = \"SKU-2\"\nfacility_id = \"DC-01\"\n";
    // (text of the file with `{v}` for the value, key, top of the range)
    let mut cases: Vec<(String, String, u64)> = Vec::new();
    for (name, _, max) in LIMIT_RANGES {
        let text = with_net(&format!("[limits]\n{name} = {{v}}\n"));
        cases.push((text, format!("limits.{name}"), max.into()));
    }
    for (name, _, max) in DURABILITY_RANGES {
        let text = with_net(&format!("[durability]\n{name} = {{v}}\n"));
        cases.push((text, format!("durability.{name}"), max));
    }
    let mut case = |text: String, key: &str, max: u64| cases.push((text, key.to_string(), max));
    case(
        with_net("[runtime]\nworkers = {v}\n"),
        "runtime.workers",
        WORKERS_MAX.into(),
    );
    case(
        with_net("[runtime]\nmailbox_capacity = {v}\n"),
        "runtime.mailbox_capacity",
        MAILBOX_CAPACITY_RANGE.1.into(),
    );
    case(
        with_net("[runtime]\nwave_tick_ms = {v}\n"),
        "runtime.wave_tick_ms",
        WAVE_TICK_MS_RANGE.1,
    );
    for prefix in [
        "routing",
        "routing.channel.web",
        "routing.service_level.next_day",
    ] {
        case(
            with_net(&format!("[{prefix}]\nmax_splits = {{v}}\n")),
            &format!("{prefix}.max_splits"),
            MAX_SPLITS_RANGE.1.into(),
        );
    }
    case(
        with_net(&format!("{facility}capacity_per_hour = {{v}}\n")),
        "facilities[2].capacity_per_hour",
        CAPACITY_PER_HOUR_RANGE.1.into(),
    );
    case(
        with_net(&format!("{facility}wave = {{ size_max = {{v}} }}\n")),
        "facilities[2].wave.size_max",
        WAVE_SIZE_RANGE.1.into(),
    );
    case(
        with_net(&format!("{facility}wave = {{ wait_ms_max = {{v}} }}\n")),
        "facilities[2].wave.wait_ms_max",
        WAVE_WAIT_MS_RANGE.1,
    );
    case(
        with_net(&format!("{stock}on_hand = {{v}}\n")),
        "stock[1].on_hand",
        STOCK_UNITS_MAX.into(),
    );
    case(
        with_net(&format!("{stock}on_hand = 1\nsafety_stock = {{v}}\n")),
        "stock[1].safety_stock",
        STOCK_UNITS_MAX.into(),
    );
    case(
        with_carriers(
            &GOOD_SERVICE.replace("transit_days = 2", "transit_days = {v}"),
            "",
        ),
        "carriers[1].services[0].bands[2].transit_days",
        carriers::TRANSIT_DAYS_MAX.into(),
    );
    assert_eq!(cases.len(), 13 + 10 + 3 + 3 + 3 + 2 + 1);

    let mut failures = Vec::new();
    for (text, key, max) in &cases {
        assert!(text.contains("{v}"), "{key}");
        if let Err(e) = from_toml_str(&text.replace("{v}", &max.to_string()), "top.toml") {
            failures.push(format!("{key} = {max}: refused: {e}"));
        }
        match from_toml_str(&text.replace("{v}", &(max + 1).to_string()), "top.toml") {
            Ok(_) => failures.push(format!("{key} = {}: loaded", max + 1)),
            Err(e) => {
                if e.key != *key || !e.message.contains(&format!("{max}, got {}", max + 1)) {
                    failures.push(format!("{key} = {}: {e}", max + 1));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    // Order lines are numbered with u16 inside the core.
    let lines = LIMIT_RANGES
        .iter()
        .find(|(name, ..)| *name == "order_lines_max")
        .unwrap();
    assert!(lines.2 <= u32::from(u16::MAX), "{lines:?}");
}
