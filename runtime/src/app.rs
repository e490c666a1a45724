//! The application the HTTP API serves, by `runtime.engine`: the actix
//! shells' [`Orchestrator`] or the shard engine's [`HostedRuntime`]. Both
//! answer the same DTOs and error codes; holds exist only on the host
//! (the shells answer `501 not_supported`, naming the setting).
//!
//! On the host it also counts what the shells' facade counts around its
//! own operations (placements, cancels, scans, receipts, counts, reads).
//!
//! Must never: decide anything itself; every call forwards.

use std::sync::Arc;
use std::time::Instant;

use orch_config::{Config, EngineKind};

use crate::dto::*;
use crate::error::{ApiError, ErrorKind};
use crate::events_out::Events;
use crate::facade::Orchestrator;
use crate::hosted::holds::HoldAnswer;
use crate::hosted::start::HostedRuntime;
use crate::hosted::HostedCore;
use crate::persist::Durability;
use crate::shared::WaveAnnouncement;
use orch_actors::facility::Wave;

/// The core under the API.
#[derive(Clone)]
pub enum Core {
    /// One actix actor per order, cell, facility and desk.
    Shells(Orchestrator),
    /// The shard engine host.
    Host(Arc<HostedRuntime>),
}

/// The waves a core's timers release, by engine.
pub enum WaveFeed {
    /// The shells' broadcast.
    Shells(tokio::sync::broadcast::Receiver<Arc<WaveAnnouncement>>),
    /// The host's broadcast.
    Host(tokio::sync::broadcast::Receiver<Arc<Wave>>),
}

/// One released wave, by engine.
#[derive(Debug, Clone)]
pub enum ReleasedWave {
    /// Announced by a facility actor.
    Shells(Arc<WaveAnnouncement>),
    /// Released by a shard's timer.
    Host(Arc<Wave>),
}

impl WaveFeed {
    /// The next wave; `Lagged(n)` when `n` were missed.
    pub async fn recv(&mut self) -> Result<ReleasedWave, tokio::sync::broadcast::error::RecvError> {
        match self {
            WaveFeed::Shells(rx) => rx.recv().await.map(ReleasedWave::Shells),
            WaveFeed::Host(rx) => rx.recv().await.map(ReleasedWave::Host),
        }
    }
}

impl From<Orchestrator> for Core {
    fn from(o: Orchestrator) -> Core {
        Core::Shells(o)
    }
}

impl From<HostedRuntime> for Core {
    fn from(h: HostedRuntime) -> Core {
        Core::Host(Arc::new(h))
    }
}

/// 501: the shells have no holds.
fn no_holds() -> ApiError {
    ApiError {
        kind: ErrorKind::NotSupported,
        code: "not_supported",
        message: "holds: served by the shard engine only; set runtime.engine = \"host\"".into(),
    }
}

impl Core {
    /// Starts the engine `cfg.runtime.engine` names, with recovery.
    pub fn try_start(cfg: &Config) -> Result<Core, String> {
        match cfg.runtime.engine {
            EngineKind::Shells => Orchestrator::try_start(cfg).map(Core::from),
            EngineKind::Host => HostedRuntime::try_start(cfg).map(Core::from),
        }
    }

    /// The engine's name.
    pub fn engine(&self) -> EngineKind {
        match self {
            Core::Shells(_) => EngineKind::Shells,
            Core::Host(_) => EngineKind::Host,
        }
    }

    /// The shells, when they run (metrics sampling reads them).
    pub fn shells(&self) -> Option<&Orchestrator> {
        match self {
            Core::Shells(o) => Some(o),
            Core::Host(_) => None,
        }
    }

    /// The hosted application, when the host runs.
    pub fn hosted(&self) -> Option<&HostedCore> {
        match self {
            Core::Shells(_) => None,
            Core::Host(h) => Some(h.core()),
        }
    }

    /// Stops the core.
    pub fn shutdown(&self) {
        match self {
            Core::Shells(o) => o.shutdown(),
            Core::Host(h) => h.shutdown(),
        }
    }

    /// Makes a snapshot now (the checkpoint thread does this periodically).
    pub fn checkpoint_now(&self) -> Result<crate::persist::checkpoint::SnapshotInfo, String> {
        match self {
            Core::Shells(o) => o.checkpoint_now(),
            Core::Host(h) => h.checkpoint_now(),
        }
    }

    /// The journal.
    pub fn durability(&self) -> &Arc<Durability> {
        match self {
            Core::Shells(o) => &o.shared().durability,
            Core::Host(h) => h.durability(),
        }
    }

    /// The event feed.
    pub fn events(&self) -> &Arc<Events> {
        match self {
            Core::Shells(o) => o.events(),
            Core::Host(h) => h.events(),
        }
    }

    /// The webhook registrations and their delivery.
    pub fn webhooks(&self) -> &Arc<crate::webhooks::Webhooks> {
        match self {
            Core::Shells(o) => o.webhooks(),
            Core::Host(h) => h.webhooks(),
        }
    }

