//! The system under test, behind one type: the embedded core (in-process
//! mode, the default) or a running orchestrator over HTTP (`--target`).
//! The runner and the simulator only call these methods, so both modes
//! offer the same load and check the same things.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use orch_runtime::dto::{
    HoldInput, HoldView, InventoryView, OrderView, PlaceOrder, PlacedHold, ReceiptInput, ScanInput,
    ScanResult, WaveView,
};
use orch_runtime::facade::ItemResult;

use crate::driver_http::HttpDriver;
use crate::driver_inprocess::InProcessDriver;
use crate::feed_audit::FeedEvent;

/// Events per page when the audit reads the feed (the API's most).
pub const FEED_PAGE: usize = 1000;

/// The answer to one order of a batch: the order, or why not.
pub type PlaceAnswer = Result<OrderView, PlaceError>;

/// The answer to one order of a batch that may name a hold: the order and
/// the hold's status after it (`None` when it named none), or why not.
pub type HeldPlaceAnswer = Result<(OrderView, Option<PlacedHold>), PlaceError>;

/// Why an order was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError {
    /// The core refused it to shed load (`429`, `Busy` in-process): try
    /// again after `retry_after`. Nothing changed.
    Refused {
        /// The core's `Retry-After` (1 s when it names none).
        retry_after: Duration,
        /// What it said.
        reason: String,
    },
    /// Any other failure (invalid, conflict, transport, unavailable).
    Failed(String),
}

impl std::fmt::Display for PlaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceError::Refused {
                retry_after,
                reason,
            } => write!(f, "refused (retry after {retry_after:?}): {reason}"),
            PlaceError::Failed(e) => f.write_str(e),
        }
    }
}

/// `Retry-After` when the core names none.
pub const RETRY_AFTER_DEFAULT: Duration = Duration::from_secs(1);

/// A system under test behind a trait object: what a test puts in place of
/// a core (a slow one, say) to check the runner's own accounting. Every
/// method but `place_batch` has a default that fails or answers at once.
pub trait SystemUnderTest: Send + Sync {
    /// Places a batch; one answer per order, in order.
    fn place_batch(&self, orders: Vec<PlaceOrder>) -> BoxFuture<'static, Vec<PlaceAnswer>>;

    /// Applies scan events (default: none applied, an error).
    fn scans(
        &self,
        _events: Vec<ScanInput>,
    ) -> BoxFuture<'static, Result<Vec<ScanResult>, String>> {
        Box::pin(async { Err("scans: not supported".to_string()) })
    }

    /// Cancels an order (default: an error).
    fn cancel(&self, order_id: String) -> BoxFuture<'static, Result<OrderView, String>> {
        Box::pin(async move { Err(format!("cancel {order_id}: not supported")) })
    }

    /// Receives stock (default: an error).
    fn receive(
        &self,
        _receipts: Vec<ReceiptInput>,
    ) -> BoxFuture<'static, Result<Vec<ItemResult>, String>> {
        Box::pin(async { Err("receive: not supported".to_string()) })
    }

    /// Availability reads (default: each answered at once).
    fn availability(&self, reads: Vec<(String, f64, f64)>) -> BoxFuture<'static, Vec<ReadAnswer>> {
        Box::pin(async move { reads.iter().map(|_| Ok(Instant::now())).collect() })
    }

    /// An order (default: not known).
    fn order(&self, _order_id: String) -> BoxFuture<'static, Result<Option<OrderView>, String>> {
        Box::pin(async { Ok(None) })
    }

    /// Inventory of a SKU (default: an error).
    fn inventory(&self, sku: String) -> BoxFuture<'static, Result<InventoryView, String>> {
        Box::pin(async move { Err(format!("inventory {sku}: not supported")) })
    }
}

/// The answer to one availability read: when it came, or why it failed.
pub type ReadAnswer = Result<Instant, String>;

/// Radius of the "near a point" part of an availability read.
pub const READ_RADIUS_KM: f64 = 100.0;

/// One released fulfillment as the warehouse floor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedFulfillment {
    /// The order's client id.
    pub order_id: String,
    /// `order_id/n`.
    pub fulfillment_id: String,
    /// Its facility.
    pub facility_id: String,
    /// (SKU, units) in pick-path order.
    pub lines: Vec<(String, u32)>,
}

