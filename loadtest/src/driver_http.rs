//! HTTP mode (`--target http://HOST:PORT`): drives a running orchestrator
//! through API.md with a blocking client (ureq) on tokio's blocking pool, so
//! requests overlap and no request waits for the previous answer.
//!
//! Orders go through `POST /v1/orders/batch` (up to 1,000 per request) and
//! scans through `POST /v1/scans` (up to 5,000). Released waves are found by
//! polling `POST /v1/facilities/{id}/waves/release` (the answer carries the
//! pick list and fulfillment ids); fulfillments the server's own wave timer
//! released meanwhile are found with `GET /v1/orders/{id}` (see the
//! simulator's sweep).

use std::time::{Duration, Instant};

use orch_runtime::dto::{
    AdjustmentInput, FacilityView, InventoryView, OrderView, PlaceOrder, ReceiptInput, ScanInput,
    ScanResult, WaveView,
};
use orch_runtime::facade::ItemResult;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::driver::{PlaceAnswer, PlaceError, ReadAnswer, READ_RADIUS_KM, RETRY_AFTER_DEFAULT};

/// Most orders in one batch request (API.md).
pub const ORDERS_PER_BATCH_MAX: usize = 1000;
/// Most events in one scans request (API.md).
pub const EVENTS_PER_BATCH_MAX: usize = 5000;

/// A client of one orchestrator.
#[derive(Clone)]
pub struct HttpDriver {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

fn error_text(e: ureq::Error) -> String {
    match e {
        ureq::Error::Status(code, r) => {
            format!("{code}: {}", r.into_string().unwrap_or_default())
        }
        ureq::Error::Transport(t) => format!("transport: {t}"),
    }
}

/// Error codes of a batch item that mean "shedding load, try later".
const REFUSAL_CODES: [&str; 3] = ["too_many_requests", "overloaded", "busy"];

/// A `Retry-After` header in seconds (an HTTP date or nonsense: the default).
pub fn retry_after(header: Option<&str>) -> Duration {
    header
        .and_then(|h| h.trim().parse::<u64>().ok())
        .map_or(RETRY_AFTER_DEFAULT, |s| Duration::from_secs(s.min(60)))
}

/// One batch item's `error` object as a refusal or a failure.
fn item_error(e: &Value) -> PlaceError {
    let code = e["code"].as_str().unwrap_or("");
    if REFUSAL_CODES.contains(&code) {
        PlaceError::Refused {
            retry_after: e["retry_after_s"]
                .as_u64()
                .map_or(RETRY_AFTER_DEFAULT, |s| Duration::from_secs(s.min(60))),
            reason: e.to_string(),
        }
    } else {
        PlaceError::Failed(e.to_string())
    }
}

impl HttpDriver {
    /// A client of `base` (e.g. `http://127.0.0.1:8080`); the bearer token
    /// comes from `ORCHESTRATOR_TOKEN` when set.
    pub fn new(base: &str) -> HttpDriver {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .max_idle_connections_per_host(256)
            .max_idle_connections(256)
            .build();
        HttpDriver {
            agent,
            base: base.trim_end_matches('/').to_string(),
            token: std::env::var("ORCHESTRATOR_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
        }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let r = self.agent.request(method, &format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.set("Authorization", &format!("Bearer {t}")),
            None => r,
        }
    }

    /// A blocking call: `body` is JSON or nothing; `Ok(None)` on 404.
    fn call_blocking<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<T>, String> {
        let req = self.request(method, path);
        let res = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        match res {
            Ok(r) => {
                let text = r.into_string().map_err(|e| e.to_string())?;
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| format!("{method} {path}: unexpected answer: {e}"))
            }
            Err(ureq::Error::Status(404, _)) => Ok(None),
            Err(e) => Err(format!("{method} {path}: {}", error_text(e))),
        }
    }

