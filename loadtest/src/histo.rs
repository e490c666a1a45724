//! Latency histograms, counters and per-second rates of a run: offered (by
//! the second each order was due), achieved and goodput (by the second each
//! was acknowledged), dropped and shed, and the generator's lateness.
//! Latencies are recorded in
//! microseconds from each request's intended start (coordinated omission
//! corrected: a request that waited behind a slow one counts its wait) and
//! reported in milliseconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// One latency histogram (µs, 3 significant figures, grows as needed).
#[derive(Debug)]
pub struct Latency(Mutex<Histogram<u64>>);

fn histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant figures is valid");
    h.auto(true);
    h
}

impl Default for Latency {
    fn default() -> Self {
        Latency(Mutex::new(histogram()))
    }
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Samples.
    pub count: u64,
}

fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        count: h.len(),
    }
}

impl Latency {
    /// Records the time from `intended` to now.
    pub fn record_since(&self, intended: Instant) {
        self.record(intended.elapsed());
    }

    /// Records one latency.
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let mut h = self.0.lock().expect("histogram lock");
        let _ = h.record(us.max(1));
    }

    /// Records the same latency `n` times.
    pub fn record_n(&self, d: Duration, n: u64) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let mut h = self.0.lock().expect("histogram lock");
        let _ = h.record_n(us.max(1), n);
    }

    /// Percentiles so far.
    pub fn percentiles(&self) -> Percentiles {
        percentiles(&self.0.lock().expect("histogram lock"))
    }

    /// The 99th percentile so far, in milliseconds.
    pub fn p99_ms(&self) -> f64 {
        self.percentiles().p99
    }
}

/// What happened in one second of the run.
#[derive(Debug)]
pub struct Second {
    /// Orders due in this second (offered, dropped ones included).
    pub offered: u64,
    /// Orders acknowledged in this second (achieved).
    pub achieved: u64,
    /// Orders acknowledged in this second within the latency objective.
    pub goodput: u64,
    /// Orders due in this second and dropped (in-flight limit).
    pub dropped: u64,
    /// Orders given up in this second after their last refused try.
    pub shed: u64,
    /// Place latency of the orders acknowledged in this second.
    pub place: Histogram<u64>,
}

/// One second of the chart's series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SecondPoint {
    /// Seconds from the start.
    pub second: u64,
    /// Orders due (the target rate).
    pub offered: u64,
    /// Orders acknowledged in this second (achieved rate).
    pub achieved: u64,
    /// Of those, acknowledged within the latency objective (goodput).
    pub goodput: u64,
    /// Orders due in this second that were dropped (in-flight limit).
    pub dropped: u64,
    /// Orders shed in this second (refused on every try).
    pub shed: u64,
    /// Median place latency of the orders acknowledged in this second, ms.
    pub place_p50_ms: f64,
    /// 99th percentile, ms.
    pub place_p99_ms: f64,
}

/// How late the generator sent arrivals (from each one's intended time).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Lateness {
    /// Latest arrival, ms behind its intended time.
    pub max_ms: f64,
    /// Mean lateness over every arrival, ms.
    pub mean_ms: f64,
    /// Arrivals later than `tolerance_ms`.
    pub late_arrivals: u64,
    /// The tolerance, ms.
    pub tolerance_ms: f64,
    /// Arrivals measured.
    pub arrivals: u64,
}

