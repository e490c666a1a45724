//! Scan events (`POST /v1/scans`): each resolved as the Orchestrator
//! resolves it ([`crate::validate::scan`]), then sent to its order; in
//! array order per order, different orders concurrently. `event_id` is
//! idempotent in the order: a repeat answers `duplicate`.

use std::collections::BTreeMap;

use futures::future::join_all;
use orch_actors::order::{Scan, ScanKind};
use orch_actors::OrderNo;
use orch_engine::msg::ScanAnswer;
use orch_engine::{ActorRef, Answer, Msg};

use super::{durable, overloaded, unexpected, HostedCore};
use crate::dto::{ScanInput, ScanResult};
use crate::error::ApiError;
use crate::validate;

fn result(event_id: &str, result: &str, reason: Option<String>) -> ScanResult {
    ScanResult {
        event_id: event_id.into(),
        result: result.into(),
        reason,
    }
}

impl HostedCore {
    /// Applies scan events; one result per event, in order, each answered
    /// once durable. When the host cannot take an event (a full shard, a
    /// failed journal) every event not answered is `rejected` with the
    /// reason (use [`HostedCore::try_scans`] to get the error instead).
    pub async fn scans(&self, events: &[ScanInput]) -> Vec<ScanResult> {
        self.scans_each(events)
            .await
            .into_iter()
            .zip(events)
            .map(|(r, ev)| r.unwrap_or_else(|e| result(&ev.event_id, "rejected", Some(e.message))))
            .collect()
    }

    /// Applies scan events: the results, or the first error (429 when a
    /// shard is full, 503 when the host stopped). The events answered
    /// before it were applied; a retry answers them `duplicate`.
    pub async fn try_scans(&self, events: &[ScanInput]) -> Result<Vec<ScanResult>, ApiError> {
        self.scans_each(events).await.into_iter().collect()
    }

    async fn scans_each(&self, events: &[ScanInput]) -> Vec<Result<ScanResult, ApiError>> {
        let mut results: Vec<Option<Result<ScanResult, ApiError>>> = vec![None; events.len()];
        let mut groups: BTreeMap<OrderNo, Vec<(usize, Scan)>> = BTreeMap::new();
        let clock = self.host.clock();
        for (i, e) in events.iter().enumerate() {
            let resolved = validate::scan(
                &self.catalog,
                &self.limits,
                e,
                |id| self.orders.get(id),
                || clock.now(),
            );
            match resolved {
                Ok((no, scan)) => groups.entry(no).or_default().push((i, scan)),
                Err(reason) => results[i] = Some(Ok(result(&e.event_id, "rejected", Some(reason)))),
            }
        }
        // One order's events are offered to its shard in array order at
        // once (the shard takes one sender's messages in order), then their
        // answers awaited: one durability wait per batch, not per event.
        let runs = groups.into_iter().map(|(no, scans)| async move {
            let started = std::time::Instant::now();
            let mut offered = Vec::with_capacity(scans.len());
            let mut failed: Option<ApiError> = None;
            for (i, scan) in scans {
                // After a refusal, this order's later events are not sent.
                if failed.is_some() {
                    offered.push((i, scan.kind, scan.fulfillment, scan.at, None));
                    continue;
                }
                let (kind, fulfillment, at) = (scan.kind, scan.fulfillment, scan.at);
                match self
                    .host
                    .offer(ActorRef::Order(no), |reply| Msg::Scan { scan, reply })
                {
                    Ok(p) => offered.push((i, kind, fulfillment, at, Some(p))),
                    Err(_) => {
                        failed = Some(overloaded());
                        offered.push((i, kind, fulfillment, at, None));
                    }
                }
            }
            let mut out = Vec::with_capacity(offered.len());
            let mut delivered = Vec::new();
            for (i, kind, fulfillment, at, pending) in offered {
                let answer = match pending {
                    None => Err(failed.clone().unwrap_or_else(overloaded)),
                    Some(p) => match durable(p).await {
                        Ok(Answer::Scanned(a)) => Ok(a),
                        Ok(other) => Err(unexpected("scan", &other)),
                        Err(e) => Err(e),
                    },
                };
                crate::metrics::scan_applied(kind, started.elapsed());
                if let (Ok(ScanAnswer::Applied), ScanKind::Delivered) = (&answer, kind) {
                    delivered.push((fulfillment, at));
                }
                out.push((i, answer));
            }
            // Promise kept or missed, from the order as the scans left it.
            if !delivered.is_empty() {
                if let Ok(state) = self.order_state(no).await {
                    for (fulfillment, at) in delivered {
                        crate::metrics::delivered(&state, fulfillment, at);
                    }
                }
            }
            out
        });
        for group in join_all(runs).await {
            for (i, answer) in group {
                let id = &events[i].event_id;
                results[i] = Some(answer.map(|a| match a {
                    ScanAnswer::Applied => result(id, "applied", None),
                    ScanAnswer::Duplicate => result(id, "duplicate", None),
                    ScanAnswer::Rejected(why) => result(id, "rejected", Some(why)),
                }));
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every event answered"))
            .collect()
    }
}
