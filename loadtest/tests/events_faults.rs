//! The events feed audit against an in-process core, the receiver
//! registered as a run does: a clean set of placements passes every check
//! with every event delivered and signed; faults at the boundary between
//! the tester and the core fail the check named for each:
//!
//! - the book records a cancel that never reached the core:
//!   `events_exactly_once` (acknowledged, no event);
//! - an order placed behind the book's back that the book believes was
//!   refused on every try: `no_event_for_refused`.

use std::time::{Duration, Instant};

use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, Network};
use orch_loadtest::book::Book;
use orch_loadtest::driver::Driver;
use orch_loadtest::driver_inprocess::InProcessDriver;
use orch_loadtest::feed_audit::FeedAudit;
use orch_loadtest::hooks_run::HooksRun;
use orch_loadtest::workload::Bf1Stream;
use orch_runtime::Core;

const PREFIX: &str = "ef-";

fn core(net: &Network) -> (Core, Driver) {
    let mut cfg = Config::with_network(net.clone());
    cfg.runtime.workers = 2;
    let core = Core::try_start(&cfg).expect("start the core");
    (core.clone(), Driver::InProcess(InProcessDriver::new(core)))
}

/// Places `n` orders recorded as the runner records them, plus `behind`
/// placed without the book hearing of it; audits with the receiver.
async fn audited(
    fault: impl FnOnce(&Book),
    n: usize,
    behind: &[&str],
) -> (FeedAudit, orch_loadtest::book_events::EventBookCopy) {
    let net = generate(&Bf1Params {
        scale: 0.01,
        seed: 31,
    });
    let (core, driver) = core(&net);
    let book = Book::new(&net);
    let hooks = HooksRun::start(&driver, true, "faults", PREFIX)
        .await
        .expect("register the receiver")
        .expect("the core serves a feed");
    let mut stream = Bf1Stream::new(&net, 4);
    let orders: Vec<_> = (0..n)
        .map(|i| stream.next_order(format!("{PREFIX}{i}")))
        .collect();
    for a in driver.place_batch(&orders).await {
        let v = a.expect("valid BF-1 orders are acknowledged");
        book.acknowledged(&v);
        book.events().placed(&v, Instant::now());
    }
    let hidden: Vec<_> = behind
        .iter()
        .map(|id| stream.next_order(id.to_string()))
        .collect();
    for a in driver.place_batch(&hidden).await {
        a.expect("placed behind the book's back");
    }
    fault(&book);
    let copy = book.events().copy();
    let a = hooks.finish(&driver, &book, Duration::from_secs(20)).await;
    core.shutdown();
    (a, copy)
}

fn passed(a: &FeedAudit, name: &str) -> bool {
    a.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", a.checks))
        .passed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_placements_pass_and_every_event_is_delivered_signed() {
    let (a, book) = audited(|_| {}, 30, &[]).await;
    for c in &a.checks {
        assert!(c.passed, "{}: {:?}", c.name, c.examples);
    }
    assert_eq!(a.checks.len(), 4);
    let w = a.figures.webhooks.as_ref().unwrap();
    assert!(
        a.figures.feed_events >= 60,
        "placed + routed: {:?}",
        a.figures
    );
    assert_eq!(a.figures.changes_checked, book.changes.len() as u64);
    assert_eq!(w.delivered, a.figures.feed_events);
    assert_eq!((w.outstanding, w.bad_signatures), (0, 0));
    // Every placement's events have a lag (a wave the core's timer
    // released meanwhile would add events the tester never heard of).
    assert!(w.lag_ms.count >= book.changes.len() as u64, "{w:?}");
    assert!(w.lag_ms.count <= a.figures.feed_events, "{w:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_never_sent_and_an_order_behind_the_books_back_are_caught() {
    let (a, _) = audited(
        |b| {
            b.events().cancelled(&format!("{PREFIX}0"), Instant::now());
            b.events().refused("ef-hidden");
        },
        10,
        &["ef-hidden"],
    )
    .await;
    assert!(!passed(&a, "events_exactly_once"));
    let c = a
        .checks
        .iter()
        .find(|c| c.name == "events_exactly_once")
        .unwrap();
    assert_eq!(c.violations, 1, "{:?}", c.examples);
    assert!(
        c.examples[0].contains("order.cancelled"),
        "{:?}",
        c.examples
    );
    assert!(!passed(&a, "no_event_for_refused"));
    let c = a
        .checks
        .iter()
        .find(|c| c.name == "no_event_for_refused")
        .unwrap();
    assert!(
        c.examples[0].contains("ef-hidden, refused on every try"),
        "{:?}",
        c.examples
    );
    // The core did nothing wrong: the rest holds.
    assert!(passed(&a, "events_per_order_order"));
    assert!(passed(&a, "webhooks_delivered_all"));
}
