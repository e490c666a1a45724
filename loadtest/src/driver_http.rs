//! HTTP mode (`--target http://HOST:PORT`): drives a running orchestrator
//! through API.md with an async client (hyper, HTTP/1.1 keep-alive, a pool
//! of connections), so requests overlap and no request waits for the
//! previous answer; at most `CONCURRENT_REQUESTS_MAX` requests are on the
//! wire at once (the runner's in-flight limit bounds the rest).
//!
//! Orders go through `POST /v1/orders/batch` (up to 1,000 per request) and
//! scans through `POST /v1/scans` (up to 5,000). Released waves are found by
//! polling `POST /v1/facilities/{id}/waves/release` (the answer carries the
//! pick list and fulfillment ids); fulfillments the server's own wave timer
//! released meanwhile are found with `GET /v1/orders/{id}` (see the
//! simulator's sweep).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use orch_runtime::dto::{
    AdjustmentInput, FacilityView, HoldInput, HoldView, InventoryView, OrderView, PlaceOrder,
    PlacedHold, ReceiptInput, ScanInput, ScanResult, WaveView,
};
use orch_runtime::facade::ItemResult;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::driver::{HeldPlaceAnswer, PlaceError, ReadAnswer, READ_RADIUS_KM, RETRY_AFTER_DEFAULT};

/// Most orders in one batch request (API.md).
pub const ORDERS_PER_BATCH_MAX: usize = 1000;
/// Most events in one scans request (API.md).
pub const EVENTS_PER_BATCH_MAX: usize = 5000;
/// Most requests on the wire at once (one connection each).
pub const CONCURRENT_REQUESTS_MAX: usize = 256;
/// Longest wait for one answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A client of one orchestrator.
#[derive(Clone)]
pub struct HttpDriver {
    client: Client<HttpConnector, Full<Bytes>>,
    gate: Arc<Semaphore>,
    base: String,
    token: Option<String>,
}

