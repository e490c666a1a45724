//! The HTTP driver alone: a trivial local endpoint (`POST /v1/orders/batch`
//! answering every order `routed` from a canned answer, no core behind it)
//! and a measurement of how many orders per second the driver offers it.
//! The figure says whether an HTTP run measured the server or the tester:
//! the driver must offer well above what the core takes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use orch_config::bf1::{generate, Bf1Params};
use orch_runtime::dto::{OrderView, PlaceOrder};
use serde::Serialize;

use crate::driver_http::HttpDriver;
use crate::workload::Bf1Stream;

/// One canned order answer, serialized once.
fn canned() -> &'static str {
    static C: OnceLock<String> = OnceLock::new();
    C.get_or_init(|| {
        serde_json::to_string(&OrderView {
            order_id: "bench".into(),
            status: "routed".into(),
            reason: None,
            channel: "web".into(),
            service_level: "standard".into(),
            fulfillments: Vec::new(),
            backordered: Vec::new(),
            timeline: Vec::new(),
        })
        .unwrap_or_default()
    })
}

/// How many orders a batch body holds (occurrences of `"order_id"`).
pub fn orders_in(body: &[u8]) -> usize {
    let key = b"\"order_id\"";
    body.windows(key.len()).filter(|w| *w == key).count()
}

async fn batch(body: web::Bytes) -> HttpResponse {
    let n = orders_in(&body);
    let one = canned();
    let mut out = String::with_capacity(16 + n * (one.len() + 1));
    out.push_str("{\"results\":[");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(one);
    }
    out.push_str("]}");
    HttpResponse::Ok()
        .content_type("application/json")
        .body(out)
}

/// The trivial endpoint, on its own thread (one actix worker).
pub struct TrivialServer {
    /// Where it listens.
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

impl TrivialServer {
    /// Starts it on 127.0.0.1, a free port.
    pub fn start() -> Result<TrivialServer, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let sys = actix_web::rt::System::new();
            sys.block_on(async move {
                let bound = HttpServer::new(|| {
                    App::new()
                        .app_data(web::PayloadConfig::new(64 << 20))
                        .route("/v1/orders/batch", web::post().to(batch))
                })
                .workers(1)
                .bind("127.0.0.1:0");
                match bound {
                    Ok(srv) => {
                        let addr = srv.addrs()[0];
                        let server = srv.run();
                        let _ = tx.send(Ok((addr, server.handle())));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("trivial endpoint: cannot bind: {e}")));
                    }
                }
            });
        });
        let (addr, handle) = rx
            .recv()
            .map_err(|e| format!("trivial endpoint: did not start: {e}"))??;
        Ok(TrivialServer {
            addr,
            handle,
            thread,
        })
    }

    /// Stops it and waits for its thread.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
    }
}

/// What the driver alone offered.
#[derive(Debug, Clone, Serialize)]
pub struct DriverFigures {
    /// Orders acknowledged per second.
    pub orders_per_s: f64,
    /// Requests per second.
    pub requests_per_s: f64,
    /// Orders per request.
    pub batch: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Seconds measured.
    pub seconds: f64,
    /// Failed orders.
    pub errors: u64,
}

impl DriverFigures {
    /// One line for a report's notes.
    pub fn note(&self, against: &str) -> String {
        format!(
            "HTTP driver alone against {against}: {:.0} orders/s ({:.0} requests/s of {} orders, \
             {} at once, {:.1} s, {} errors; client and endpoint on this machine's {} cores)",
            self.orders_per_s,
            self.requests_per_s,
            self.batch,
            self.concurrency,
            self.seconds,
            self.errors,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )
    }
}

/// A batch of BF-1 orders (ids need not be unique: the trivial endpoint
/// does not look).
pub fn sample_batch(n: usize) -> Vec<PlaceOrder> {
    let net = generate(&Bf1Params {
        scale: 0.01,
        seed: 1,
    });
    let mut s = Bf1Stream::new(&net, 1);
    (0..n).map(|i| s.next_order(format!("bench-{i}"))).collect()
}

/// Sends `batch` orders per request, `concurrency` requests at once, for
/// `duration`, and counts what was acknowledged.
pub async fn measure(
    driver: &HttpDriver,
    batch: usize,
    concurrency: usize,
    duration: Duration,
) -> DriverFigures {
    let orders: Arc<Vec<(PlaceOrder, Option<String>)>> = Arc::new(
        sample_batch(batch.max(1))
            .into_iter()
            .map(|o| (o, None))
            .collect(),
    );
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + duration;
    let loops = (0..concurrency.max(1)).map(|_| {
        let (d, o, ok, failed, requests) = (
            driver.clone(),
            orders.clone(),
            ok.clone(),
            failed.clone(),
            requests.clone(),
        );
        tokio::spawn(async move {
            while Instant::now() < end {
                let answers = d.place_batch(&o).await;
                requests.fetch_add(1, Ordering::Relaxed);
                let good = answers.iter().filter(|a| a.is_ok()).count() as u64;
                ok.fetch_add(good, Ordering::Relaxed);
                failed.fetch_add(answers.len() as u64 - good, Ordering::Relaxed);
            }
        })
    });
    futures::future::join_all(loops).await;
    let secs = start.elapsed().as_secs_f64();
    DriverFigures {
        orders_per_s: (ok.load(Ordering::Relaxed) as f64 / secs).round(),
        requests_per_s: (requests.load(Ordering::Relaxed) as f64 / secs).round(),
        batch,
        concurrency,
        seconds: (secs * 10.0).round() / 10.0,
        errors: failed.load(Ordering::Relaxed),
    }
}

/// Starts the trivial endpoint, measures the driver against it, stops it.
pub async fn measure_alone(
    batch: usize,
    concurrency: usize,
    duration: Duration,
) -> Result<DriverFigures, String> {
    let server = TrivialServer::start()?;
    let driver = HttpDriver::new(&format!("http://{}", server.addr));
    let f = measure(&driver, batch, concurrency, duration).await;
    server.stop().await;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_orders_of_a_batch_body() {
        let body = serde_json::to_vec(&serde_json::json!({ "orders": sample_batch(7) })).unwrap();
        assert_eq!(orders_in(&body), 7);
        assert_eq!(orders_in(b"{}"), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_driver_gets_every_order_of_the_trivial_endpoint_back() {
        let f = measure_alone(50, 4, Duration::from_millis(300))
            .await
            .unwrap();
        assert_eq!(f.errors, 0, "{f:?}");
        assert!(f.orders_per_s > 0.0, "{f:?}");
        assert!(f.note("x").contains("orders/s"));
    }
}
