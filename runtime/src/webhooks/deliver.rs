//! The delivery thread: one actix system on its own thread that steps the
//! [`Hooks`](super::hooks::Hooks), POSTs the attempts with `awc`, and takes
//! their results back. `https` endpoints go through rustls
//! ([`super::tls`]).
//!
//! It wakes when the feed grows (a `watch` of its last `seq`), when a
//! registration changes ([`Webhooks::notify`]), when a result comes back,
//! and at the next retry (at least every [`SAVE_EVERY`], when it also
//! writes the cursors that moved and sets the gauges). Each attempt is
//! bounded by [`TIMEOUT`] (connect and answer), so neither an unreachable
//! host nor a slow receiver holds more than the endpoint's in-flight slots,
//! and no API request ever waits on a delivery.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use awc::error::SendRequestError;
use orch_config::Millis;

use super::hooks::{Job, Outcome};
use super::Webhooks;
use crate::clock::now_ms;

/// Longest an attempt may take, connect included: a 2xx within it is delivered.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How often moved cursors are written and the gauges set.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The `User-Agent` of deliveries.
pub const USER_AGENT: &str = concat!("orchestrator-webhooks/", env!("CARGO_PKG_VERSION"));

/// The running delivery thread.
pub struct DeliveryThread {
    webhooks: Arc<Webhooks>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DeliveryThread {
    /// Starts delivering `webhooks`.
    pub fn start(
        webhooks: Arc<Webhooks>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<DeliveryThread, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (webhooks.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("orchestrator-webhooks".into())
            .spawn(move || {
                let sys = actix_rt::System::new();
                sys.block_on(run(w, s, tls));
            })
            .map_err(|e| format!("cannot start the webhook delivery thread: {e}"))?;
        Ok(DeliveryThread {
            webhooks,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops: attempts in flight are abandoned (their events are attempted
    /// again after a restart), and the cursors are written a last time.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.webhooks.notify();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DeliveryThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn take_result(w: &Webhooks, job: &Job, outcome: Outcome) {
    crate::metrics::webhook_delivery(outcome.label());
    if outcome != Outcome::Delivered {
        tracing::debug!(webhook_id = %job.webhook_id, seq = job.event.seq, attempt = job.attempt,
            ?outcome, "webhook attempt failed");
    }
    let now = now_ms();
    w.with_hooks(|h| h.on_result(job, outcome, now, rand::random::<f64>()));
}

fn save_and_measure(w: &Webhooks) {
    if let Err(e) = w.save_cursors() {
        tracing::error!(error = %e, "webhooks: cursors cannot be written (retried)");
    }
    let by_status = w.with_hooks(|h| h.by_status());
    crate::metrics::webhook_endpoints(&by_status);
    for (id, lag) in w.lags(now_ms()) {
        crate::metrics::webhook_lag(&id, lag);
    }
}

async fn run(w: Arc<Webhooks>, stop: Arc<AtomicBool>, tls: Arc<rustls::ClientConfig>) {
    let client = awc::Client::builder()
        .timeout(TIMEOUT)
        .connector(awc::Connector::new().rustls_0_23(tls).timeout(TIMEOUT))
        .disable_redirects()
        .add_default_header(("user-agent", USER_AGENT))
        .finish();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Job, Outcome)>();
    let mut feed = w.events().subscribe();
    let mut feed_open = true;
    let mut saved_at = Instant::now();
    loop {
        while let Ok((job, outcome)) = rx.try_recv() {
            take_result(&w, &job, outcome);
        }
        let now: Millis = now_ms();
        let (jobs, news, wake) = w.with_hooks(|h| {
            let (jobs, news) = h.step(w.events(), now);
            (jobs, news, h.next_wake())
        });
        for (id, from, to) in news.resets {
            tracing::error!(webhook_id = %id, cursor = from, resumes_after = to,
                "webhook: the feed no longer holds the events after its cursor (behind the \
                 retention, or renumbered by a restart from a snapshot); they are missed and it \
                 resumes at the oldest kept event");
            crate::metrics::webhook_cursor_reset();
        }
        for job in jobs {
            let (client, tx) = (client.clone(), tx.clone());
            actix_rt::spawn(async move {
                let outcome = send(&client, &job).await;
                let _ = tx.send((job, outcome));
            });
        }
        if saved_at.elapsed() >= SAVE_EVERY {
            save_and_measure(&w);
            saved_at = Instant::now();
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        let until_retry = wake.map_or(SAVE_EVERY, |at| {
            Duration::from_millis(at.saturating_sub(now_ms()))
        });
        let nap = until_retry.min(SAVE_EVERY.saturating_sub(saved_at.elapsed()));
        tokio::select! {
            r = rx.recv() => {
                if let Some((job, outcome)) = r {
                    take_result(&w, &job, outcome);
                }
            }
            changed = feed.changed(), if feed_open => {
                if changed.is_err() {
                    feed_open = false;
                }
            }
            _ = w.notified() => {}
            _ = actix_rt::time::sleep(nap) => {}
        }
    }
    save_and_measure(&w);
    tracing::debug!("webhook delivery stopped");
}

/// One signed POST of the event's exact envelope bytes.
async fn send(client: &awc::Client, job: &Job) -> Outcome {
    let body = job.event.to_json();
    let ts = now_ms() / 1000;
    let signed = orch_events::sign::sign(&job.secret, &job.event.id, ts, &body);
    let answer = client
        .post(&*job.url)
        .insert_header(("webhook-id", signed.id))
        .insert_header(("webhook-timestamp", ts.to_string()))
        .insert_header(("webhook-signature", signed.signature))
        .insert_header(("content-type", "application/json"))
        .send_body(body)
        .await;
    match answer {
        Ok(resp) if resp.status().is_success() => Outcome::Delivered,
        Ok(resp) => Outcome::Status(resp.status().as_u16()),
        Err(SendRequestError::Timeout) => Outcome::Timeout,
        Err(_) => Outcome::Connect,
    }
}