/// Groups a wave's pick list by fulfillment (pick-path order kept).
pub fn released_fulfillments(facility_id: &str, wave: &WaveView) -> Vec<ReleasedFulfillment> {
    let mut out: Vec<ReleasedFulfillment> = wave
        .fulfillment_ids
        .iter()
        .map(|fid| ReleasedFulfillment {
            order_id: fid
                .rsplit_once('/')
                .map_or(fid.as_str(), |(o, _)| o)
                .to_string(),
            fulfillment_id: fid.clone(),
            facility_id: facility_id.to_string(),
            lines: Vec::new(),
        })
        .collect();
    for t in &wave.pick_list {
        if let Some(f) = out
            .iter_mut()
            .find(|f| f.fulfillment_id == t.fulfillment_id)
        {
            match f.lines.iter_mut().find(|(s, _)| *s == t.sku) {
                Some((_, q)) => *q += t.qty,
                None => f.lines.push((t.sku.clone(), t.qty)),
            }
        }
    }
    out.retain(|f| !f.lines.is_empty());
    out
}

/// The system under test.
#[derive(Clone)]
pub enum Driver {
    /// The embedded core.
    InProcess(InProcessDriver),
    /// A running orchestrator over HTTP.
    Http(HttpDriver),
    /// Anything else behind [`SystemUnderTest`] (tests).
    Custom(Arc<dyn SystemUnderTest>),
}

