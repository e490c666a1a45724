//! Every registered endpoint and its delivery state, as one plain struct
//! the delivery thread steps: read the feed into each endpoint, hand out
//! the attempts due, take their results back. No I/O, no clock, no
//! randomness: `now` and the jitter come in, so a test drives a whole
//! retry schedule without sleeping.

use std::collections::BTreeMap;
use std::sync::Arc;

use orch_config::Millis;
use orch_events::delivery::{DeliveryLimits, Endpoint, EndpointStatus};
use orch_events::feed::FeedError;
use orch_events::{Event, TypeSet};
use serde::Serialize;

use crate::events_out::Events;
use crate::persist::webhooks::StoredWebhook;

/// Most events read from the feed for one endpoint in one step.
pub const READ_PAGE: usize = 1000;

/// A registration as the client gave it (checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Where events are POSTed (`http://...`).
    pub url: String,
    /// The signing secret.
    pub secret: String,
    /// Type names (empty: every type).
    pub types: Vec<String>,
    /// Whether deliveries are on.
    pub enabled: bool,
}

/// One HTTP attempt to make.
#[derive(Debug, Clone)]
pub struct Job {
    /// The endpoint.
    pub webhook_id: Arc<str>,
    /// The registration it was made for (a result for an older one is ignored).
    pub generation: u64,
    /// Where to.
    pub url: Arc<str>,
    /// Signing secret.
    pub secret: Arc<str>,
    /// The event.
    pub event: Arc<Event>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx within the timeout.
    Delivered,
    /// Any other status.
    Status(u16),
    /// No answer within the timeout.
    Timeout,
    /// No connection (refused, unresolvable, reset).
    Connect,
}

impl Outcome {
    /// The metric's `result` label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Status(_) => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect_error",
        }
    }
}

/// A registration as `GET /v1/webhooks` shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookView {
    /// The client's id.
    pub webhook_id: String,
    /// Where events go.
    pub url: String,
    /// Type names delivered (empty: every type).
    pub types: Vec<String>,
    /// Whether the client turned it on.
    pub enabled: bool,
    /// `active`, `paused_pending_limit`, `disabled_after_failures` or `off`.
    pub status: &'static str,
    /// Every event up to this `seq` was delivered or is not for it.
    pub cursor: u64,
    /// When the last attempt started (RFC 3339), if any.
    pub last_attempt_at: Option<String>,
    /// Failed attempts since the last success.
    pub failures_in_row: u32,
}

/// [`WebhookView`] as the OpenAPI document states it.
pub fn view_schema() -> serde_json::Value {
    let statuses: Vec<&str> = [
        EndpointStatus::Active,
        EndpointStatus::Paused,
        EndpointStatus::Disabled,
        EndpointStatus::Off,
    ]
    .iter()
    .map(|s| s.as_str())
    .collect();
    serde_json::json!({"type": "object",
        "required": ["webhook_id", "url", "types", "enabled", "status", "cursor", "last_attempt_at", "failures_in_row"],
        "properties": {
            "webhook_id": {"type": "string"}, "url": {"type": "string"},
            "types": {"type": "array", "items": {"type": "string"}},
            "enabled": {"type": "boolean"}, "status": {"type": "string", "enum": statuses},
            "cursor": {"type": "integer", "minimum": 0},
            "last_attempt_at": {"type": "string", "format": "date-time", "nullable": true},
            "failures_in_row": {"type": "integer", "minimum": 0}}})
}

struct Hook {
    id: Arc<str>,
    reg: Registration,
    url: Arc<str>,
    secret: Arc<str>,
    endpoint: Endpoint,
    generation: u64,
    /// The cursor last written to the store.
    saved: u64,
}

/// What one step did that the metrics and logs should know.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepNews {
    /// Endpoints whose next events the feed no longer held: (id, the
    /// position it had read to, the position it resumes after). Across a
    /// renumbering the difference is no count of events.
    pub resets: Vec<(Arc<str>, u64, u64)>,
}

/// Every endpoint.
pub struct Hooks {
    map: BTreeMap<Arc<str>, Hook>,
    limits: DeliveryLimits,
    generations: u64,
}

impl Hooks {
    /// No endpoints yet.
    pub fn new(limits: DeliveryLimits) -> Hooks {
        Hooks {
            map: BTreeMap::new(),
            limits,
            generations: 0,
        }
    }

    /// How many are registered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether `id` is registered.
    pub fn contains(&self, id: &str) -> bool {
        self.map.contains_key(id)
    }

