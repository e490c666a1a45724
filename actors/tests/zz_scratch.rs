use orch_actors::order::{OrderLine, PlaceRequest};
use orch_actors::sim::World;
use orch_actors::{CellKey, FacilityIdx, SkuIdx};
use orch_config::*;

#[test]
fn receipt_into_a_cell_below_safety_stock() {
    let f = FacilityConfig {
        id: "DC-01".into(), kind: FacilityKind::Dc, lat: 40.0, lon: -74.0, capacity_per_hour: 100,
        cost_per_fulfillment: 1.0, zones: vec!["A".into()],
        wave: WavePolicy { size_max: 3, wait_ms_max: 1000 }, cutoffs: vec![], enabled: true,
    };
    let cfg = Config::with_network(Network {
        facilities: vec![f],
        skus: vec!["S".into()],
        stock: vec![StockEntry { sku: 0, facility: 0, on_hand: 1, safety_stock: 2 }],
    });
    let mut w = World::new(&cfg, 0);
    let req = PlaceRequest { order_id: "o".into(), channel: "web".into(), lat: 40.0, lon: -74.0,
        service_level: ServiceLevel::Standard, lines: vec![OrderLine { sku: SkuIdx(0), qty: 1 }], allow_backorder: true };
    w.place(req, 0).unwrap();
    let key = CellKey { sku: SkuIdx(0), facility: FacilityIdx(0) };
    w.receive(key, 1, 1).unwrap();
    assert!(w.audit().passed(), "{}", w.audit().failures());
}