/// One answer: status, `Retry-After`, body.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Bytes,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
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
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(CONCURRENT_REQUESTS_MAX)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        HttpDriver {
            client,
            gate: Arc::new(Semaphore::new(CONCURRENT_REQUESTS_MAX)),
            base: base.trim_end_matches('/').to_string(),
            token: std::env::var("ORCHESTRATOR_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
        }
    }

    /// Sends one request and reads the whole answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, String> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let work = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("{method} {path}: transport: {e}"))?;
            let status = res.status();
            let retry_after = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?
                .to_bytes();
            Ok(Answer {
                status,
                retry_after,
                body,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| format!("{method} {path}: no answer in {REQUEST_TIMEOUT:?}"))?
    }

    /// A JSON call: `body` is JSON or nothing; `Ok(None)` on 404.
    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        path: String,
        body: Option<Value>,
    ) -> Result<Option<T>, String> {
        let m = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let a = self
            .send(m, &path, body.map(|b| b.to_string().into_bytes()))
            .await?;
        if a.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !a.status.is_success() {
            return Err(format!(
                "{method} {path}: {}: {}",
                a.status.as_u16(),
                a.text()
            ));
        }
        serde_json::from_slice(&a.body)
            .map(Some)
            .map_err(|e| format!("{method} {path}: unexpected answer: {e}"))
    }

    async fn call_found<T: DeserializeOwned>(
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
    /// load) is a refusal with the answer's `Retry-After`. An order naming
    /// its cart's hold carries `"hold_id"`; the answer's `"hold"` comes back
    /// with the order.
    pub async fn place_batch(
        &self,
        orders: &[(PlaceOrder, Option<String>)],
    ) -> Vec<HeldPlaceAnswer> {
        let mut out = Vec::with_capacity(orders.len());
        for chunk in orders.chunks(ORDERS_PER_BATCH_MAX) {
            match self.post_batch(chunk).await {
                Ok(v) => {
                    let results = v["results"].as_array().map_or(&[][..], |r| r.as_slice());
                    for i in 0..chunk.len() {
                        out.push(match results.get(i) {
                            Some(r) if r.get("error").is_some() => Err(item_error(&r["error"])),
                            Some(r) => OrderView::deserialize(r)
                                .map(|v| {
                                    let hold =
                                        r.get("hold").and_then(|h| PlacedHold::deserialize(h).ok());
                                    (v, hold)
                                })
                                .map_err(|e| {
                                    PlaceError::Failed(format!("unexpected order answer: {e}"))
                                }),
                            None => Err(PlaceError::Failed("no answer for this order".into())),
                        });
                    }
                }
                Err(e) => out.extend(chunk.iter().map(|_| Err(e.clone()))),
            }
        }
        out
    }

    async fn post_batch(
        &self,
        chunk: &[(PlaceOrder, Option<String>)],
    ) -> Result<Value, PlaceError> {
        let mut items = Vec::with_capacity(chunk.len());
        for (o, hold) in chunk {
            let mut v = serde_json::to_value(o).map_err(|e| PlaceError::Failed(e.to_string()))?;
            if let (Some(h), Some(m)) = (hold, v.as_object_mut()) {
                m.insert("hold_id".into(), Value::String(h.clone()));
            }
            items.push(v);
        }
        let body = serde_json::to_vec(&json!({ "orders": items }))
            .map_err(|e| PlaceError::Failed(e.to_string()))?;
        let a = self
            .send(Method::POST, "/v1/orders/batch", Some(body))
            .await
            .map_err(PlaceError::Failed)?;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            return Err(PlaceError::Refused {
                retry_after: retry_after(a.retry_after.as_deref()),
                reason: format!("429: {}", a.text()),
            });
        }
        if !a.status.is_success() {
            return Err(PlaceError::Failed(format!(
                "POST /v1/orders/batch: {}: {}",
                a.status.as_u16(),
                a.text()
            )));
        }
        serde_json::from_slice(&a.body).map_err(|e| {
            PlaceError::Failed(format!("POST /v1/orders/batch: unexpected answer: {e}"))
        })
    }

    /// `GET /v1/events?after=&limit=`: one page of the feed (from the
    /// oldest kept without `after`) and the `after` of the next.
    pub async fn events_page(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<crate::feed_audit::FeedEvent>, u64), String> {
        let path = match after {
            Some(a) => format!("/v1/events?after={a}&limit={limit}"),
            None => format!("/v1/events?limit={limit}"),
        };
        let v: Value = self.call_found("GET", path.clone(), None).await?;
        let events = v["events"]
            .as_array()
            .ok_or_else(|| format!("GET {path}: no events array"))?
            .iter()
            .map(crate::feed_audit::FeedEvent::from_json)
            .collect::<Result<Vec<_>, _>>()?;
        let next = v["next"]
            .as_u64()
            .ok_or_else(|| format!("GET {path}: no next"))?;
        Ok((events, next))
    }

    /// `PUT /v1/webhooks/{id}` for every type; the registration's cursor
    /// (it receives the events after it).
    pub async fn put_webhook(&self, id: &str, url: &str, secret: &str) -> Result<u64, String> {
        let path = format!("/v1/webhooks/{id}");
        let v: Value = self
            .call_found(
                "PUT",
                path.clone(),
                Some(json!({"url": url, "secret": secret, "enabled": true})),
            )
            .await?;
        v["cursor"]
            .as_u64()
            .ok_or_else(|| format!("PUT {path}: no cursor in the answer"))
    }

    /// `DELETE /v1/webhooks/{id}` (already gone is fine).
    pub async fn delete_webhook(&self, id: &str) -> Result<(), String> {
        let _: Option<Value> = self
            .call("DELETE", format!("/v1/webhooks/{id}"), None)
            .await?;
        Ok(())
    }

    /// `POST /v1/holds`: a cart's hold. `429` is a refusal with the
    /// answer's `Retry-After`; anything else but `2xx` a failure.
    pub async fn create_hold(&self, h: &HoldInput) -> Result<HoldView, PlaceError> {
        let body = serde_json::to_vec(h).map_err(|e| PlaceError::Failed(e.to_string()))?;
        let a = self
            .send(Method::POST, "/v1/holds", Some(body))
            .await
            .map_err(PlaceError::Failed)?;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            return Err(PlaceError::Refused {
                retry_after: retry_after(a.retry_after.as_deref()),
                reason: format!("429: {}", a.text()),
            });
        }
        if !a.status.is_success() {
            return Err(PlaceError::Failed(format!(
                "POST /v1/holds: {}: {}",
                a.status.as_u16(),
                a.text()
            )));
        }
        serde_json::from_slice(&a.body)
            .map_err(|e| PlaceError::Failed(format!("POST /v1/holds: unexpected answer: {e}")))
    }

    /// `GET /v1/holds/{id}`; `None` on 404.
    pub async fn hold(&self, hold_id: &str) -> Result<Option<HoldView>, String> {
        self.call("GET", format!("/v1/holds/{hold_id}"), None).await
    }

    /// Whether the server serves holds (`501 not_supported` on the shells).
    pub async fn holds_supported(&self) -> bool {
        match self.send(Method::GET, "/v1/holds/lt-probe", None).await {
            Ok(a) => a.status != StatusCode::NOT_IMPLEMENTED,
            Err(_) => false,
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

    /// `GET /v1/availability` for each read, all at once.
    pub async fn availability(&self, reads: Vec<(String, f64, f64)>) -> Vec<ReadAnswer> {
        join_all(reads.iter().map(|(sku, lat, lon)| async move {
            let path = format!(
                "/v1/availability?sku={sku}&lat={lat:.4}&lon={lon:.4}&radius_km={READ_RADIUS_KM}"
            );
            self.call::<Value>("GET", path.clone(), None)
                .await
                .and_then(|v| v.ok_or_else(|| format!("GET {path}: 404")))
                .map(|_| Instant::now())
        }))
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart_from_failures() {
        assert_eq!(retry_after(Some("3")), Duration::from_secs(3));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            RETRY_AFTER_DEFAULT
        );
        assert_eq!(retry_after(None), RETRY_AFTER_DEFAULT);
        assert_eq!(
            retry_after(Some("86400")),
            Duration::from_secs(60),
            "capped"
        );
        let busy = item_error(&json!({"code": "too_many_requests", "message": "x"}));
        assert!(
            matches!(busy, PlaceError::Refused { retry_after, .. } if retry_after == RETRY_AFTER_DEFAULT)
        );
        let bad = item_error(&json!({"code": "invalid_field", "message": "x"}));
        assert!(matches!(bad, PlaceError::Failed(_)));
    }
}
