//! The run's webhook receiver: a small HTTP server on 127.0.0.1 (a free
//! port, its own thread and actix System) that the run registers for every
//! event type before the load starts. Every delivery's Standard Webhooks
//! signature is checked with the registered secret
//! (`orch_events::sign::verify`); a bad one is counted and answered `401`.
//! For each event id it records the first arrival's time and the repeats,
//! and for each order the `order_seq` of its events in the order they
//! first arrived. [`Arrivals`] is the record, a plain structure that the
//! HTTP handler only feeds, so it is tested without a socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde::Deserialize;

/// The envelope fields the receiver keeps.
#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    seq: u64,
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    order_seq: Option<u32>,
}

/// One event as the receiver saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Its feed position.
    pub seq: u64,
    /// When it first arrived with a valid signature.
    pub first_at: Instant,
    /// Valid deliveries after the first.
    pub repeats: u32,
}

/// What the receiver recorded.
#[derive(Debug, Default, Clone)]
pub struct Arrivals {
    /// By event id.
    pub by_id: HashMap<String, Arrival>,
    /// Per order, the `order_seq` of each event at its first arrival, in
    /// arrival order.
    pub per_order: HashMap<String, Vec<u32>>,
    /// Deliveries with a valid signature (repeats included).
    pub deliveries: u64,
    /// Deliveries whose signature did not verify (or was missing, or whose
    /// `webhook-id` is not the body's id).
    pub bad_signatures: u64,
    /// The first few bad deliveries, for the report.
    pub bad_examples: Vec<String>,
    /// Valid deliveries whose body was no event envelope.
    pub unreadable: u64,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `401`: the signature headers are missing or do not verify.
    BadSignature(String),
    /// `400`: signed, but not an event envelope.
    Unreadable(String),
}

impl Arrivals {
    /// Records one delivery: its three headers (as sent, `None` when
    /// absent), its body and when it arrived. A valid delivery is counted
    /// (a first arrival or a repeat); a bad signature is counted and
    /// refused.
    pub fn record(
        &mut self,
        secret: &str,
        id: Option<&str>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> Result<(), Refusal> {
        let verified = match (id, timestamp.and_then(|t| t.parse::<u64>().ok()), signature) {
            (Some(id), Some(ts), Some(sig)) => orch_events::sign::verify(secret, id, ts, body, sig),
            _ => false,
        };
        if !verified {
            return Err(self.bad(format!(
                "webhook-id {id:?}: signature headers missing or not verified"
            )));
        }
        let e: Envelope = match serde_json::from_slice(body) {
            Ok(e) => e,
            Err(err) => {
                self.unreadable += 1;
                return Err(Refusal::Unreadable(format!("not an event envelope: {err}")));
            }
        };
        if Some(e.id.as_str()) != id {
            return Err(self.bad(format!("webhook-id {id:?} is not the body's id {}", e.id)));
        }
        self.deliveries += 1;
        match self.by_id.get_mut(&e.id) {
            Some(a) => a.repeats += 1,
            None => {
                self.by_id.insert(
                    e.id,
                    Arrival {
                        seq: e.seq,
                        first_at: now,
                        repeats: 0,
                    },
                );
                if let (Some(o), Some(n)) = (e.order_id, e.order_seq) {
                    self.per_order.entry(o).or_default().push(n);
                }
            }
        }
        Ok(())
    }

    fn bad(&mut self, why: String) -> Refusal {
        self.bad_signatures += 1;
        if self.bad_examples.len() < 10 {
            self.bad_examples.push(why.clone());
        }
        Refusal::BadSignature(why)
    }

    /// Valid deliveries after each event's first.
    pub fn repeats(&self) -> u64 {
        self.by_id.values().map(|a| u64::from(a.repeats)).sum()
    }
}

struct State {
    secret: String,
    arrivals: Arc<Mutex<Arrivals>>,
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn hook(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let now = Instant::now();
    let answer = state
        .arrivals
        .lock()
        .map_err(|_| Refusal::Unreadable("receiver lock poisoned".into()))
        .and_then(|mut a| {
            a.record(
                &state.secret,
                header(&req, "webhook-id"),
                header(&req, "webhook-timestamp"),
                header(&req, "webhook-signature"),
                &body,
                now,
            )
        });
    match answer {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(Refusal::BadSignature(why)) => HttpResponse::Unauthorized().body(why),
        Err(Refusal::Unreadable(why)) => HttpResponse::BadRequest().body(why),
    }
}

/// Path the receiver serves.
pub const HOOK_PATH: &str = "/hook";

/// The running receiver.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The secret deliveries are checked with.
    pub secret: String,
    arrivals: Arc<Mutex<Arrivals>>,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

impl Receiver {
    /// Starts it on 127.0.0.1, a free port, checking signatures with `secret`.
    pub fn start(secret: &str) -> Result<Receiver, String> {
        let arrivals = Arc::new(Mutex::new(Arrivals::default()));
        let state = web::Data::new(State {
            secret: secret.to_string(),
            arrivals: arrivals.clone(),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let sys = actix_web::rt::System::new();
            sys.block_on(async move {
                let bound = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .app_data(web::PayloadConfig::new(4 << 20))
                        .route(HOOK_PATH, web::post().to(hook))
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
                        let _ = tx.send(Err(format!("webhook receiver: cannot bind: {e}")));
                    }
                }
            });
        });
        let (addr, handle) = rx
            .recv()
            .map_err(|e| format!("webhook receiver: did not start: {e}"))??;
        Ok(Receiver {
            addr,
            secret: secret.to_string(),
            arrivals,
            handle,
            thread,
        })
    }

