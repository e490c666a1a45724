//! Whole flows through `World`: a doorbuster with backorders served by age,
//! the full lifecycle of a few thousand BF-1 orders, and the split rule.

use std::collections::{BTreeSet, HashMap, HashSet};

use orch_actors::order::{
    Disposition, FulfillmentStatus, OrderLine, OrderStatus, PlaceRequest, Scan, ScanKind,
};
use orch_actors::sim::{ScanOutcome, World};
use orch_actors::{CellKey, FacilityIdx, FulfillmentRef, OrderNo, SkuIdx};
use orch_config::bf1::{self, Bf1Params};
use orch_config::{
    Config, FacilityConfig, FacilityKind, Millis, Network, ServiceLevel, StockEntry, WavePolicy,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Midnight UTC, 2026-11-27.
const T0: Millis = 1_795_737_600_000;

fn facility(id: &str, lat: f64, lon: f64) -> FacilityConfig {
    FacilityConfig {
        id: id.into(),
        kind: FacilityKind::Dc,
        lat,
        lon,
        capacity_per_hour: 100_000,
        cost_per_fulfillment: 1.0,
        zones: vec!["A".into(), "B".into()],
        wave: WavePolicy {
            size_max: 200,
            wait_ms_max: 1_000,
        },
        cutoffs: vec![],
        enabled: true,
    }
}

fn stock(sku: u32, facility: u16, on_hand: u32) -> StockEntry {
    StockEntry {
        sku,
        facility,
        on_hand,
        safety_stock: 0,
    }
}

fn config(skus: u32, stock: Vec<StockEntry>) -> Config {
    Config::with_network(Network {
        facilities: vec![
            facility("DC-01", 40.7, -74.0),
            facility("DC-02", 41.9, -87.6),
            facility("DC-03", 34.0, -118.2),
        ],
        skus: (0..skus).map(|i| format!("SKU-{i:06}")).collect(),
        stock,
    })
}

fn request(
    id: &str,
    level: ServiceLevel,
    lat: f64,
    lon: f64,
    lines: &[(u32, u32)],
) -> PlaceRequest {
    PlaceRequest {
        order_id: id.into(),
        channel: "web".into(),
        lat,
        lon,
        service_level: level,
        lines: lines
            .iter()
            .map(|&(sku, qty)| OrderLine {
                sku: SkuIdx(sku),
                qty,
            })
            .collect(),
        allow_backorder: true,
    }
}

fn key(sku: u32, facility: u16) -> CellKey {
    CellKey {
        sku: SkuIdx(sku),
        facility: FacilityIdx(facility),
    }
}

fn assert_audit(world: &World) {
    let report = world.audit();
    assert!(report.passed(), "audit failed:\n{}", report.failures());
}

fn reserved_total(world: &World, sku: u32) -> u32 {
    world
        .cells
        .iter()
        .filter(|(k, _)| k.sku == SkuIdx(sku))
        .map(|(_, c)| c.reserved())
        .sum()
}

/// Could one facility ship every line now (per the cells, the truth)?
fn single_facility_possible(world: &World, lines: &[(u32, u32)]) -> bool {
    (0..world.facilities.len() as u16).any(|f| {
        world.facilities[usize::from(f)].enabled_at(0)
            && lines.iter().all(|&(sku, qty)| {
                world
                    .cells
                    .get(&key(sku, f))
                    .is_some_and(|c| c.available() >= qty)
            })
    })
}

#[test]
fn doorbuster_reserves_exactly_the_stock_and_serves_backorders_by_age() {
    // SKU 0: 100 units over three facilities; SKU 1 is unrelated stock.
    let cfg = config(
        2,
        vec![
            stock(0, 0, 40),
            stock(0, 1, 35),
            stock(0, 2, 25),
            stock(1, 0, 10),
        ],
    );
    let mut world = World::new(&cfg, T0);
    let ship_to = [(40.0, -75.0), (41.0, -88.0), (35.0, -117.0), (30.0, -97.0)];
    let mut nos = Vec::new();
    for i in 0..1_000u64 {
        let (lat, lon) = ship_to[i as usize % ship_to.len()];
        let no = world
            .place(
                request(
                    &format!("db-{i:04}"),
                    ServiceLevel::Standard,
                    lat,
                    lon,
                    &[(0, 1)],
                ),
                T0 + i,
            )
            .unwrap();
        nos.push(no);
        let reserved = reserved_total(&world, 0);
        assert!(
            reserved <= 100,
            "order {i}: {reserved} units reserved of 100"
        );
        assert_eq!(u64::from(reserved), (i + 1).min(100));
        if i % 100 == 99 {
            assert_audit(&world);
        }
    }
    assert_eq!(reserved_total(&world, 0), 100);
    for f in 0..3 {
        let c = &world.cells[&key(0, f)];
        assert_eq!((c.available(), c.reserved()), (0, c.on_hand()));
    }
    let status = |world: &World, no: OrderNo| world.orders[&no].status();
    // The first 100 placed got the stock, the other 900 wait, in placement order.
    assert!(nos[..100]
        .iter()
        .all(|&no| status(&world, no) == OrderStatus::Routed));
    assert!(nos[100..]
        .iter()
        .all(|&no| status(&world, no) == OrderStatus::Backordered));
    let desk = &world.desks[&SkuIdx(0)];
    assert_eq!(desk.waiting(), 900);
    let queue: Vec<OrderNo> = desk.queue().map(|(l, _)| l.order).collect();
    assert_eq!(queue, nos[100..].to_vec(), "the desk serves by age");
    assert_audit(&world);

    // 50 units arrive at DC-02: exactly the 50 oldest backorders get them there.
    world.receive(key(0, 1), 50, T0 + 10_000).unwrap();
    for (i, &no) in nos.iter().enumerate().skip(100) {
        let o = &world.orders[&no];
        if i < 150 {
            assert_eq!(o.status(), OrderStatus::Routed, "order {i}");
            assert!(o.backordered().is_empty());
            assert_eq!(o.fulfillments().len(), 1);
            assert_eq!(o.fulfillments()[0].facility, FacilityIdx(1));
            assert_eq!(o.timeline().last().unwrap().what, "backorder_filled");
        } else {
            assert_eq!(o.status(), OrderStatus::Backordered, "order {i}");
            assert!(o.fulfillments().is_empty());
        }
    }
    assert_eq!(world.desks[&SkuIdx(0)].waiting(), 850);
    assert_eq!(world.desks[&SkuIdx(0)].filled(), 50);
    assert_eq!(reserved_total(&world, 0), 150);
    assert_eq!(
        world.cells[&key(0, 1)].available(),
        0,
        "nothing left for new orders"
    );
    // A new order for the SKU now waits behind the 850.
    let late = world
        .place(
            request("db-late", ServiceLevel::Standard, 40.0, -75.0, &[(0, 1)]),
            T0 + 20_000,
        )
        .unwrap();
    assert_eq!(status(&world, late), OrderStatus::Backordered);
    assert_audit(&world);

    // Priority before age: a same-day order placed last is served first.
    let urgent = world
        .place(
            request("db-urgent", ServiceLevel::SameDay, 40.0, -75.0, &[(0, 1)]),
            T0 + 30_000,
        )
        .unwrap();
    assert_eq!(status(&world, urgent), OrderStatus::Backordered);
    world.receive(key(0, 2), 2, T0 + 40_000).unwrap();
    assert_eq!(status(&world, urgent), OrderStatus::Routed);
    assert_eq!(status(&world, nos[150]), OrderStatus::Routed);
    assert_eq!(status(&world, nos[151]), OrderStatus::Backordered);

    // A cancelled backorder leaves the queue and is never served.
    world.cancel(nos[151], T0 + 50_000).unwrap();
    assert_eq!(world.desks[&SkuIdx(0)].waiting(), 849);
    world.receive(key(0, 0), 1, T0 + 60_000).unwrap();
    assert_eq!(status(&world, nos[151]), OrderStatus::Cancelled);
    assert!(world.orders[&nos[151]].fulfillments().is_empty());
    assert_eq!(status(&world, nos[152]), OrderStatus::Routed);

    // Cancelling a routed order hands its unit to the oldest waiting one.
    world.cancel(nos[0], T0 + 70_000).unwrap();
    assert_eq!(status(&world, nos[153]), OrderStatus::Routed);
    assert_eq!(status(&world, nos[154]), OrderStatus::Backordered);
    assert_eq!(reserved_total(&world, 0), 100 + 50 + 2 + 1);
    assert_audit(&world);
}

/// Drives the BF-1 lifecycle; counts what happened.
struct Driver {
    world: World,
    rng: ChaCha8Rng,
    now: Millis,
    events: u64,
    to_cancel: HashSet<OrderNo>,
    to_return: HashSet<OrderNo>,
    cancelled: usize,
    returned_units: u32,
    returns_applied: usize,
}

impl Driver {
    fn scan(&mut self, no: OrderNo, n: u16, kind: ScanKind) -> Scan {
        self.events += 1;
        let f = self.world.orders[&no].fulfillment(n).unwrap();
        Scan {
            event_id: format!("ev-{}", self.events).into(),
            kind,
            fulfillment: n,
            facility: f.facility,
            sku: None,
            qty: None,
            carrier: None,
            tracking: None,
            reason: None,
            disposition: None,
            at: self.now,
        }
    }

    fn apply(&mut self, no: OrderNo, s: Scan) {
        let out = self.world.scan(no, &s);
        assert_eq!(out, ScanOutcome::Applied, "{s:?}");
        // Every applied scan is idempotent.
        assert_eq!(self.world.scan(no, &s), ScanOutcome::Duplicate);
    }

    /// One released fulfillment, from pick to delivery (or the order's cancel).
    fn process(&mut self, FulfillmentRef { order: no, n }: FulfillmentRef) {
        if self.to_cancel.contains(&no) {
            if self.world.orders[&no].status() != OrderStatus::Cancelled {
                self.world
                    .cancel(no, self.now)
                    .expect("nothing of it was picked");
                self.cancelled += 1;
            }
            return;
        }
        let f = self.world.orders[&no].fulfillment(n).unwrap().clone();
        assert_eq!(f.status, FulfillmentStatus::Released, "{no:?}/{n}");
        for l in &f.lines {
            // Some lines are picked in two scans.
            let first = if l.qty > 1 && self.rng.random_bool(0.3) {
                1
            } else {
                l.qty
            };
            for qty in [first, l.qty - first] {
                if qty > 0 {
                    let mut s = self.scan(no, n, ScanKind::Pick);
                    s.sku = Some(l.sku);
                    s.qty = Some(qty);
                    self.apply(no, s);
                }
            }
        }
        let s = self.scan(no, n, ScanKind::Pack);
        self.apply(no, s);
        let mut s = self.scan(no, n, ScanKind::Ship);
        s.carrier = Some("GROUND".into());
        s.tracking = Some(format!("TRK{}-{n}", no.0).into());
        self.apply(no, s);
        for kind in [ScanKind::InTransit, ScanKind::OutForDelivery] {
            let s = self.scan(no, n, kind);
            self.apply(no, s);
        }
        if self.rng.random_bool(0.05) {
            let mut s = self.scan(no, n, ScanKind::DeliveryException);
            s.reason = Some("weather".into());
            self.apply(no, s);
        }
        let s = self.scan(no, n, ScanKind::Delivered);
        self.apply(no, s);
        if self.to_return.contains(&no) {
            for l in &f.lines {
                let mut s = self.scan(no, n, ScanKind::ReturnReceived);
                s.sku = Some(l.sku);
                s.qty = Some(l.qty);
                s.disposition = Some(if self.rng.random_bool(0.5) {
                    Disposition::Restock
                } else {
                    Disposition::Dispose
                });
                self.returned_units += l.qty;
                self.apply(no, s);
                self.returns_applied += 1;
            }
        }
    }

    /// Releases due waves and processes them until nothing is queued.
    fn drive(&mut self) {
        loop {
            self.now += 6_000;
            let waves = self.world.tick(self.now);
            if waves.is_empty() {
                assert!(self.world.facilities.iter().all(|f| f.queued() == 0));
                return;
            }
            for w in waves {
                for f in w.fulfillments {
                    self.process(f);
                }
            }
            assert_audit(&self.world);
        }
    }
}

#[test]
fn bf1_lifecycle_ends_in_final_states() {
    let cfg = Config::with_network(bf1::generate(&Bf1Params {
        scale: 0.01,
        seed: 11,
    }));
    let n_fac = cfg.network.facilities.len() as u16;
    let n_sku = cfg.network.skus.len() as u32;
    let mut world = World::new(&cfg, T0);
    // Hot SKUs with one unit per cell (they will run out), and one SKU that
    // is sold out for good (no receipt will ever come).
    let hot: Vec<u32> = vec![0, 1, 2, 3, 4];
    let never: u32 = 5;
    let cells: Vec<CellKey> = world.cells.keys().copied().collect();
    for k in cells {
        if hot.contains(&k.sku.0) {
            world.adjust(k, 1, T0).unwrap();
        } else if k.sku.0 == never {
            world.adjust(k, 0, T0).unwrap();
        }
    }
    let mut d = Driver {
        world,
        rng: ChaCha8Rng::seed_from_u64(2026),
        now: T0,
        events: 0,
        to_cancel: HashSet::new(),
        to_return: HashSet::new(),
        cancelled: 0,
        returned_units: 0,
        returns_applied: 0,
    };

    let mut nos = Vec::new();
    let mut split = 0;
    for i in 0..2_000u32 {
        d.now += 100;
        let n_lines = d.rng.random_range(1..=3);
        let mut skus = BTreeSet::new();
        while skus.len() < n_lines {
            let r: f64 = d.rng.random();
            let sku = if r < 0.2 {
                hot[d.rng.random_range(0..hot.len())]
            } else if r < 0.22 {
                never
            } else {
                let u: f64 = d.rng.random();
                ((u * u * f64::from(n_sku)) as u32).min(n_sku - 1)
            };
            skus.insert(sku);
        }
        let lines: Vec<(u32, u32)> = skus
            .into_iter()
            .map(|s| (s, d.rng.random_range(1..=2)))
            .collect();
        let level = ServiceLevel::ALL[d.rng.random_range(0..3)];
        let (lat, lon) = (
            d.rng.random_range(26.0..48.0),
            d.rng.random_range(-122.0..-70.0),
        );
        let mut req = request(&format!("bf-{i:05}"), level, lat, lon, &lines);
        req.allow_backorder = !d.rng.random_bool(0.03);
        let single = single_facility_possible(&d.world, &lines);
        let no = d.world.place(req, d.now).unwrap();
        let o = &d.world.orders[&no];
        if single {
            assert_eq!(
                o.fulfillments().len(),
                1,
                "{}: one facility could ship it",
                i
            );
            assert_eq!(o.status(), OrderStatus::Routed);
        } else if o.fulfillments().len() > 1 {
            split += 1;
        }
        nos.push(no);
        if d.rng.random_bool(0.02) {
            d.to_cancel.insert(no);
        } else if d.rng.random_bool(0.03) {
            d.to_return.insert(no);
        }
        if i % 100 == 99 {
            // Marked orders with nothing released yet are cancelled now.
            for &no in &nos {
                let o = &d.world.orders[&no];
                if d.to_cancel.contains(&no)
                    && !matches!(o.status(), OrderStatus::Cancelled | OrderStatus::Rejected)
                    && o.fulfillments()
                        .iter()
                        .all(|f| f.status == FulfillmentStatus::Routed)
                    && d.rng.random_bool(0.5)
                {
                    d.world.cancel(no, d.now).unwrap();
                    d.cancelled += 1;
                }
            }
            d.drive();
        }
    }
    assert!(split > 0, "some orders were split");
    let waiting_skus = |w: &World| -> Vec<u32> {
        let mut v: Vec<u32> = w
            .desks
            .iter()
            .filter(|(_, desk)| desk.waiting() > 0)
            .map(|(s, _)| s.0)
            .collect();
        v.sort();
        v
    };
    let before = waiting_skus(&d.world);
    assert!(before.contains(&never));
    assert!(hot.iter().any(|s| before.contains(s)), "hot SKUs ran out");

    // Stock arrives for every waiting SKU but the sold-out one, in two rounds.
    let mut received = 0;
    for round in 0..2 {
        for sku in waiting_skus(&d.world) {
            if sku == never {
                continue;
            }
            let units = d.world.desks[&SkuIdx(sku)].units_waiting() as u32;
            let f = (sku + round) as u16 % n_fac;
            d.now += 10;
            d.world.receive(key(sku, f), units, d.now).unwrap();
            received += 1;
        }
        assert_eq!(waiting_skus(&d.world), vec![never]);
        d.drive();
    }
    assert!(received > 0);
    // Orders still waiting only for the sold-out SKU may be cancelled.
    for &no in &nos {
        let st = d.world.orders[&no].status();
        if d.to_cancel.contains(&no)
            && !matches!(st, OrderStatus::Cancelled | OrderStatus::Rejected)
        {
            d.world.cancel(no, d.now).unwrap();
            d.cancelled += 1;
        }
    }
    d.drive();

    let mut by_status: HashMap<OrderStatus, usize> = HashMap::new();
    for &no in &nos {
        let o = &d.world.orders[&no];
        let st = o.status();
        *by_status.entry(st).or_default() += 1;
        if !st.is_final() {
            assert!(
                matches!(
                    st,
                    OrderStatus::Backordered | OrderStatus::PartiallyBackordered
                ),
                "{} is {st:?}",
                o.request().order_id
            );
            for &l in o.backordered() {
                assert_eq!(
                    o.request().lines[usize::from(l)].sku,
                    SkuIdx(never),
                    "{} waits for a SKU that got stock",
                    o.request().order_id
                );
            }
        }
        if st != OrderStatus::Cancelled {
            for f in o.fulfillments() {
                assert!(
                    matches!(
                        f.status,
                        FulfillmentStatus::Delivered | FulfillmentStatus::Returned
                    ),
                    "{}/{} is {:?}",
                    o.request().order_id,
                    f.n,
                    f.status
                );
            }
        }
    }
    for f in &d.world.facilities {
        assert_eq!((f.queued(), f.open_waves()), (0, 0), "{}", f.id());
    }
    for (k, c) in &d.world.cells {
        if k.sku.0 != never {
            continue;
        }
        assert_eq!(c.reserved(), 0);
    }
    eprintln!(
        "bf1 lifecycle: {by_status:?}; {split} split, {} cancelled, {} return scans, {received} receipts, {} desk fills",
        d.cancelled,
        d.returns_applied,
        d.world.desks.values().map(|x| x.filled()).sum::<u64>()
    );
    assert!(d.cancelled >= 20, "cancelled {}", d.cancelled);
    assert!(d.returns_applied > 0 && d.returned_units > 0);
    assert!(by_status.get(&OrderStatus::Delivered).copied().unwrap_or(0) > 1_500);
    assert!(by_status.get(&OrderStatus::Returned).copied().unwrap_or(0) > 10);
    assert!(d.world.desks[&SkuIdx(never)].waiting() > 0);
    assert_audit(&d.world);
}

#[test]
fn split_only_when_no_single_facility_can_ship() {
    // SKU 0 only at DC-01, SKU 1 only at DC-02, SKU 2 at DC-03 together with SKU 0.
    let cfg = config(
        3,
        vec![
            stock(0, 0, 10),
            stock(0, 2, 10),
            stock(1, 1, 10),
            stock(2, 2, 10),
        ],
    );
    let mut world = World::new(&cfg, T0);
    // Ship-to next to DC-01: it is the best facility for SKU 0 ...
    let near_dc01 = (40.7, -74.0);
    let no = world
        .place(
            request(
                "split",
                ServiceLevel::Standard,
                near_dc01.0,
                near_dc01.1,
                &[(0, 1), (1, 2)],
            ),
            T0,
        )
        .unwrap();
    let o = &world.orders[&no];
    assert_eq!(o.status(), OrderStatus::Routed);
    let parts: Vec<(FacilityIdx, Vec<u16>)> = o
        .fulfillments()
        .iter()
        .map(|f| (f.facility, f.lines.iter().map(|l| l.line).collect()))
        .collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts.contains(&(FacilityIdx(0), vec![0])), "{parts:?}");
    assert!(parts.contains(&(FacilityIdx(1), vec![1])), "{parts:?}");
    assert_eq!(world.cells[&key(1, 1)].reserved(), 2);

    // ... but an order DC-03 can ship whole goes there, never split, although
    // DC-01 is much closer for one of its lines.
    let whole = world
        .place(
            request(
                "whole",
                ServiceLevel::Standard,
                near_dc01.0,
                near_dc01.1,
                &[(0, 1), (2, 1)],
            ),
            T0,
        )
        .unwrap();
    let o = &world.orders[&whole];
    assert_eq!(o.fulfillments().len(), 1);
    assert_eq!(o.fulfillments()[0].facility, FacilityIdx(2));
    assert_eq!(o.fulfillments()[0].lines.len(), 2);
    // A single-line order takes the nearest facility.
    let one = world
        .place(
            request(
                "one",
                ServiceLevel::Standard,
                near_dc01.0,
                near_dc01.1,
                &[(0, 1)],
            ),
            T0,
        )
        .unwrap();
    assert_eq!(
        world.orders[&one].fulfillments()[0].facility,
        FacilityIdx(0)
    );

    // When the whole order fits nowhere and backorders are refused: rejected, nothing held.
    let mut req = request("nowhere", ServiceLevel::Standard, 40.0, -74.0, &[(1, 9)]);
    req.allow_backorder = false;
    let rej = world.place(req, T0).unwrap();
    assert_eq!(world.orders[&rej].status(), OrderStatus::Rejected);
    assert_eq!(world.cells[&key(1, 1)].reserved(), 2);
    // The same order split over two facilities is fine without backorders.
    let mut req = request(
        "split-nb",
        ServiceLevel::Standard,
        40.0,
        -74.0,
        &[(1, 1), (2, 1)],
    );
    req.allow_backorder = false;
    let nb = world.place(req, T0).unwrap();
    assert_eq!(world.orders[&nb].status(), OrderStatus::Routed);
    assert_eq!(world.orders[&nb].fulfillments().len(), 2);
    assert_audit(&world);
}

#[test]
fn refused_inventory_changes_change_nothing() {
    let cfg = config(1, vec![stock(0, 0, 5)]);
    let mut world = World::new(&cfg, T0);
    let no = world
        .place(
            request("o", ServiceLevel::Standard, 40.0, -74.0, &[(0, 3)]),
            T0,
        )
        .unwrap();
    assert_eq!(world.orders[&no].status(), OrderStatus::Routed);
    let cells = world.cells.clone();
    // Zero, over the limit, a cycle count below what is reserved.
    assert!(world.receive(key(0, 0), 0, T0).is_err());
    assert!(world.receive(key(0, 0), 1_000_001, T0).is_err());
    assert!(world.adjust(key(0, 0), 2, T0).is_err());
    assert_eq!(world.cells, cells);
    // A receipt that would overflow the cell is refused, not a panic.
    world.adjust(key(0, 0), u32::MAX - 1, T0).unwrap();
    let cells = world.cells.clone();
    assert!(world.receive(key(0, 0), 5, T0).is_err());
    assert_eq!(world.cells, cells);
    assert_audit(&world);
}