    /// `POST /v1/orders`, naming a hold or not.
    pub async fn place(&self, o: &PlaceOrder, hold_id: Option<&str>) -> Result<Placed, ApiError> {
        match self {
            Core::Shells(c) => c.place(o).await,
            Core::Host(h) => {
                let started = Instant::now();
                let result = h.core().place_holding(o, hold_id).await;
                crate::metrics::placed(o, &result, started.elapsed());
                result
            }
        }
    }

    /// `POST /v1/orders/batch`: one answer per order, in order.
    pub async fn place_batch(
        &self,
        orders: &[(PlaceOrder, Option<String>)],
    ) -> Vec<Result<Placed, ApiError>> {
        match self {
            Core::Shells(c) => {
                let plain: Vec<PlaceOrder> = orders.iter().map(|(o, _)| o.clone()).collect();
                c.place_batch(&plain).await
            }
            Core::Host(h) => {
                let core = h.core();
                let started = Instant::now();
                let results = futures::future::join_all(
                    orders
                        .iter()
                        .map(|(o, hold)| core.place_holding(o, hold.as_deref())),
                )
                .await;
                let elapsed = started.elapsed();
                for ((o, _), r) in orders.iter().zip(&results) {
                    crate::metrics::placed(o, r, elapsed);
                }
                results
            }
        }
    }

    /// `GET /v1/orders/{id}`.
    pub async fn order(&self, order_id: &str) -> Result<OrderView, ApiError> {
        match self {
            Core::Shells(c) => c.order(order_id).await,
            Core::Host(h) => h.core().order(order_id).await,
        }
    }

    /// `POST /v1/orders/{id}/cancel`.
    pub async fn cancel(&self, order_id: &str) -> Result<OrderView, ApiError> {
        match self {
            Core::Shells(c) => c.cancel(order_id).await,
            Core::Host(h) => {
                let started = Instant::now();
                let result = h.core().cancel(order_id).await;
                crate::metrics::cancelled(&result, started.elapsed());
                result
            }
        }
    }

    /// Scan events; one result per event, in order (an event the core
    /// cannot take is `rejected` with the reason).
    pub async fn scans(&self, events: &[ScanInput]) -> Vec<ScanResult> {
        match self {
            Core::Shells(c) => c.scans(events).await,
            Core::Host(h) => {
                let results = h.core().scans(events).await;
                crate::metrics::scans(events, Some(&results));
                results
            }
        }
    }

    /// `POST /v1/scans`.
    pub async fn try_scans(&self, events: &[ScanInput]) -> Result<Vec<ScanResult>, ApiError> {
        match self {
            Core::Shells(c) => c.try_scans(events).await,
            Core::Host(h) => {
                let result = h.core().try_scans(events).await;
                crate::metrics::scans(events, result.as_deref().ok());
                result
            }
        }
    }

    /// `POST /v1/inventory/receipts`.
    pub async fn receive(&self, receipts: &[ReceiptInput]) -> Result<Vec<ItemResult>, ApiError> {
        match self {
            Core::Shells(c) => c.receive(receipts).await,
            Core::Host(h) => {
                let started = Instant::now();
                let result = h.core().receive(receipts).await;
                crate::metrics::received(&result, started.elapsed());
                result
            }
        }
    }

    /// `POST /v1/inventory/adjustments`.
    pub async fn adjust(&self, items: &[AdjustmentInput]) -> Result<Vec<ItemResult>, ApiError> {
        match self {
            Core::Shells(c) => c.adjust(items).await,
            Core::Host(h) => {
                let started = Instant::now();
                let result = h.core().adjust(items).await;
                crate::metrics::adjusted(&result, started.elapsed());
                result
            }
        }
    }

    /// `GET /v1/inventory/{sku}`.
    pub async fn inventory(&self, sku_id: &str) -> Result<InventoryView, ApiError> {
        match self {
            Core::Shells(c) => c.inventory(sku_id),
            Core::Host(h) => h.core().inventory(sku_id).await,
        }
    }

    /// `GET /v1/skus`.
    pub fn skus(&self, limit: usize, after: Option<&str>) -> (Vec<String>, Option<String>) {
        match self {
            Core::Shells(c) => c.skus(limit, after),
            Core::Host(h) => h.core().skus(limit, after),
        }
    }

    /// `GET /v1/availability`.
    pub fn availability(
        &self,
        sku_id: &str,
        lat: f64,
        lon: f64,
        radius_km: f64,
    ) -> Result<AvailabilityAnswer, ApiError> {
        match self {
            Core::Shells(c) => c.availability(sku_id, lat, lon, radius_km),
            Core::Host(h) => crate::metrics::timed("availability", || {
                h.core().availability(sku_id, lat, lon, radius_km)
            }),
        }
    }

    /// `GET /v1/promise`.
    pub fn promise(
        &self,
        sku_id: &str,
        qty: u32,
        lat: f64,
        lon: f64,
    ) -> Result<PromiseAnswer, ApiError> {
        match self {
            Core::Shells(c) => c.promise(sku_id, qty, lat, lon),
            Core::Host(h) => {
                crate::metrics::timed("promise", || h.core().promise(sku_id, qty, lat, lon))
            }
        }
    }

