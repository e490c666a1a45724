//! A run's events side, end to end: before the load, start the webhook
//! [`Receiver`] and register it for every type (`PUT /v1/webhooks/{id}`,
//! or `Core::webhooks()` in-process), remembering the registration's
//! cursor; after the floor has drained, read the feed from that cursor to
//! its end (again until it holds every change the tester recorded, or
//! stops growing), wait a bounded time for the receiver to have every
//! event, audit ([`crate::feed_audit`]), and remove the registration.

use std::time::{Duration, Instant};

use crate::book::Book;
use crate::driver::Driver;
use crate::feed_audit::{covers, feed_audit, FeedAudit, FeedAuditInput, FeedEvent};
use crate::receiver::Receiver;

/// How long the feed may stay still before the audit takes it as whole.
pub const FEED_SETTLE: Duration = Duration::from_secs(2);

/// The events side of a run in progress.
pub struct HooksRun {
    receiver: Option<Receiver>,
    webhook_id: String,
    /// The feed's last seq when the run began (events after it are the run's).
    from: u64,
    prefix: String,
}

impl HooksRun {
    /// Starts the receiver and registers it (`webhooks` false: only the
    /// feed is audited). `Ok(None)` when the system under test serves no
    /// feed. `tag` names the registration and its secret; `prefix` is the
    /// run's order id prefix.
    pub async fn start(
        driver: &Driver,
        webhooks: bool,
        tag: &str,
        prefix: &str,
    ) -> Result<Option<HooksRun>, String> {
        if matches!(driver, Driver::Custom(_)) {
            return Ok(None);
        }
        let webhook_id = format!("loadtest-{tag}");
        let (receiver, from) = if webhooks {
            let r = Receiver::start(&format!("loadtest-secret-{tag}"))?;
            let cursor = match driver
                .register_webhook(&webhook_id, &r.url(), &r.secret)
                .await
            {
                Ok(Some(c)) => c,
                Ok(None) => {
                    r.stop().await;
                    return Ok(None);
                }
                Err(e) => {
                    r.stop().await;
                    return Err(format!("--webhooks: cannot register {}: {e}", webhook_id));
                }
            };
            (Some(r), cursor)
        } else {
            (None, feed_end(driver).await?)
        };
        Ok(Some(HooksRun {
            receiver,
            webhook_id,
            from,
            prefix: prefix.to_string(),
        }))
    }

    /// Reads the feed, waits up to `timeout` for the deliveries, audits,
    /// and removes the registration.
    pub async fn finish(self, driver: &Driver, book: &Book, timeout: Duration) -> FeedAudit {
        let copy = book.events().copy();
        let deadline = Instant::now() + timeout;
        let feed = read_feed(driver, self.from, &copy, deadline).await;
        let mut drain_s = 0.0;
        if let (Ok(feed), Some(r)) = (&feed, &self.receiver) {
            let t0 = Instant::now();
            while Instant::now() < deadline && !received_all(r, feed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            drain_s = t0.elapsed().as_secs_f64();
        }
        if self.receiver.is_some() {
            let _ = driver.delete_webhook(&self.webhook_id).await;
        }
        let arrivals = self.receiver.as_ref().map(Receiver::arrivals);
        let url = self.receiver.as_ref().map(Receiver::url);
        if let Some(r) = self.receiver {
            r.stop().await;
        }
        let feed = match feed {
            Ok(f) => f,
            Err(e) => {
                return FeedAudit {
                    checks: vec![crate::audit::CheckResult::new(
                        "events_exactly_once",
                        "the events feed could not be read",
                        vec![e],
                    )],
                    ..FeedAudit::default()
                }
            }
        };
        let mut a = feed_audit(FeedAuditInput {
            feed: &feed,
            book: &copy,
            prefix: &self.prefix,
            receiver: arrivals.as_ref(),
        });
        if let Some(w) = a.figures.webhooks.as_mut() {
            w.url = url.unwrap_or_default();
            w.drain_s = (drain_s * 1000.0).round() / 1000.0;
        }
        a
    }
}

fn received_all(r: &Receiver, feed: &[FeedEvent]) -> bool {
    r.count_received(feed.iter().map(|e| e.id.as_str())) == feed.len()
}

/// The feed's last seq now (its end), paging to it from the oldest kept.
async fn feed_end(driver: &Driver) -> Result<u64, String> {
    let mut after = None;
    loop {
        match driver.events_page(after).await? {
            Some((events, next)) if !events.is_empty() || after.is_some_and(|a| next > a) => {
                after = Some(next)
            }
            Some((_, next)) => return Ok(after.unwrap_or(next)),
            None => return Ok(0),
        }
    }
}

/// Every event after `from`, read again until it holds every change of
/// `book`, stops growing for [`FEED_SETTLE`], or `deadline` passes.
async fn read_feed(
    driver: &Driver,
    from: u64,
    book: &crate::book_events::EventBookCopy,
    deadline: Instant,
) -> Result<Vec<FeedEvent>, String> {
    let mut feed: Vec<FeedEvent> = Vec::new();
    let mut after = from;
    let mut still_since = Instant::now();
    loop {
        let mut grew = false;
        while let Some((events, next)) = driver.events_page(Some(after)).await? {
            if events.is_empty() && next <= after {
                break;
            }
            grew |= !events.is_empty();
            feed.extend(events);
            after = next;
        }
        if grew {
            still_since = Instant::now();
        }
        let now = Instant::now();
        if covers(&feed, book) || now >= deadline || now.duration_since(still_since) >= FEED_SETTLE
        {
            return Ok(feed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