/// Named counters of a run.
#[derive(Debug, Default)]
pub struct Counters {
    /// Orders sent.
    pub orders_offered: AtomicU64,
    /// Orders answered with success (2xx).
    pub orders_acknowledged: AtomicU64,
    /// Orders answered with an error (refusals not counted) or not answered.
    pub orders_failed: AtomicU64,
    /// Arrivals dropped: the in-flight limit was reached (never queued).
    pub orders_dropped: AtomicU64,
    /// Refusals answered (429 / `Busy`), every try counted.
    pub orders_refused: AtomicU64,
    /// Tries after a refusal (after its `Retry-After`).
    pub orders_retried: AtomicU64,
    /// Orders given up after their last refused try.
    pub orders_shed: AtomicU64,
    /// Acknowledged within the latency objective.
    pub orders_good: AtomicU64,
    /// Availability read groups dropped by the in-flight limit.
    pub reads_dropped: AtomicU64,
    /// Acknowledged orders with every line reserved.
    pub routed: AtomicU64,
    /// Acknowledged orders with at least one line waiting for stock.
    pub backordered: AtomicU64,
    /// Acknowledged orders the core rejected.
    pub rejected: AtomicU64,
    /// Cancels that succeeded.
    pub cancelled: AtomicU64,
    /// Cancels that failed.
    pub cancel_failed: AtomicU64,
    /// Fulfillments delivered.
    pub delivered: AtomicU64,
    /// Fulfillments returned (every line).
    pub returned: AtomicU64,
    /// Units returned to the shelf.
    pub units_restocked: AtomicU64,
    /// Units disposed of.
    pub units_disposed: AtomicU64,
    /// Scan events sent.
    pub scans_sent: AtomicU64,
    /// Applied.
    pub scans_applied: AtomicU64,
    /// Answered duplicate.
    pub scans_duplicate: AtomicU64,
    /// Answered rejected.
    pub scans_rejected: AtomicU64,
    /// Duplicates the simulator sent on purpose.
    pub scans_duplicate_sent: AtomicU64,
    /// Out-of-order scans the simulator sent on purpose.
    pub scans_out_of_order_sent: AtomicU64,
    /// In-order scans tried again because they overtook the wave's notice
    /// to the order (answered "fulfillment is routed").
    pub scans_retried: AtomicU64,
    /// Rejections the simulator did not expect (in-order scans refused).
    pub scans_rejected_unexpected: AtomicU64,
    /// Deliberate duplicates not answered duplicate.
    pub scans_duplicate_unexpected: AtomicU64,
    /// Availability reads.
    pub reads: AtomicU64,
    /// Failed availability reads.
    pub read_errors: AtomicU64,
    /// Receipts applied.
    pub receipts_applied: AtomicU64,
    /// Backordered lines those receipts served first.
    pub backorders_served: AtomicU64,
    /// Units received.
    pub units_received: AtomicU64,
    /// Waves the simulator answered.
    pub waves: AtomicU64,
    /// Released fulfillments whose order never learned its wave (picks
    /// kept answering "fulfillment is routed").
    pub waves_unheard: AtomicU64,
    /// Wave announcements missed (the subscriber lagged).
    pub waves_missed: AtomicU64,
    /// Transport or server errors of any request.
    pub errors: AtomicU64,
    /// Carts whose hold was acknowledged.
    pub carts_created: AtomicU64,
    /// Carts whose order converted the hold.
    pub carts_converted: AtomicU64,
    /// Carts whose order found the hold no longer active.
    pub carts_not_converted: AtomicU64,
    /// Carts abandoned after their hold was acknowledged.
    pub carts_abandoned: AtomicU64,
    /// Hold requests refused (429 / Busy), each try counted.
    pub carts_refused: AtomicU64,
    /// Carts given up after `max_tries` refusals of their hold.
    pub carts_shed: AtomicU64,
    /// Hold requests that failed otherwise.
    pub carts_failed: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Everything a run measures.
#[derive(Debug)]
pub struct Metrics {
    /// When the run started (intended start of order 0).
    pub start: Instant,
    /// Place latency.
    pub place: Latency,
    /// Scan latency (per event, from the step's due time).
    pub scan: Latency,
    /// Availability read latency.
    pub read: Latency,
    /// Hold create latency (carts), from the cart's intended time.
    pub hold: Latency,
    /// Counters.
    pub counts: Counters,
    /// The latency objective (goodput counts acknowledgments within it).
    pub slo: Duration,
    /// Arrivals later than this count as late.
    pub late_tolerance: Duration,
    late_max_us: AtomicU64,
    late_sum_us: AtomicU64,
    late_n: AtomicU64,
    late_over: AtomicU64,
    last_ack_us: AtomicU64,
    last_offer_us: AtomicU64,
    seconds: Mutex<Vec<Second>>,
}

impl Metrics {
    /// Metrics of a run starting at `start`, with a 10 ms objective and a
    /// 50 ms lateness tolerance.
    pub fn new(start: Instant) -> Metrics {
        Metrics::with_objective(start, Duration::from_millis(10), Duration::from_millis(50))
    }