    /// The URL to register.
    pub fn url(&self) -> String {
        format!("http://{}{HOOK_PATH}", self.addr)
    }

    /// Distinct events received so far.
    pub fn received(&self) -> usize {
        self.arrivals.lock().map_or(0, |a| a.by_id.len())
    }

    /// How many of `ids` it received.
    pub fn count_received<'a>(&self, ids: impl Iterator<Item = &'a str>) -> usize {
        self.arrivals
            .lock()
            .map_or(0, |a| ids.filter(|id| a.by_id.contains_key(*id)).count())
    }

    /// A copy of what it recorded.
    pub fn arrivals(&self) -> Arrivals {
        self.arrivals.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Stops it and waits for its thread.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_events::sign::sign;

    fn body(seq: u64, order: &str, order_seq: u32) -> Vec<u8> {
        format!(
            r#"{{"id":"evt-{seq:015}","seq":{seq},"type":"order.placed","created_at":"2026-11-27T09:28:22Z","order_id":"{order}","order_seq":{order_seq},"data":{{}}}}"#
        )
        .into_bytes()
    }

    fn deliver(a: &mut Arrivals, secret: &str, b: &[u8], id: &str) -> Result<(), Refusal> {
        let h = sign(secret, id, 1_795_771_702, b);
        a.record(
            "s3cret",
            Some(&h.id),
            Some(&h.timestamp.to_string()),
            Some(&h.signature),
            b,
            Instant::now(),
        )
    }

    #[test]
    fn signed_deliveries_count_and_repeats_are_told_apart() {
        let mut a = Arrivals::default();
        let b1 = body(1, "o", 1);
        let b2 = body(2, "o", 2);
        deliver(&mut a, "s3cret", &b1, "evt-000000000000001").unwrap();
        deliver(&mut a, "s3cret", &b2, "evt-000000000000002").unwrap();
        deliver(&mut a, "s3cret", &b1, "evt-000000000000001").unwrap();
        assert_eq!(a.deliveries, 3);
        assert_eq!(a.by_id.len(), 2);
        assert_eq!(a.repeats(), 1);
        assert_eq!(a.per_order["o"], vec![1, 2], "first arrivals only");
        assert_eq!(a.bad_signatures, 0);
    }

    #[test]
    fn a_bad_signature_is_counted_and_refused() {
        let mut a = Arrivals::default();
        let b = body(1, "o", 1);
        let wrong = deliver(&mut a, "other", &b, "evt-000000000000001");
        assert!(matches!(wrong, Err(Refusal::BadSignature(_))), "{wrong:?}");
        // Signed for another id than the body's.
        let swapped = deliver(&mut a, "s3cret", &b, "evt-000000000000009");
        assert!(matches!(swapped, Err(Refusal::BadSignature(_))));
        let missing = a.record("s3cret", None, None, None, &b, Instant::now());
        assert!(matches!(missing, Err(Refusal::BadSignature(_))));
        assert_eq!(a.bad_signatures, 3);
        assert!(a.by_id.is_empty() && a.deliveries == 0);
        let junk = b"not json";
        let unreadable = deliver(&mut a, "s3cret", junk, "evt-x");
        assert!(matches!(unreadable, Err(Refusal::Unreadable(_))));
    }

    #[tokio::test]
    async fn the_server_answers_401_to_a_bad_signature_and_204_to_a_good_one() {
        let r = Receiver::start("s3cret").unwrap();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<hyper::body::Bytes>>();
        let b = body(7, "o", 1);
        let post = |secret: &str| {
            let h = sign(secret, "evt-000000000000007", 1_795_771_702, &b);
            hyper::Request::post(r.url())
                .header("webhook-id", h.id)
                .header("webhook-timestamp", h.timestamp.to_string())
                .header("webhook-signature", h.signature)
                .body(http_body_util::Full::new(hyper::body::Bytes::from(
                    b.clone(),
                )))
                .unwrap()
        };
        let bad = client.request(post("wrong")).await.unwrap();
        assert_eq!(bad.status(), 401);
        let good = client.request(post("s3cret")).await.unwrap();
        assert_eq!(good.status(), 204);
        assert_eq!(r.received(), 1);
        let a = r.arrivals();
        assert_eq!((a.bad_signatures, a.deliveries), (1, 1));
        assert_eq!(a.by_id["evt-000000000000007"].seq, 7);
        r.stop().await;
    }
}
