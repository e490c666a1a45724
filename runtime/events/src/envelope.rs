//! The event envelope as clients receive it, in the feed, over SSE and in
//! webhook bodies.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use orch_config::Millis;
use serde::Serialize;
use serde_json::Value;

use crate::kind::EventType;

/// One event before it has a place in the feed: what happened, to which
/// order, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// What it reports.
    pub kind: EventType,
    /// The order it concerns (`None` for facility events).
    pub order_id: Option<Arc<str>>,
    /// When the change happened.
    pub at: Millis,
    /// The type's fields.
    pub data: Value,
}

/// An event with its position: `seq` in the feed, `order_seq` in its order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// `evt-` and the zero-padded `seq`: stable across retries and restarts.
    pub id: String,
    /// Position in the feed (strictly increasing, gap-free among kept events).
    pub seq: u64,
    /// What it reports.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The order it concerns, if any.
    pub order_id: Option<Arc<str>>,
    /// Position among its order's events, from 1 (`None` without an order).
    pub order_seq: Option<u32>,
    /// The type's fields.
    pub data: Value,
}

impl Event {
    /// Places `draft` at `seq` (and `order_seq` within its order).
    pub fn new(draft: Draft, seq: u64, order_seq: Option<u32>) -> Event {
        Event {
            id: event_id(seq),
            seq,
            kind: draft.kind,
            created_at: rfc3339(draft.at),
            order_id: draft.order_id,
            order_seq,
            data: draft.data,
        }
    }

    /// The exact JSON bytes sent for this event (feed, SSE `data:`, webhook body).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event always serializes")
    }
}

/// The id of the event at `seq`: `evt-000000000001234`.
pub fn event_id(seq: u64) -> String {
    format!("evt-{seq:015}")
}

/// A time in Unix milliseconds as RFC 3339 with seconds, UTC (`...Z`).
pub fn rfc3339(at: Millis) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(at)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_has_the_contract_fields() {
        let draft = Draft {
            kind: EventType::FulfillmentShipped,
            order_id: Some(Arc::from("o-1001")),
            at: 1_795_771_702_000,
            data: json!({"fulfillment_id": "o-1001/1"}),
        };
        let e = Event::new(draft, 1234, Some(5));
        let v: Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"id": "evt-000000000001234", "seq": 1234, "type": "fulfillment.shipped",
                   "created_at": "2026-11-27T09:28:22Z", "order_id": "o-1001", "order_seq": 5,
                   "data": {"fulfillment_id": "o-1001/1"}})
        );
    }
}