    async fn call<T: DeserializeOwned + Send + 'static>(
        &self,
        method: &'static str,
        path: String,
        body: Option<Value>,
    ) -> Result<Option<T>, String> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.call_blocking(method, &path, body.as_ref()))
            .await
            .map_err(|e| e.to_string())?
    }

    async fn call_found<T: DeserializeOwned + Send + 'static>(
        &self,
        method: &'static str,
        path: String,
        body: Option<Value>,
    ) -> Result<T, String> {
        self.call(method, path.clone(), body)
            .await?
            .ok_or_else(|| format!("{method} {path}: 404"))
    }

    /// Checks `/readyz`.
    pub async fn ready(&self) -> Result<(), String> {
        let _: Value = self.call_found("GET", "/readyz".into(), None).await?;
        Ok(())
    }

    /// `POST /v1/orders/batch`, in chunks of 1,000. A `429` of the whole
    /// request (or an item whose error code says the server is shedding
    /// load) is a refusal with the answer's `Retry-After`.
    pub async fn place_batch(&self, orders: &[PlaceOrder]) -> Vec<PlaceAnswer> {
        let mut out = Vec::with_capacity(orders.len());
        for chunk in orders.chunks(ORDERS_PER_BATCH_MAX) {
            let body = json!({ "orders": chunk });
            let me = self.clone();
            let answer = tokio::task::spawn_blocking(move || me.post_batch_blocking(&body))
                .await
                .unwrap_or_else(|e| Err(PlaceError::Failed(e.to_string())));
            match answer {
                Ok(v) => {
                    let results = v["results"].as_array().cloned().unwrap_or_default();
                    for i in 0..chunk.len() {
                        out.push(match results.get(i) {
                            Some(r) if r.get("error").is_some() => Err(item_error(&r["error"])),
                            Some(r) => {
                                serde_json::from_value::<OrderView>(r.clone()).map_err(|e| {
                                    PlaceError::Failed(format!("unexpected order answer: {e}"))
                                })
                            }
                            None => Err(PlaceError::Failed("no answer for this order".into())),
                        });
                    }
                }
                Err(e) => out.extend(chunk.iter().map(|_| Err(e.clone()))),
            }
        }
        out
    }

    fn post_batch_blocking(&self, body: &Value) -> Result<Value, PlaceError> {
        let res = self
            .request("POST", "/v1/orders/batch")
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        match res {
            Ok(r) => {
                let text = r
                    .into_string()
                    .map_err(|e| PlaceError::Failed(e.to_string()))?;
                serde_json::from_str(&text).map_err(|e| {
                    PlaceError::Failed(format!("POST /v1/orders/batch: unexpected answer: {e}"))
                })
            }
            Err(ureq::Error::Status(429, r)) => Err(PlaceError::Refused {
                retry_after: retry_after(r.header("Retry-After")),
                reason: format!("429: {}", r.into_string().unwrap_or_default()),
            }),
            Err(e) => Err(PlaceError::Failed(format!(
                "POST /v1/orders/batch: {}",
                error_text(e)
            ))),
        }
    }

    /// `POST /v1/scans`, in chunks of 5,000.
    pub async fn scans(&self, events: Vec<ScanInput>) -> Result<Vec<ScanResult>, String> {
        let mut out = Vec::with_capacity(events.len());
        for chunk in events.chunks(EVENTS_PER_BATCH_MAX) {
            let v: Value = self
                .call_found("POST", "/v1/scans".into(), Some(json!({ "events": chunk })))
                .await?;
            let r: Vec<ScanResult> =
                serde_json::from_value(v["results"].clone()).map_err(|e| e.to_string())?;
            out.extend(r);
        }
        Ok(out)
    }

    /// `POST /v1/orders/{id}/cancel`.
    pub async fn cancel(&self, order_id: String) -> Result<OrderView, String> {
        self.call_found("POST", format!("/v1/orders/{order_id}/cancel"), None)
            .await
    }

    /// `POST /v1/inventory/receipts`.
    pub async fn receive(&self, receipts: Vec<ReceiptInput>) -> Result<Vec<ItemResult>, String> {
        let v: Value = self
            .call_found(
                "POST",
                "/v1/inventory/receipts".into(),
                Some(json!({ "receipts": receipts })),
            )
            .await?;
        serde_json::from_value(v["results"].clone()).map_err(|e| e.to_string())
    }

    /// `POST /v1/inventory/adjustments`.
    pub async fn adjust(&self, items: Vec<AdjustmentInput>) -> Result<Vec<ItemResult>, String> {
        let v: Value = self
            .call_found(
                "POST",
                "/v1/inventory/adjustments".into(),
                Some(json!({ "adjustments": items })),
            )
            .await?;
        serde_json::from_value(v["results"].clone()).map_err(|e| e.to_string())
    }

    /// `GET /v1/availability` for each read, one after the other on one
    /// blocking thread (callers run many of these at once).
    pub async fn availability(&self, reads: Vec<(String, f64, f64)>) -> Vec<ReadAnswer> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            reads
                .iter()
                .map(|(sku, lat, lon)| {
                    let path = format!(
                        "/v1/availability?sku={sku}&lat={lat:.4}&lon={lon:.4}&radius_km={READ_RADIUS_KM}"
                    );
                    me.call_blocking::<Value>("GET", &path, None)
                        .and_then(|v| v.ok_or_else(|| format!("GET {path}: 404")))
                        .map(|_| Instant::now())
                })
                .collect()
        })
        .await
        .unwrap_or_else(|e| vec![Err(e.to_string())])
    }

    /// `GET /v1/orders/{id}`; `None` on 404.
    pub async fn order(&self, order_id: String) -> Result<Option<OrderView>, String> {
        self.call("GET", format!("/v1/orders/{order_id}"), None)
            .await
    }

    /// `GET /v1/inventory/{sku}`.
    pub async fn inventory(&self, sku: String) -> Result<InventoryView, String> {
        self.call_found("GET", format!("/v1/inventory/{sku}"), None)
            .await
    }

    /// `GET /v1/facilities`.
    pub async fn facilities(&self) -> Result<Vec<FacilityView>, String> {
        let v: Value = self
            .call_found("GET", "/v1/facilities".into(), None)
            .await?;
        serde_json::from_value(v["facilities"].clone()).map_err(|e| e.to_string())
    }

    /// The whole catalog, `GET /v1/skus` page by page.
    pub async fn skus(&self) -> Result<Vec<String>, String> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/skus?limit=1000&after={a}"),
                None => "/v1/skus?limit=1000".into(),
            };
            let v: Value = self.call_found("GET", path, None).await?;
            let page: Vec<String> =
                serde_json::from_value(v["skus"].clone()).map_err(|e| e.to_string())?;
            all.extend(page);
            match v["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => return Ok(all),
            }
        }
    }

    /// `POST /v1/facilities/{id}/waves/release`.
    pub async fn release(&self, facility_id: String) -> Result<WaveView, String> {
        self.call_found(
            "POST",
            format!("/v1/facilities/{facility_id}/waves/release"),
            None,
        )
        .await
    }
}
