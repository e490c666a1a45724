//! The audit from the tester's own book against an in-process core with
//! faults injected at the boundary between the tester and the core. A clean
//! run passes every book check; each fault must fail the check named for it:
//!
//! - a receipt applied twice (sent again under a second receipt id, the book
//!   records one): `inventory_matches_book` and `conservation_per_sku`,
//!   while the core's own ledger audit still passes;
//! - a reservation leaked by a cancel (the book records a cancel that never
//!   reached the core) and one leaked by an order placed behind the book's
//!   back: `inventory_matches_book` on reserved;
//! - a pick lost (the book records a pick never sent):
//!   `inventory_matches_book` and `conservation_per_sku`;
//! - an acknowledged order missing (the book records an acknowledgment the
//!   core never gave): `no_lost_acknowledged_order`.

use std::time::Instant;

use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, Network};
use orch_loadtest::audit::{audit, AuditInput, AuditOutcome, CheckResult};
use orch_loadtest::book::Book;
use orch_loadtest::driver::Driver;
use orch_loadtest::driver_inprocess::InProcessDriver;
use orch_loadtest::histo::Metrics;
use orch_loadtest::workload::Bf1Stream;
use orch_runtime::dto::{OrderView, ReceiptInput, ScanInput};
use orch_runtime::Core;

const BOOK_CHECKS: [&str; 4] = [
    "no_oversell",
    "inventory_matches_book",
    "conservation_per_sku",
    "no_lost_acknowledged_order",
];

/// A core, its network, the book, and a few orders placed, received,
/// released and partly picked, every step recorded as the runner would.
struct Bench {
    core: Core,
    driver: Driver,
    net: Network,
    book: Book,
    /// Acknowledged orders with every line reserved, as answered.
    routed: Vec<OrderView>,
}

async fn bench() -> Bench {
    let net = generate(&Bf1Params {
        scale: 0.01,
        seed: 21,
    });
    let mut cfg = Config::with_network(net.clone());
    cfg.runtime.workers = 2;
    let core = Core::try_start(&cfg).expect("start the core");
    let driver = Driver::InProcess(InProcessDriver::new(core.clone()));
    let book = Book::new(&net);
    let mut stream = Bf1Stream::new(&net, 4);
    let orders: Vec<_> = (0..40)
        .map(|i| stream.next_order(format!("af-{i}")))
        .collect();
    let mut routed = Vec::new();
    for a in driver.place_batch(&orders).await {
        let v = a.expect("valid BF-1 orders are acknowledged");
        book.acknowledged(&v);
        if v.status == "routed" {
            routed.push(v);
        }
    }
    assert!(routed.len() >= 5, "enough routed orders to work on");
    // A receipt, as the simulator sends and records it.
    let r = receipt(&net, "rc-1");
    let res = driver.receive(vec![r.clone()]).await.unwrap();
    assert_eq!(res[0].result, "applied");
    book.received(&r.sku, &r.facility_id, r.qty as u64);
    // Every wave released, then the first order's first fulfillment picked.
    core.quiesce().await;
    core.release_all_waves().await;
    core.quiesce().await;
    let v = driver
        .order(routed[0].order_id.clone())
        .await
        .unwrap()
        .unwrap();
    let f = &v.fulfillments[0];
    assert_eq!(f.status, "released", "{v:?}");
    let picks: Vec<ScanInput> = f
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| pick(&v, 0, i, &l.sku, l.qty))
        .collect();
    for (e, res) in picks.iter().zip(driver.scans(picks.clone()).await.unwrap()) {
        assert_eq!(res.result, "applied", "{res:?}");
        book.picked(
            &e.order_id,
            &e.fulfillment_id,
            &e.facility_id,
            e.sku.as_deref().unwrap(),
            e.qty.unwrap() as u32,
        );
    }
    core.quiesce().await;
    Bench {
        core,
        driver,
        net,
        book,
        routed,
    }
}

fn receipt(net: &Network, id: &str) -> ReceiptInput {
    let e = &net.stock[7];
    ReceiptInput {
        sku: net.skus[e.sku as usize].clone(),
        facility_id: net.facilities[e.facility as usize].id.clone(),
        qty: 5,
        receipt_id: id.into(),
    }
}

fn pick(v: &OrderView, fi: usize, li: usize, sku: &str, qty: u32) -> ScanInput {
    let f = &v.fulfillments[fi];
    ScanInput {
        event_id: format!("{}:pick:{li}", f.fulfillment_id.replace('/', ".")),
        kind: "pick".into(),
        order_id: v.order_id.clone(),
        fulfillment_id: f.fulfillment_id.clone(),
        facility_id: f.facility_id.clone(),
        sku: Some(sku.into()),
        qty: Some(i64::from(qty)),
        ..ScanInput::default()
    }
}