    /// Installs (or replaces) a registration. A new one starts at `cursor`;
    /// a replaced one keeps its own cursor (its pending events are read
    /// again from the feed: a repeat, never a loss).
    pub fn put(&mut self, id: &str, reg: Registration, cursor: u64) {
        let cursor = self.map.get(id).map_or(cursor, |h| h.endpoint.cursor());
        let saved = self.map.get(id).map_or(cursor, |h| h.saved);
        self.generations += 1;
        let types = TypeSet::parse(reg.types.iter().map(String::as_str)).unwrap_or(TypeSet::ALL);
        let id: Arc<str> = Arc::from(id);
        let hook = Hook {
            id: id.clone(),
            url: Arc::from(reg.url.as_str()),
            secret: Arc::from(reg.secret.as_str()),
            endpoint: Endpoint::new(types, reg.enabled, cursor, self.limits),
            reg,
            generation: self.generations,
            saved,
        };
        self.map.insert(id, hook);
    }

    /// Removes a registration; whether it was there.
    pub fn remove(&mut self, id: &str) -> bool {
        self.map.remove(id).is_some()
    }

    /// What the store should hold now, with `change` applied: `(id,
    /// Some((registration, cursor if new)))` a put, `(id, None)` a removal.
    /// The file is written with it before the change is made and
    /// acknowledged.
    pub fn stored(
        &self,
        change: Option<(&str, Option<(&Registration, u64)>)>,
    ) -> Vec<StoredWebhook> {
        let mut out: BTreeMap<&str, StoredWebhook> = self
            .map
            .values()
            .map(|h| (&*h.id, stored(&h.id, &h.reg, h.endpoint.cursor())))
            .collect();
        if let Some((id, change)) = change {
            match change {
                Some((reg, new_cursor)) => {
                    let cursor = out.get(id).map_or(new_cursor, |s| s.cursor);
                    out.insert(id, stored(id, reg, cursor));
                }
                None => {
                    out.remove(id);
                }
            }
        }
        out.into_values().collect()
    }

    /// Whether some cursor moved since the store was last written.
    pub fn dirty(&self) -> bool {
        self.map.values().any(|h| h.endpoint.cursor() != h.saved)
    }

    /// Records that the store now holds every cursor.
    pub fn saved(&mut self) {
        for h in self.map.values_mut() {
            h.saved = h.endpoint.cursor();
        }
    }

    /// One endpoint's view, or every one's in id order.
    pub fn views(&self, only: Option<&str>) -> Vec<WebhookView> {
        self.map
            .values()
            .filter(|h| only.is_none_or(|id| *h.id == *id))
            .map(|h| WebhookView {
                webhook_id: h.id.to_string(),
                url: h.reg.url.clone(),
                types: h.reg.types.clone(),
                enabled: h.reg.enabled,
                status: h.endpoint.status().as_str(),
                cursor: h.endpoint.cursor(),
                last_attempt_at: h.endpoint.last_attempt_at().map(crate::clock::rfc3339),
                failures_in_row: h.endpoint.failures_in_row(),
            })
            .collect()
    }

    /// Reads the feed into every endpoint that has room, then answers the
    /// attempts due at `now`. An endpoint whose next events the feed no
    /// longer keeps (it fell behind the retention, or a restart from a
    /// snapshot renumbered the feed) resumes at the oldest kept event;
    /// [`StepNews::resets`] names it, never silently.
    pub fn step(&mut self, events: &Events, now: Millis) -> (Vec<Job>, StepNews) {
        let mut news = StepNews::default();
        let mut jobs = Vec::new();
        for h in self.map.values_mut() {
            while let Some((after, room)) = h.endpoint.wants() {
                match events.page(Some(after), room.min(READ_PAGE), TypeSet::ALL) {
                    // Kept but unreadable now (logged): the next step tries again.
                    Err(FeedError::Unreadable) => break,
                    Err(FeedError::Gone { oldest_after }) => {
                        news.resets.push((h.id.clone(), after, oldest_after));
                        self.generations += 1;
                        h.generation = self.generations;
                        let types = TypeSet::parse(h.reg.types.iter().map(String::as_str))
                            .unwrap_or(TypeSet::ALL);
                        h.endpoint = Endpoint::new(types, h.reg.enabled, oldest_after, self.limits);
                    }
                    Ok(page) => {
                        let mut took = 0;
                        for e in &page.events {
                            if !h.endpoint.offer(e, now) {
                                break;
                            }
                            took += 1;
                        }
                        if took == 0 {
                            break;
                        }
                    }
                }
            }
            for a in h.endpoint.due(now) {
                jobs.push(Job {
                    webhook_id: h.id.clone(),
                    generation: h.generation,
                    url: h.url.clone(),
                    secret: h.secret.clone(),
                    event: a.event,
                    attempt: a.attempt,
                });
            }
        }
        (jobs, news)
    }