    /// Metrics with a latency objective and a lateness tolerance.
    pub fn with_objective(start: Instant, slo: Duration, late_tolerance: Duration) -> Metrics {
        Metrics {
            start,
            place: Latency::default(),
            scan: Latency::default(),
            read: Latency::default(),
            hold: Latency::default(),
            counts: Counters::default(),
            slo,
            late_tolerance,
            late_max_us: AtomicU64::new(0),
            late_sum_us: AtomicU64::new(0),
            late_n: AtomicU64::new(0),
            late_over: AtomicU64::new(0),
            last_ack_us: AtomicU64::new(0),
            last_offer_us: AtomicU64::new(0),
            seconds: Mutex::new(Vec::new()),
        }
    }

    fn second_of(&self, t: Instant) -> usize {
        t.saturating_duration_since(self.start).as_secs() as usize
    }

    /// The generator sent an arrival `lateness` after its intended time.
    pub fn arrival_lateness(&self, lateness: Duration) {
        let us = lateness.as_micros().min(u128::from(u64::MAX)) as u64;
        self.late_max_us.fetch_max(us, Ordering::Relaxed);
        self.late_sum_us.fetch_add(us, Ordering::Relaxed);
        self.late_n.fetch_add(1, Ordering::Relaxed);
        if lateness > self.late_tolerance {
            self.late_over.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How late the generator was.
    pub fn lateness(&self) -> Lateness {
        let n = self.late_n.load(Ordering::Relaxed);
        let sum = self.late_sum_us.load(Ordering::Relaxed);
        Lateness {
            max_ms: ms(self.late_max_us.load(Ordering::Relaxed)),
            mean_ms: if n > 0 {
                (sum as f64 / n as f64 / 1000.0 * 1000.0).round() / 1000.0
            } else {
                0.0
            },
            late_arrivals: self.late_over.load(Ordering::Relaxed),
            tolerance_ms: self.late_tolerance.as_secs_f64() * 1000.0,
            arrivals: n,
        }
    }

    /// An arrival due at `intended` was dropped: the in-flight limit was
    /// reached.
    pub fn dropped(&self, intended: Instant) {
        self.with_second(self.second_of(intended), |b| b.dropped += 1);
        Counters::add(&self.counts.orders_dropped, 1);
    }

    /// An order was given up now after its last refused try.
    pub fn shed(&self) {
        self.with_second(self.second_of(Instant::now()), |b| b.shed += 1);
        Counters::add(&self.counts.orders_shed, 1);
    }

    /// Seconds from the start to the last acknowledgment (0 if none).
    pub fn last_ack_s(&self) -> f64 {
        self.last_ack_us.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Seconds from the start to the last order offered (0 if none): past
    /// the arrival window when carts check out after their delay.
    pub fn last_offer_s(&self) -> f64 {
        self.last_offer_us.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// The window achieved and goodput are taken over: the arrival window,
    /// or up to the last acknowledgment when that came later, less the time
    /// by which the last offer itself came after the window (a cart's
    /// checkout delay is think time of the workload, not the core's lag).
    pub fn achieved_window_s(&self, duration_s: f64) -> f64 {
        let offered_late = (self.last_offer_s() - duration_s).max(0.0);
        duration_s.max(self.last_ack_s() - offered_late)
    }

    fn with_second(&self, s: usize, f: impl FnOnce(&mut Second)) {
        let mut v = self.seconds.lock().expect("seconds lock");
        while v.len() <= s {
            v.push(Second {
                offered: 0,
                achieved: 0,
                goodput: 0,
                dropped: 0,
                shed: 0,
                place: histogram(),
            });
        }
        f(&mut v[s]);
    }

    /// An order was due at `intended`.
    pub fn offered(&self, intended: Instant) {
        let since = intended.saturating_duration_since(self.start);
        self.last_offer_us
            .fetch_max(since.as_micros() as u64, Ordering::Relaxed);
        self.with_second(since.as_secs() as usize, |b| b.offered += 1);
        Counters::add(&self.counts.orders_offered, 1);
    }

    /// An order due at `intended` was acknowledged now.
    pub fn placed(&self, intended: Instant) {
        self.placed_at(intended, Instant::now());
    }

    /// An order due at `intended` was acknowledged at `now`: its latency
    /// (from the intended time, whatever tries it took), the second it was
    /// acknowledged in, and whether it counts as goodput.
    pub fn placed_at(&self, intended: Instant, now: Instant) {
        let lat = now.saturating_duration_since(intended);
        self.place.record(lat);
        let good = lat <= self.slo;
        if good {
            Counters::add(&self.counts.orders_good, 1);
        }
        let since = now.saturating_duration_since(self.start);
        self.last_ack_us
            .fetch_max(since.as_micros() as u64, Ordering::Relaxed);
        self.with_second(since.as_secs() as usize, |b| {
            b.achieved += 1;
            b.goodput += u64::from(good);
            let _ = b.place.record((lat.as_micros() as u64).max(1));
        });
    }

    /// The per-second series.
    pub fn series(&self) -> Vec<SecondPoint> {
        let v = self.seconds.lock().expect("seconds lock");
        v.iter()
            .enumerate()
            .map(|(i, b)| {
                let p = percentiles(&b.place);
                SecondPoint {
                    second: i as u64,
                    offered: b.offered,
                    achieved: b.achieved,
                    goodput: b.goodput,
                    dropped: b.dropped,
                    shed: b.shed,
                    place_p50_ms: p.p50,
                    place_p99_ms: p.p99,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_in_ms_and_seconds_bucketed_by_due_time() {
        let m = Metrics::new(Instant::now());
        for i in 1..=1000u64 {
            m.place.record(Duration::from_micros(i * 10));
        }
        let p = m.place.percentiles();
        assert!((p.p50 - 5.0).abs() < 0.05, "{p:?}");
        assert!((p.p99 - 9.9).abs() < 0.05, "{p:?}");
        assert!((p.max - 10.0).abs() < 0.05, "{p:?}");
        assert_eq!(p.count, 1000);
        m.offered(m.start + Duration::from_millis(1500));
        m.placed_at(m.start, m.start + Duration::from_millis(2500));
        let s = m.series();
        assert_eq!(s[1].offered, 1);
        assert_eq!(
            s[2].achieved, 1,
            "counted in the second it was acknowledged"
        );
        assert_eq!(s[2].goodput, 0, "2.5 s is over the 10 ms objective");
        assert_eq!(Latency::default().percentiles(), Percentiles::default());
    }

    #[test]
    fn lateness_and_goodput_against_their_limits() {
        let m = Metrics::with_objective(
            Instant::now(),
            Duration::from_millis(10),
            Duration::from_millis(50),
        );
        m.arrival_lateness(Duration::from_millis(10));
        m.arrival_lateness(Duration::from_millis(110));
        let l = m.lateness();
        assert_eq!(
            (l.max_ms, l.mean_ms, l.late_arrivals, l.arrivals),
            (110.0, 60.0, 1, 2)
        );
        m.placed_at(m.start, m.start + Duration::from_millis(10));
        m.placed_at(m.start, m.start + Duration::from_millis(11));
        assert_eq!(
            Counters::get(&m.counts.orders_good),
            1,
            "10 ms is within, 11 ms is not"
        );
        assert_eq!(m.series()[0].goodput, 1);
        assert!((m.last_ack_s() - 0.011).abs() < 1e-9);
        m.dropped(m.start + Duration::from_millis(1200));
        assert_eq!(m.series()[1].dropped, 1);
    }

    #[test]
    fn the_achieved_window_leaves_out_checkout_delays_not_the_cores_lag() {
        let m = Metrics::new(Instant::now());
        let at = |ms: u64| m.start + Duration::from_millis(ms);
        // A 10 s run: the last arrival offered at 9.9 s, acknowledged late.
        m.offered(at(9_900));
        m.placed_at(at(9_900), at(12_000));
        assert!(
            (m.achieved_window_s(10.0) - 12.0).abs() < 1e-9,
            "the core's lag counts"
        );
        // A cart checks out 1.5 s after the window and is acknowledged at
        // once: its delay is not the core's.
        let m = Metrics::new(Instant::now());
        let at = |ms: u64| m.start + Duration::from_millis(ms);
        m.offered(at(11_400));
        m.placed_at(at(11_400), at(11_410));
        assert!(
            (m.achieved_window_s(10.0) - 10.01).abs() < 1e-6,
            "{}",
            m.achieved_window_s(10.0)
        );
        // And when nothing came after the window: the window.
        let m = Metrics::new(Instant::now());
        m.offered(m.start);
        m.placed_at(m.start, m.start + Duration::from_millis(5));
        assert_eq!(m.achieved_window_s(10.0), 10.0);
    }
}
