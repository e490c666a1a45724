//! Webhooks: the event feed POSTed to registered endpoints, signed
//! (Standard Webhooks), one order's events in order, retried with back-off.
//!
//! - [`Webhooks`] holds the registrations ([`hooks::Hooks`]) and their
//!   store ([`crate::persist::webhooks`]): a `PUT` or `DELETE` is written to
//!   the store (fsynced in mode `fsync`) before it is made and answered, so
//!   an acknowledged registration survives a restart. A new registration
//!   starts at the feed's last `seq`: it receives the events created after
//!   it was acknowledged.
//! - [`deliver`] is the delivery thread: it steps the hooks when the feed
//!   grows, a retry falls due or a registration changes, sends the attempts
//!   with an async client (5 s timeout), takes their results back, and
//!   writes the cursors to the store every [`deliver::SAVE_EVERY`] and when
//!   it stops. A cursor on disk is never ahead of what was delivered, so a
//!   restart repeats deliveries at worst, and never loses one.
//! - The decisions (which event, when, back-off, limits) are
//!   `orch_events::delivery`'s; this module only carries them out.

pub mod deliver;
pub mod hooks;
pub mod target;
pub mod tls;

use std::sync::{Arc, Mutex, MutexGuard};

use orch_config::{DurabilityConfig, Millis};
use orch_events::delivery::DeliveryLimits;
use orch_events::TypeSet;
use serde::Deserialize;
use tokio::sync::Notify;

use crate::error::{quote, ApiError};
use crate::events_out::Events;
use crate::persist::webhooks::WebhookStore;
use hooks::{Hooks, Registration, WebhookView};

/// The webhooks of a running core and their delivery thread (both
/// engines start one over their event feed).
pub struct Service {
    webhooks: Arc<Webhooks>,
    delivery: Mutex<Option<deliver::DeliveryThread>>,
}

impl Service {
    /// Loads the registrations of `cfg`'s store and starts delivering
    /// `events` (`https` endpoints may chain to the roots of `ca_file` too).
    pub fn start(
        cfg: &DurabilityConfig,
        ca_file: Option<&str>,
        events: Arc<Events>,
    ) -> Result<Service, String> {
        let tls = tls::client_config(ca_file)?;
        let webhooks = Arc::new(Webhooks::open(cfg, events, DeliveryLimits::default())?);
        let delivery = deliver::DeliveryThread::start(webhooks.clone(), tls)?;
        Ok(Service {
            webhooks,
            delivery: Mutex::new(Some(delivery)),
        })
    }

    /// The registrations (`/v1/webhooks`).
    pub fn webhooks(&self) -> &Arc<Webhooks> {
        &self.webhooks
    }

    /// Stops delivering and writes the cursors a last time.
    pub fn stop(&self) {
        let thread = self.delivery.lock().ok().and_then(|mut g| g.take());
        if let Some(mut d) = thread {
            d.stop();
        }
    }
}

/// Most registrations at once.
pub const WEBHOOKS_MAX: usize = 100;

/// Longest secret, in characters.
pub const SECRET_LEN_MAX: usize = 256;