    /// An attempt's result; `jitter` in `[0, 1)` spreads the retry.
    /// Ignored when the registration was replaced or removed meanwhile.
    pub fn on_result(&mut self, job: &Job, outcome: Outcome, now: Millis, jitter: f64) {
        if let Some(h) = self
            .map
            .get_mut(&job.webhook_id)
            .filter(|h| h.generation == job.generation)
        {
            let before = h.endpoint.status();
            h.endpoint
                .on_result(job.event.seq, outcome == Outcome::Delivered, now, jitter);
            if before != EndpointStatus::Disabled && h.endpoint.status() == EndpointStatus::Disabled
            {
                tracing::warn!(webhook_id = %h.id, url = %h.reg.url, seq = job.event.seq,
                    "webhook disabled: an event failed its last attempt; PUT it again to enable");
            }
        }
    }

    /// When the next attempt falls due, over every endpoint that has room
    /// for one (an endpoint at its in-flight limit waits for a result, which
    /// wakes the delivery thread anyway; counting it would spin).
    pub fn next_wake(&self) -> Option<Millis> {
        self.map
            .values()
            .filter(|h| h.endpoint.backlog().1 < self.limits.in_flight_max)
            .filter_map(|h| h.endpoint.next_wake())
            .min()
    }

    /// Endpoints by status name, for the gauges.
    pub fn by_status(&self) -> [(&'static str, usize); 4] {
        let mut out = [
            (EndpointStatus::Active.as_str(), 0),
            (EndpointStatus::Paused.as_str(), 0),
            (EndpointStatus::Disabled.as_str(), 0),
            (EndpointStatus::Off.as_str(), 0),
        ];
        for h in self.map.values() {
            let name = h.endpoint.status().as_str();
            if let Some(slot) = out.iter_mut().find(|(n, _)| *n == name) {
                slot.1 += 1;
            }
        }
        out
    }

    /// Each endpoint's id, cursor, and whether it is on (not `off`), for
    /// the lag gauge.
    pub fn cursors(&self) -> Vec<(Arc<str>, u64, bool)> {
        self.map
            .values()
            .map(|h| {
                let on = h.endpoint.status() != EndpointStatus::Off;
                (h.id.clone(), h.endpoint.cursor(), on)
            })
            .collect()
    }
}

fn stored(id: &str, reg: &Registration, cursor: u64) -> StoredWebhook {
    StoredWebhook {
        webhook_id: id.to_string(),
        url: reg.url.clone(),
        secret: reg.secret.clone(),
        types: reg.types.clone(),
        enabled: reg.enabled,
        cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_events::delivery::{ATTEMPTS_MAX, RETRY_SCHEDULE_MS};
    use orch_events::feed::{Feed, Retention};
    use orch_events::{Draft, EventType};

    fn reg() -> Registration {
        Registration {
            url: "http://127.0.0.1:9/hook".into(),
            secret: "s3cret".into(),
            types: Vec::new(),
            enabled: true,
        }
    }

    fn append(events: &Events, order: &str, order_seq: u32, at: Millis) -> u64 {
        let e = events.with_feed(|f| {
            f.append(
                Draft {
                    kind: EventType::FulfillmentShipped,
                    order_id: Some(Arc::from(order)),
                    at,
                    data: serde_json::json!({}),
                },
                Some(order_seq),
            )
        });
        events.announce(e.seq);
        e.seq
    }

    fn seqs(jobs: &[Job]) -> Vec<(u64, u32)> {
        jobs.iter().map(|j| (j.event.seq, j.attempt)).collect()
    }

    #[test]
    fn a_failing_receiver_is_retried_on_the_schedule_then_disabled_and_a_put_enables_it() {
        let events = Events::new(Feed::new(Retention::default(), 1));
        let mut hooks = Hooks::new(DeliveryLimits::default());
        hooks.put("h", reg(), 0);
        append(&events, "o-1", 1, 0);
        append(&events, "o-1", 2, 0);
        append(&events, "o-2", 1, 0);
        // The receiver fails every o-1 event and takes the others.
        let receiver = |j: &Job| {
            if j.event.order_id.as_deref() == Some("o-1") {
                Outcome::Status(500)
            } else {
                Outcome::Delivered
            }
        };
        let mut now: Millis = 1_000;
        let (jobs, _) = hooks.step(&events, now);
        assert_eq!(
            seqs(&jobs),
            [(1, 1), (3, 1)],
            "o-1's second event waits for its first"
        );
        for j in &jobs {
            hooks.on_result(j, receiver(j), now, 0.0);
        }
        let mut attempts = vec![now];
        for (i, &delay) in RETRY_SCHEDULE_MS.iter().enumerate() {
            let due = hooks.next_wake().expect("a retry is scheduled");
            // jitter 0 is the earliest point of the +-20% window.
            assert_eq!(due, now + delay * 8 / 10, "retry {}", i + 1);
            assert!(
                hooks.step(&events, due - 1).0.is_empty(),
                "nothing before it is due"
            );
            now = due;
            let (jobs, _) = hooks.step(&events, now);
            assert_eq!(seqs(&jobs), [(1, i as u32 + 2)]);
            hooks.on_result(&jobs[0], receiver(&jobs[0]), now, 0.0);
            attempts.push(now);
        }
        assert_eq!(attempts.len() as u32, ATTEMPTS_MAX);
        let v = &hooks.views(None)[0];
        assert_eq!(v.status, "disabled_after_failures");
        // o-2's delivery after the first failure reset the run.
        assert_eq!(v.failures_in_row, ATTEMPTS_MAX - 1);
        assert_eq!(v.cursor, 0, "seq 1 was never delivered");
        assert_eq!(hooks.by_status()[2], ("disabled_after_failures", 1));
        assert_eq!(hooks.next_wake(), None);
        assert!(hooks.step(&events, now + 86_400_000).0.is_empty());
        // A PUT of the same registration enables it again, from its cursor.
        hooks.put("h", reg(), 99);
        let (jobs, _) = hooks.step(&events, now);
        assert_eq!(
            seqs(&jobs),
            [(1, 1), (3, 1)],
            "o-2's event again: a repeat, never a loss"
        );
        for j in &jobs {
            hooks.on_result(j, Outcome::Delivered, now, 0.5);
        }
        let (jobs, _) = hooks.step(&events, now);
        assert_eq!(seqs(&jobs), [(2, 1)]);
        hooks.on_result(&jobs[0], Outcome::Delivered, now, 0.5);
        assert_eq!(hooks.views(None)[0].cursor, 3);
        assert_eq!(hooks.views(None)[0].status, "active");
    }

    #[test]
    fn results_of_a_replaced_registration_are_ignored() {
        let events = Events::new(Feed::new(Retention::default(), 1));
        let mut hooks = Hooks::new(DeliveryLimits::default());
        hooks.put("h", reg(), 0);
        append(&events, "o-1", 1, 0);
        let (old, _) = hooks.step(&events, 0);
        hooks.put("h", reg(), 0);
        hooks.on_result(&old[0], Outcome::Delivered, 0, 0.0);
        assert_eq!(hooks.views(None)[0].cursor, 0);
        let (jobs, _) = hooks.step(&events, 0);
        assert_eq!(seqs(&jobs), [(1, 1)]);
        hooks.on_result(&jobs[0], Outcome::Delivered, 0, 0.0);
        assert_eq!(hooks.views(None)[0].cursor, 1);
        assert!(hooks.dirty());
        hooks.saved();
        assert!(!hooks.dirty());
    }

    #[test]
    fn pending_past_the_limit_pauses_with_a_status_and_drops_nothing() {
        let events = Events::new(Feed::new(Retention::default(), 1));
        let mut hooks = Hooks::new(DeliveryLimits {
            in_flight_max: 1,
            pending_max: 2,
        });
        hooks.put("h", reg(), 0);
        for i in 0..5 {
            append(&events, &format!("o-{i}"), 1, 0);
        }
        let (jobs, _) = hooks.step(&events, 0);
        assert_eq!(seqs(&jobs), [(1, 1)], "one in flight at most");
        // Event 2 is due, but there is no room: no wake-up until a result.
        assert_eq!(hooks.next_wake(), None);
        assert_eq!(hooks.views(None)[0].status, "paused_pending_limit");
        let mut delivered = Vec::new();
        let mut job = jobs[0].clone();
        for _ in 0..5 {
            hooks.on_result(&job, Outcome::Delivered, 0, 0.0);
            delivered.push(job.event.seq);
            let (jobs, _) = hooks.step(&events, 0);
            match jobs.first() {
                Some(j) => job = j.clone(),
                None => break,
            }
        }
        assert_eq!(delivered, [1, 2, 3, 4, 5]);
        assert_eq!(hooks.views(None)[0].status, "active");
        assert_eq!(hooks.views(None)[0].cursor, 5);
    }

    #[test]
    fn an_endpoint_behind_the_retention_resumes_at_the_oldest_kept_and_says_so() {
        let retention = Retention {
            age_ms_max: 1_000,
            ..Retention::default()
        };
        let events = Events::new(Feed::new(retention, 1));
        let mut hooks = Hooks::new(DeliveryLimits::default());
        hooks.put(
            "h",
            Registration {
                enabled: false,
                ..reg()
            },
            0,
        );
        append(&events, "o-1", 1, 0);
        append(&events, "o-2", 1, 0);
        append(&events, "o-3", 1, 5_000);
        events.with_feed(|f| f.trim(5_000));
        hooks.put("h", reg(), 0);
        let (jobs, news) = hooks.step(&events, 5_000);
        assert_eq!(news.resets, vec![(Arc::from("h"), 0, 2)]);
        assert_eq!(seqs(&jobs), [(3, 1)]);
    }
}