async fn run_audit(b: &Bench) -> AuditOutcome {
    b.core.quiesce().await;
    audit(AuditInput {
        driver: &b.driver,
        book: &b.book,
        plan: None,
        hot_initial: &[],
        core_audit: b.core.audit().await,
        skus: &b.net.skus,
        metrics: &Metrics::new(Instant::now()),
        abandoned: 0,
        surprises: Vec::new(),
        unheard: Vec::new(),
        carts: false,
    })
    .await
}

fn check<'a>(o: &'a AuditOutcome, name: &str) -> &'a CheckResult {
    o.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", o.checks))
}

fn assert_only_failed(o: &AuditOutcome, failed: &[&str]) {
    for name in BOOK_CHECKS {
        let c = check(o, name);
        assert_eq!(
            c.passed,
            !failed.contains(&name),
            "{name}: passed {} with {:?}",
            c.passed,
            c.examples
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_passes_every_book_check() {
    let b = bench().await;
    let o = run_audit(&b).await;
    assert_only_failed(&o, &[]);
    assert!(
        check(&o, "inventory_matches_book")
            .scope
            .contains("1000 SKUs"),
        "every SKU read: {:?}",
        check(&o, "inventory_matches_book")
    );
    b.core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_applied_twice_fails_the_book_but_not_the_core_ledger() {
    let b = bench().await;
    // The same delivery again under another id: the core applies it, the
    // book (which sent one delivery) does not know.
    let again = receipt(&b.net, "rc-1-again");
    let res = b.driver.receive(vec![again.clone()]).await.unwrap();
    assert_eq!(res[0].result, "applied");
    let o = run_audit(&b).await;
    assert_only_failed(&o, &["inventory_matches_book", "conservation_per_sku"]);
    let c = check(&o, "inventory_matches_book");
    assert_eq!(c.violations, 1, "{:?}", c.examples);
    assert!(c.examples[0].starts_with(&format!("{} at {}", again.sku, again.facility_id)));
    assert!(
        check(&o, "core.conservation_per_sku").passed,
        "the core's ledger moved with its on hand: only the book sees it"
    );
    b.core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_leaked_by_a_cancel_fails_the_reserved_check() {
    let b = bench().await;
    // The book believes a cancel succeeded; it never reached the core, which
    // still holds the order's reservation.
    let leaked = &b.routed[1];
    b.book.cancelled(&leaked.order_id);
    let o = run_audit(&b).await;
    let c = check(&o, "inventory_matches_book");
    assert!(!c.passed);
    let f = &leaked.fulfillments[0];
    assert!(
        c.examples.iter().any(|e| e
            .starts_with(&format!("{} at {}", f.lines[0].sku, f.facility_id))
            && e.contains("the book")),
        "{:?}",
        c.examples
    );
    assert!(check(&o, "conservation_per_sku").passed, "on hand is right");
    b.core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_the_book_never_made_fails_the_reserved_check() {
    let b = bench().await;
    // An order placed behind the book's back holds stock the book does not
    // know of.
    let mut stream = Bf1Stream::new(&b.net, 99);
    let o = stream.next_order("af-behind".into());
    let v = b.driver.place_batch(&[o]).await.remove(0).unwrap();
    assert_eq!(v.status, "routed");
    let out = run_audit(&b).await;
    assert_only_failed(&out, &["inventory_matches_book"]);
    let c = check(&out, "inventory_matches_book");
    assert!(
        c.examples
            .iter()
            .all(|e| e.contains("the book") && !e.contains("reserved 0,")),
        "{:?}",
        c.examples
    );
    b.core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_pick_fails_the_book() {
    let b = bench().await;
    // The book records a pick the core never got.
    let v = &b.routed[2];
    let f = &v.fulfillments[0];
    let l = &f.lines[0];
    b.book.picked(
        &v.order_id,
        &f.fulfillment_id,
        &f.facility_id,
        &l.sku,
        l.qty,
    );
    let o = run_audit(&b).await;
    assert_only_failed(&o, &["inventory_matches_book", "conservation_per_sku"]);
    b.core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_order_the_core_lost_fails_the_order_check() {
    let b = bench().await;
    // An acknowledgment the core never gave: the book holds an order the
    // core cannot find (its lines are unreserved so only the order check
    // can see it).
    let mut ghost = b.routed[3].clone();
    ghost.order_id = "af-ghost".into();
    ghost.fulfillments.clear();
    ghost.status = "backordered".into();
    b.book.acknowledged(&ghost);
    let o = run_audit(&b).await;
    assert_only_failed(&o, &["no_lost_acknowledged_order"]);
    let c = check(&o, "no_lost_acknowledged_order");
    assert_eq!(c.violations, 1);
    assert!(c.examples[0].contains("af-ghost"), "{:?}", c.examples);
    b.core.shutdown();
}
