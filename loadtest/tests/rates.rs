//! The runner's own accounting against fake cores (no real core, no timing
//! asserts on real speed): a core that answers slowly gives achieved <
//! offered; the in-flight limit drops arrivals instead of queueing them;
//! refusals are retried after Retry-After, then shed, and never counted as
//! errors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use orch_config::bf1::{generate, Bf1Params};
use orch_loadtest::driver::{PlaceAnswer, PlaceError, SystemUnderTest};
use orch_loadtest::profile::Profile;
use orch_loadtest::report::Report;
use orch_loadtest::runner::{run_against, RunOptions};
use orch_runtime::dto::{OrderView, PlaceOrder};
use tokio::sync::Semaphore;

fn view(o: &PlaceOrder) -> OrderView {
    OrderView {
        order_id: o.order_id.clone(),
        status: "routed".into(),
        reason: None,
        channel: "web".into(),
        service_level: "standard".into(),
        fulfillments: Vec::new(),
        backordered: Vec::new(),
        timeline: Vec::new(),
    }
}

/// How the fake answers each try of an order.
#[derive(Clone, Copy)]
enum Answer {
    /// Acknowledges.
    Ack,
    /// Refuses the first `n` tries of every order, then acknowledges.
    RefuseFirst(usize),
    /// Fails with an error.
    Fail,
}

/// A core that answers one batch at a time, each after `delay`.
struct FakeCore {
    gate: Arc<Semaphore>,
    delay: Duration,
    answer: Answer,
    /// Orders inside the core now (waiting for the gate or being answered).
    inside: Arc<AtomicUsize>,
    /// The most ever inside at once.
    inside_max: Arc<AtomicUsize>,
    tries: Arc<tries::Tries>,
}

mod tries {
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Tries per order id.
    #[derive(Default)]
    pub struct Tries(pub Mutex<HashMap<String, usize>>);

    impl Tries {
        pub fn bump(&self, id: &str) -> usize {
            let mut m = self.0.lock().unwrap();
            let n = m.entry(id.to_string()).or_default();
            *n += 1;
            *n
        }
    }
}

impl FakeCore {
    fn new(delay: Duration, answer: Answer) -> Arc<FakeCore> {
        Arc::new(FakeCore {
            gate: Arc::new(Semaphore::new(1)),
            delay,
            answer,
            inside: Arc::new(AtomicUsize::new(0)),
            inside_max: Arc::new(AtomicUsize::new(0)),
            tries: Arc::new(tries::Tries::default()),
        })
    }
}

impl SystemUnderTest for FakeCore {
    fn place_batch(&self, orders: Vec<PlaceOrder>) -> BoxFuture<'static, Vec<PlaceAnswer>> {
        let gate = self.gate.clone();
        let delay = self.delay;
        let answer = self.answer;
        let inside = self.inside.clone();
        let inside_max = self.inside_max.clone();
        let tries = self.tries.clone();
        Box::pin(async move {
            let n = inside.fetch_add(orders.len(), Ordering::SeqCst) + orders.len();
            inside_max.fetch_max(n, Ordering::SeqCst);
            let permit = gate.acquire_owned().await.unwrap();
            tokio::time::sleep(delay).await;
            drop(permit);
            inside.fetch_sub(orders.len(), Ordering::SeqCst);
            orders
                .iter()
                .map(|o| {
                    let t = tries.bump(&o.order_id);
                    match answer {
                        Answer::Ack => Ok(view(o)),
                        Answer::RefuseFirst(k) if t <= k => Err(PlaceError::Refused {
                            retry_after: Duration::from_millis(20),
                            reason: "429: too_many_requests".into(),
                        }),
                        Answer::RefuseFirst(_) => Ok(view(o)),
                        Answer::Fail => Err(PlaceError::Failed("500: boom".into())),
                    }
                })
                .collect()
        })
    }
}