    /// `GET /v1/facilities`.
    pub async fn facilities(&self) -> Result<Vec<FacilityView>, ApiError> {
        match self {
            Core::Shells(c) => Ok(c.facilities()),
            Core::Host(h) => h.core().facilities().await,
        }
    }

    /// `GET /v1/facilities/{id}`.
    pub async fn facility(&self, id: &str) -> Result<FacilityView, ApiError> {
        match self {
            Core::Shells(c) => c.facility(id),
            Core::Host(h) => h.core().facility(id).await,
        }
    }

    /// `POST /v1/facilities/{id}/waves/release`.
    pub async fn release_wave(&self, id: &str) -> Result<WaveView, ApiError> {
        match self {
            Core::Shells(c) => c.release_wave(id).await,
            Core::Host(h) => {
                let started = Instant::now();
                let result = h.core().release_wave(id).await;
                crate::metrics::operation("release_wave", started.elapsed());
                if let Ok(WaveView {
                    wave_id: Some(_),
                    fulfillment_ids,
                    ..
                }) = &result
                {
                    crate::metrics::wave_released(id, "manual", fulfillment_ids.len());
                }
                result
            }
        }
    }

    /// `PUT /v1/facilities/{id}/status`.
    pub async fn set_facility_status(
        &self,
        id: &str,
        input: &FacilityStatusInput,
    ) -> Result<FacilityView, ApiError> {
        match self {
            Core::Shells(c) => c.set_facility_status(id, input).await,
            Core::Host(h) => h.core().set_facility_status(id, input).await,
        }
    }

    /// Waits until nothing moves in the core (tests, the load tester).
    pub async fn quiesce(&self) {
        match self {
            Core::Shells(o) => o.quiesce().await,
            Core::Host(h) => h.core().quiesce().await,
        }
    }

    /// The invariants over the core's own ledgers, once quiet (`None` when
    /// they cannot be read).
    pub async fn audit(&self) -> Option<orch_actors::audit::AuditReport> {
        match self {
            Core::Shells(o) => Some(o.audit().await),
            Core::Host(h) => h.core().audit().await,
        }
    }

    /// Releases what is queued at every facility now; how many waves.
    pub async fn release_all_waves(&self) -> usize {
        match self {
            Core::Shells(o) => o.release_all_waves().await,
            Core::Host(h) => h.core().release_all_waves().await,
        }
    }

    /// Actors in memory now.
    pub async fn resident_actors(&self) -> u64 {
        match self {
            Core::Shells(o) => {
                let s = o.shared();
                (s.orders.len() + s.cells().len() + s.desks().len() + s.facilities().len()) as u64
            }
            Core::Host(h) => h.core().resident_actors().await,
        }
    }

    /// The journal's counters.
    pub fn journal_stats(&self) -> orch_journal::JournalStats {
        self.durability().stats()
    }

    /// The waves released by the core's own timers, as they become durable.
    pub fn subscribe_waves(&self) -> WaveFeed {
        match self {
            Core::Shells(o) => WaveFeed::Shells(o.subscribe_waves()),
            Core::Host(h) => WaveFeed::Host(h.subscribe_waves()),
        }
    }

    /// A wave as the API answers it, with its facility's id. On the shells
    /// an order placed a moment ago may not be named yet (`?/n`): ask again.
    pub async fn wave_view(&self, w: &ReleasedWave) -> Result<(String, WaveView), ApiError> {
        match (self, w) {
            (Core::Shells(o), ReleasedWave::Shells(ann)) => {
                let shared = o.shared();
                let view = crate::present::wave_view(
                    &shared.catalog,
                    ann.facility,
                    Some(&ann.wave),
                    |no| shared.order_name(no),
                );
                let id = shared.catalog.facility_config(ann.facility).id.clone();
                Ok((id, view))
            }
            (Core::Host(h), ReleasedWave::Host(w)) => h.core().timer_wave(w).await,
            _ => Err(ApiError::unavailable("a wave of another engine")),
        }
    }

    /// `POST /v1/holds`.
    pub async fn create_hold(&self, input: &HoldInput) -> Result<HoldAnswer, ApiError> {
        match self {
            Core::Shells(_) => Err(no_holds()),
            Core::Host(h) => h.core().create_hold(input).await,
        }
    }

    /// `GET /v1/holds/{id}`.
    pub async fn hold(&self, hold_id: &str) -> Result<HoldView, ApiError> {
        match self {
            Core::Shells(_) => Err(no_holds()),
            Core::Host(h) => h.core().hold(hold_id).await,
        }
    }

    /// `POST /v1/holds/{id}/extend`.
    pub async fn extend_hold(&self, hold_id: &str, ttl_s: i64) -> Result<HoldView, ApiError> {
        match self {
            Core::Shells(_) => Err(no_holds()),
            Core::Host(h) => h.core().extend_hold(hold_id, ttl_s).await,
        }
    }

    /// `DELETE /v1/holds/{id}`.
    pub async fn release_hold(&self, hold_id: &str) -> Result<HoldView, ApiError> {
        match self {
            Core::Shells(_) => Err(no_holds()),
            Core::Host(h) => h.core().release_hold(hold_id).await,
        }
    }
}