impl Driver {
    /// `in_process` or `http`, for reports.
    pub fn mode(&self) -> &'static str {
        match self {
            Driver::InProcess(_) => "in_process",
            Driver::Http(_) => "http",
            Driver::Custom(_) => "custom",
        }
    }

    /// Places a batch; one answer per order, in order.
    pub async fn place_batch(&self, orders: &[PlaceOrder]) -> Vec<PlaceAnswer> {
        let plain: Vec<(PlaceOrder, Option<String>)> =
            orders.iter().map(|o| (o.clone(), None)).collect();
        self.place_batch_holding(&plain)
            .await
            .into_iter()
            .map(|a| a.map(|(v, _)| v))
            .collect()
    }

    /// Places a batch whose orders may name their cart's hold; one answer
    /// per order, in order (a test's fake core hears no hold ids).
    pub async fn place_batch_holding(
        &self,
        orders: &[(PlaceOrder, Option<String>)],
    ) -> Vec<HeldPlaceAnswer> {
        match self {
            Driver::InProcess(d) => d.place_batch(orders).await,
            Driver::Http(d) => d.place_batch(orders).await,
            Driver::Custom(d) => d
                .place_batch(orders.iter().map(|(o, _)| o.clone()).collect())
                .await
                .into_iter()
                .map(|a| a.map(|v| (v, None)))
                .collect(),
        }
    }

    /// Creates a cart's hold (`POST /v1/holds`).
    pub async fn create_hold(&self, h: &HoldInput) -> Result<HoldView, PlaceError> {
        match self {
            Driver::InProcess(d) => d.create_hold(h).await,
            Driver::Http(d) => d.create_hold(h).await,
            Driver::Custom(_) => Err(PlaceError::Failed("holds: not supported".into())),
        }
    }

    /// A hold; `Ok(None)` when the core does not know it.
    pub async fn hold(&self, hold_id: String) -> Result<Option<HoldView>, String> {
        match self {
            Driver::InProcess(d) => d.hold(&hold_id).await,
            Driver::Http(d) => d.hold(&hold_id).await,
            Driver::Custom(_) => Err(format!("hold {hold_id}: not supported")),
        }
    }

    /// Whether the system under test serves holds (the actix shells answer
    /// `501 not_supported`; a test's fake core serves none).
    pub async fn holds_supported(&self) -> bool {
        match self {
            Driver::InProcess(d) => d.holds_supported().await,
            Driver::Http(d) => d.holds_supported().await,
            Driver::Custom(_) => false,
        }
    }

    /// Applies scan events in array order.
    pub async fn scans(&self, events: Vec<ScanInput>) -> Result<Vec<ScanResult>, String> {
        match self {
            Driver::InProcess(d) => Ok(d.core.scans(&events).await),
            Driver::Http(d) => d.scans(events).await,
            Driver::Custom(d) => d.scans(events).await,
        }
    }

    /// Cancels an order.
    pub async fn cancel(&self, order_id: String) -> Result<OrderView, String> {
        match self {
            Driver::InProcess(d) => d.core.cancel(&order_id).await.map_err(|e| e.to_string()),
            Driver::Http(d) => d.cancel(order_id).await,
            Driver::Custom(d) => d.cancel(order_id).await,
        }
    }

    /// Receives stock.
    pub async fn receive(&self, receipts: Vec<ReceiptInput>) -> Result<Vec<ItemResult>, String> {
        match self {
            Driver::InProcess(d) => d.core.receive(&receipts).await.map_err(|e| e.to_string()),
            Driver::Http(d) => d.receive(receipts).await,
            Driver::Custom(d) => d.receive(receipts).await,
        }
    }

    /// Availability reads of (sku, lat, lon), 100 km around the point: for
    /// each, when it was answered, or why it failed.
    pub async fn availability(&self, reads: Vec<(String, f64, f64)>) -> Vec<ReadAnswer> {
        match self {
            Driver::InProcess(d) => reads
                .iter()
                .map(|(s, lat, lon)| {
                    d.core
                        .availability(s, *lat, *lon, READ_RADIUS_KM)
                        .map(|_| Instant::now())
                        .map_err(|e| e.to_string())
                })
                .collect(),
            Driver::Http(d) => d.availability(reads).await,
            Driver::Custom(d) => d.availability(reads).await,
        }
    }

    /// One page (up to [`FEED_PAGE`] events) of the events feed after
    /// `after` (from the oldest kept when `None`), and the `after` of the
    /// next; `Ok(None)` when the system under test serves no feed (a
    /// test's fake core).
    pub async fn events_page(
        &self,
        after: Option<u64>,
    ) -> Result<Option<(Vec<FeedEvent>, u64)>, String> {
        match self {
            Driver::InProcess(d) => d
                .core
                .events()
                .page(after, FEED_PAGE, orch_events::TypeSet::ALL)
                .map(|p| Some((p.events.iter().map(|e| FeedEvent::of(e)).collect(), p.next)))
                .map_err(|e| format!("events after {after:?}: {e:?}")),
            Driver::Http(d) => d.events_page(after, FEED_PAGE).await.map(Some),
            Driver::Custom(_) => Ok(None),
        }
    }

    /// Registers webhook `id` at `url` with `secret` for every type; the
    /// registration's cursor (it receives the events after it), or
    /// `Ok(None)` when the system under test serves no webhooks.
    pub async fn register_webhook(
        &self,
        id: &str,
        url: &str,
        secret: &str,
    ) -> Result<Option<u64>, String> {
        match self {
            Driver::InProcess(d) => d
                .core
                .webhooks()
                .put(
                    id,
                    orch_runtime::webhooks::WebhookInput {
                        url: url.to_string(),
                        secret: secret.to_string(),
                        types: None,
                        enabled: Some(true),
                    },
                )
                .map(|(v, _)| Some(v.cursor))
                .map_err(|e| format!("webhook {id}: {e}")),
            Driver::Http(d) => d.put_webhook(id, url, secret).await.map(Some),
            Driver::Custom(_) => Ok(None),
        }
    }

    /// Removes webhook `id` (gone already is fine).
    pub async fn delete_webhook(&self, id: &str) -> Result<(), String> {
        match self {
            Driver::InProcess(d) => match d.core.webhooks().delete(id) {
                Ok(()) => Ok(()),
                Err(e) if e.kind == orch_runtime::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("webhook {id}: {e}")),
            },
            Driver::Http(d) => d.delete_webhook(id).await,
            Driver::Custom(_) => Ok(()),
        }
    }

    /// An order; `Ok(None)` when the core does not know it.
    pub async fn order(&self, order_id: String) -> Result<Option<OrderView>, String> {
        match self {
            Driver::InProcess(d) => match d.core.order(&order_id).await {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind == orch_runtime::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            Driver::Http(d) => d.order(order_id).await,
            Driver::Custom(d) => d.order(order_id).await,
        }
    }

    /// Inventory of a SKU by facility.
    pub async fn inventory(&self, sku: String) -> Result<InventoryView, String> {
        match self {
            Driver::InProcess(d) => d.core.inventory(&sku).await.map_err(|e| e.to_string()),
            Driver::Http(d) => d.inventory(sku).await,
            Driver::Custom(d) => d.inventory(sku).await,
        }
    }
}