async fn run_fake(core: Arc<FakeCore>, rate: f64, max_in_flight: usize) -> Report {
    let net = generate(&Bf1Params {
        scale: 0.01,
        seed: 9,
    });
    let mut o = RunOptions::new(Profile::steady(), 0.01, rate, Duration::from_secs(1), 9);
    o.reads_per_order = 0;
    o.progress = false;
    o.drain_timeout = Duration::from_secs(5);
    o.max_in_flight = max_in_flight;
    run_against(&o, core, net).await.expect("the run completes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_core_gives_achieved_under_offered() {
    // One order at a time, 10 ms each: at most 100/s against 300/s offered.
    let core = FakeCore::new(Duration::from_millis(10), Answer::Ack);
    let r = run_fake(core, 300.0, 100_000).await;
    let t = &r.throughput;
    assert_eq!(r.counts.orders_offered, 300);
    assert_eq!(
        r.counts.orders_acknowledged, 300,
        "every order answered in the end"
    );
    assert_eq!(r.counts.orders_dropped, 0, "the limit was not reached");
    assert!((t.orders_offered_per_s - 300.0).abs() < 1e-9, "{t:?}");
    assert!(
        t.orders_achieved_per_s < 0.5 * t.orders_offered_per_s,
        "achieved is taken until the last acknowledgment: {t:?}"
    );
    assert!(t.achieved_window_s > 2.0, "{t:?}");
    assert!(t.goodput_per_s < t.orders_achieved_per_s, "{t:?}");
    assert!(r.latency_ms.place.p99 > 100.0, "queued behind each other");
    let acked: u64 = r.series.iter().map(|s| s.achieved).sum();
    assert_eq!(acked, 300, "the series counts each acknowledgment once");
    assert!(
        r.series.iter().skip(2).any(|s| s.achieved > 0),
        "acknowledged in the seconds they were acknowledged, after the arrivals"
    );
    assert_eq!(r.counts.errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_beyond_the_in_flight_limit_are_dropped_not_queued() {
    let core = FakeCore::new(Duration::from_millis(20), Answer::Ack);
    let r = run_fake(core.clone(), 300.0, 5).await;
    let n = &r.counts;
    assert_eq!(n.orders_offered, 300);
    assert!(n.orders_dropped > 200, "{n:?}");
    assert_eq!(n.orders_acknowledged + n.orders_dropped, n.orders_offered);
    assert!(
        core.inside_max.load(Ordering::SeqCst) <= 5,
        "never more than the limit outstanding: {}",
        core.inside_max.load(Ordering::SeqCst)
    );
    let dropped: u64 = r.series.iter().map(|s| s.dropped).sum();
    assert_eq!(dropped, n.orders_dropped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_orders_are_retried_then_shed_and_are_not_errors() {
    let once = FakeCore::new(Duration::ZERO, Answer::RefuseFirst(1));
    let r = run_fake(once, 100.0, 100_000).await;
    let n = &r.counts;
    assert_eq!(n.orders_offered, 100);
    assert_eq!(n.orders_refused, 100, "{n:?}");
    assert_eq!(n.orders_retried, 100, "{n:?}");
    assert_eq!(n.orders_acknowledged, 100, "acknowledged on the second try");
    assert_eq!((n.orders_shed, n.orders_failed, n.errors), (0, 0, 0));

    let never = FakeCore::new(Duration::ZERO, Answer::RefuseFirst(usize::MAX));
    let r = run_fake(never, 100.0, 100_000).await;
    let n = &r.counts;
    assert_eq!(n.orders_refused, 300, "three tries each: {n:?}");
    assert_eq!(n.orders_shed, 100, "{n:?}");
    assert_eq!(n.orders_acknowledged, 0);
    assert_eq!((n.orders_failed, n.errors), (0, 0));
    assert_eq!(r.series.iter().map(|s| s.shed).sum::<u64>(), 100);

    let failing = FakeCore::new(Duration::ZERO, Answer::Fail);
    let r = run_fake(failing, 100.0, 100_000).await;
    let n = &r.counts;
    assert_eq!(
        (n.orders_failed, n.orders_refused, n.orders_shed),
        (100, 0, 0)
    );
}