/// `PUT /v1/webhooks/{webhook_id}`'s body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `http://host[:port][/path]`.
    pub url: String,
    /// Signing secret (its UTF-8 bytes are the HMAC key).
    pub secret: String,
    /// Type names; absent, null or empty: every type.
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// Absent: true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// The registrations, their store, and the feed they deliver.
pub struct Webhooks {
    hooks: Mutex<Hooks>,
    store: Option<WebhookStore>,
    events: Arc<Events>,
    /// Wakes the delivery thread (a registration changed, or it should stop).
    wake: Notify,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks").finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Loads the registrations of `cfg`'s store (none in mode `none`) over
    /// `events`. A store that cannot be read is an error: nothing starts
    /// rather than forgetting registrations.
    pub fn open(
        cfg: &DurabilityConfig,
        events: Arc<Events>,
        limits: DeliveryLimits,
    ) -> Result<Webhooks, String> {
        let store = WebhookStore::open(cfg)?;
        let mut hooks = Hooks::new(limits);
        if let Some(s) = &store {
            for w in s.load()? {
                let reg = Registration {
                    url: w.url,
                    secret: w.secret,
                    types: w.types,
                    enabled: w.enabled,
                };
                hooks.put(&w.webhook_id, reg, w.cursor);
            }
        }
        Ok(Webhooks {
            hooks: Mutex::new(hooks),
            store,
            events,
            wake: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Hooks> {
        self.hooks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The feed delivered.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// Registers or replaces `id` (`true`: new). Written to the store
    /// before it is made. 422 names the field; 503 when the store cannot
    /// be written (nothing changed).
    pub fn put(&self, id: &str, input: WebhookInput) -> Result<(WebhookView, bool), ApiError> {
        let reg = check(input)?;
        let mut hooks = self.lock();
        let new = !hooks.contains(id);
        if new && hooks.len() >= WEBHOOKS_MAX {
            return Err(ApiError::conflict(
                "too_many_webhooks",
                format!(
                    "webhook_id: {WEBHOOKS_MAX} webhooks are registered already; delete one first"
                ),
            ));
        }
        let cursor = self.events.size().2;
        self.save(&hooks, Some((id, Some((&reg, cursor)))))?;
        hooks.put(id, reg, cursor);
        // The file now holds every cursor as of this lock.
        hooks.saved();
        let view = hooks.views(Some(id)).pop().ok_or_else(|| {
            ApiError::unavailable("webhooks: the registration vanished while it was made")
        })?;
        drop(hooks);
        self.wake.notify_one();
        Ok((view, new))
    }

    /// Removes `id`; 404 when it is not registered.
    pub fn delete(&self, id: &str) -> Result<(), ApiError> {
        let mut hooks = self.lock();
        if !hooks.contains(id) {
            return Err(not_found(id));
        }
        self.save(&hooks, Some((id, None)))?;
        hooks.remove(id);
        hooks.saved();
        drop(hooks);
        crate::metrics::webhook_removed(id);
        self.wake.notify_one();
        Ok(())
    }

    /// Every registration, in id order.
    pub fn list(&self) -> Vec<WebhookView> {
        self.lock().views(None)
    }

    /// Writes what the store should hold with `change` made.
    fn save(
        &self,
        hooks: &Hooks,
        change: Option<(&str, Option<(&Registration, u64)>)>,
    ) -> Result<(), ApiError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        store.save(&hooks.stored(change)).map_err(|e| {
            tracing::error!(error = %e, "webhooks: the store cannot be written");
            ApiError::unavailable(format!(
                "webhooks: the registration cannot be made durable: {e}"
            ))
        })
    }

    /// Writes every cursor that moved (the delivery thread calls this).
    pub fn save_cursors(&self) -> std::io::Result<()> {
        let mut hooks = self.lock();
        let Some(store) = &self.store else {
            hooks.saved();
            return Ok(());
        };
        if !hooks.dirty() {
            return Ok(());
        }
        store.save(&hooks.stored(None))?;
        hooks.saved();
        Ok(())
    }

    /// Runs `f` on the hooks (the delivery thread's steps; tests).
    pub fn with_hooks<R>(&self, f: impl FnOnce(&mut Hooks) -> R) -> R {
        f(&mut self.lock())
    }

    /// Wakes the delivery thread.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Webhooks::notify`].
    pub async fn notified(&self) {
        self.wake.notified().await
    }

    /// The lag gauge's figure for each endpoint: seconds since the oldest
    /// event it has not delivered was created (0 when it is caught up, and
    /// for an endpoint turned off: nobody waits on it).
    pub fn lags(&self, now: Millis) -> Vec<(Arc<str>, f64)> {
        let cursors = self.lock().cursors();
        cursors
            .into_iter()
            .map(|(id, cursor, on)| {
                if !on {
                    return (id, 0.0);
                }
                let oldest = self
                    .events
                    .page(Some(cursor), 1, TypeSet::ALL)
                    .ok()
                    .and_then(|p| p.events.first().cloned());
                let lag = oldest
                    .and_then(|e| crate::clock::parse_rfc3339(&e.created_at))
                    .map_or(0.0, |at| now.saturating_sub(at) as f64 / 1000.0);
                (id, lag)
            })
            .collect()
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "webhook_not_found",
        format!("webhook {} does not exist", quote(id)),
    )
}

/// The body's rules beyond its JSON shape; each error names its field.
fn check(input: WebhookInput) -> Result<Registration, ApiError> {
    target::check_url(&input.url)
        .map_err(|why| ApiError::invalid("invalid_url", format!("url: {why}")))?;
    if input.secret.is_empty() {
        return Err(ApiError::invalid(
            "invalid_secret",
            "secret: must not be empty",
        ));
    }
    if input.secret.chars().count() > SECRET_LEN_MAX {
        return Err(ApiError::invalid(
            "invalid_secret",
            format!("secret: longer than {SECRET_LEN_MAX} characters"),
        ));
    }
    let given = input.types.unwrap_or_default();
    let mut types: Vec<String> = Vec::with_capacity(given.len());
    for (i, t) in given.iter().enumerate() {
        if orch_events::EventType::parse(t).is_none() {
            return Err(ApiError::invalid(
                "invalid_field",
                format!("types[{i}]: unknown event type {}", quote(t)),
            ));
        }
        if !types.contains(t) {
            types.push(t.clone());
        }
    }
    Ok(Registration {
        url: input.url,
        secret: input.secret,
        types,
        enabled: input.enabled.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_config::DurabilityMode;
    use orch_events::feed::{Feed, Retention};
    use orch_events::{Draft, EventType};

    fn webhooks() -> Webhooks {
        let cfg = DurabilityConfig {
            mode: DurabilityMode::None,
            ..DurabilityConfig::default()
        };
        let events = Arc::new(Events::new(Feed::new(Retention::default(), 1)));
        Webhooks::open(&cfg, events, DeliveryLimits::default()).unwrap()
    }

    fn input(url: &str, secret: &str, types: &[&str]) -> WebhookInput {
        WebhookInput {
            url: url.into(),
            secret: secret.into(),
            types: Some(types.iter().map(|t| t.to_string()).collect()),
            enabled: None,
        }
    }

    #[test]
    fn lag_is_the_age_of_the_oldest_undelivered_event_and_zero_when_off() {
        let w = webhooks();
        let at = 1_795_771_702_000;
        w.events().with_feed(|f| {
            f.append(
                Draft {
                    kind: EventType::OrderPlaced,
                    order_id: Some(Arc::from("o-1")),
                    at,
                    data: serde_json::json!({}),
                },
                Some(1),
            )
        });
        w.with_hooks(|h| {
            let reg = check(input("http://127.0.0.1:9/", "s", &[])).unwrap();
            h.put("behind", reg.clone(), 0);
            h.put("caught-up", reg.clone(), 1);
            h.put(
                "off",
                Registration {
                    enabled: false,
                    ..reg
                },
                0,
            );
        });
        let lags: Vec<(String, f64)> = w
            .lags(at + 5_000)
            .into_iter()
            .map(|(id, l)| (id.to_string(), l))
            .collect();
        assert_eq!(
            lags,
            [
                ("behind".into(), 5.0),
                ("caught-up".into(), 0.0),
                ("off".into(), 0.0)
            ]
        );
    }

    #[test]
    fn a_new_registration_starts_at_the_feeds_end_and_bad_fields_are_named() {
        let w = webhooks();
        w.events().with_feed(|f| {
            f.append(
                Draft {
                    kind: EventType::OrderPlaced,
                    order_id: None,
                    at: 0,
                    data: serde_json::json!({}),
                },
                None,
            )
        });
        let (v, new) = w
            .put("h", input("http://h/", "s", &["order.placed"]))
            .unwrap();
        assert!(new);
        assert_eq!(v.cursor, 1, "only events created after it");
        assert!(!w.put("h", input("http://h/", "s", &[])).unwrap().1);
        for (bad, field) in [
            (input("gopher://h/", "s", &[]), "url:"),
            (input("http://h/", "", &[]), "secret:"),
            (
                input("http://h/", &"x".repeat(SECRET_LEN_MAX + 1), &[]),
                "secret:",
            ),
            (
                input("http://h/", "s", &["order.placed", "nope"]),
                "types[1]:",
            ),
        ] {
            let e = w.put("h2", bad).unwrap_err();
            assert!(e.message.starts_with(field), "{}", e.message);
        }
        assert_eq!(w.list().len(), 1);
        assert_eq!(w.delete("nope").unwrap_err().code, "webhook_not_found");
        w.delete("h").unwrap();
        assert!(w.list().is_empty());
    }
}
