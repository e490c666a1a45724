//! Events from journaled changes: the journal is the outbox.
//!
//! An event is derived from a journal record once that record is
//! acknowledged, never from an in-memory change that might not be durable.
//! Derivation is a pure function of the record and the state of its actor
//! *after* the record was applied, so replaying the journal derives exactly
//! the same events again (which is how a restart rebuilds the feed's tail).
//!
//! What it never does: look at other actors, the clock, or anything not in
//! the record and its actor's state.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use orch_actors::hold::HoldState;
use orch_actors::order::{Disposition, Fulfillment, OrderEvent, OrderState, ScanKind};
use orch_actors::shipping::{date_string, ShipPlan};
use orch_actors::{FacilityIdx, SkuIdx};
use orch_config::Millis;
use serde_json::{json, Value};

use crate::envelope::{rfc3339, Draft};
use crate::kind::EventType;

/// Client ids of the indices the state machines use.
pub trait Names {
    /// The facility's id (`DC-03`).
    fn facility(&self, f: FacilityIdx) -> &str;
    /// The SKU's id (`SKU-000042`).
    fn sku(&self, s: SkuIdx) -> &str;
}

/// The events one order event reports; `order` is the order's state after
/// `event` was applied to it. Most order events give one event; a routing
/// answer gives `order.placed`, one `fulfillment.routed` per fulfillment
/// and `order.backordered` when lines wait; a pick gives
/// `fulfillment.picked` only when it completes the fulfillment.
pub fn order_drafts(order: &OrderState, event: &OrderEvent, names: &impl Names) -> Vec<Draft> {
    let order_id = &order.request().order_id;
    let draft = |kind, at, data| Draft {
        kind,
        order_id: Some(order_id.clone()),
        at,
        data,
    };
    let fulfillment = |n: u16| order.fulfillment(n);
    match event {
        OrderEvent::Placed { .. } => Vec::new(),
        OrderEvent::Routed {
            fulfillments,
            backordered,
            rejected,
            at,
            ..
        } => {
            let routed =
                &order.fulfillments()[..fulfillments.len().min(order.fulfillments().len())];
            let mut data = json!({
                "status": order.status().as_str(),
                "channel": &*order.request().channel,
                "service_level": order.request().service_level.as_str(),
                "fulfillments": routed.iter().map(|f| fulfillment_json(order_id, f, names)).collect::<Vec<_>>(),
                "backordered": backorder_lines(order, backordered, names),
            });
            if let Some(reason) = rejected {
                data["reason"] = Value::from(reason.as_str());
            }
            let mut out = vec![draft(EventType::OrderPlaced, *at, data)];
            out.extend(routed.iter().map(|f| {
                draft(
                    EventType::FulfillmentRouted,
                    *at,
                    fulfillment_json(order_id, f, names),
                )
            }));
            if !backordered.is_empty() {
                out.push(draft(
                    EventType::OrderBackordered,
                    *at,
                    json!({"status": order.status().as_str(),
                           "lines": backorder_lines(order, backordered, names)}),
                ));
            }
            out
        }
        OrderEvent::BackorderFilled { at, .. } => order
            .fulfillments()
            .last()
            .map(|f| {
                draft(
                    EventType::FulfillmentRouted,
                    *at,
                    fulfillment_json(order_id, f, names),
                )
            })
            .into_iter()
            .collect(),
        OrderEvent::WaveReleased {
            fulfillment: n,
            wave_id,
            at,
        } => fulfillment(*n)
            .map(|f| {
                let mut data = fulfillment_ref(order_id, f, names);
                data["wave_id"] = Value::from(&**wave_id);
                draft(EventType::FulfillmentReleased, *at, data)
            })
            .into_iter()
            .collect(),
        OrderEvent::Scanned(scan) | OrderEvent::ShippedRerated { scan, .. } => {
            let Some(f) = fulfillment(scan.fulfillment) else {
                return Vec::new();
            };
            let mut data = fulfillment_ref(order_id, f, names);
            let kind = match scan.kind {
                // A pick is refused beyond what a line holds, so a pick that
                // leaves every line fully picked is the one that completed it.
                ScanKind::Pick if f.lines.iter().all(|l| l.picked == l.qty) => {
                    EventType::FulfillmentPicked
                }
                ScanKind::Pick => return Vec::new(),
                ScanKind::Pack => EventType::FulfillmentPacked,
                ScanKind::Ship => {
                    // The plan it ships on (re-rated when the carrier changed).
                    ship_plan_fields(&mut data, f.ship.as_ref());
                    data["carrier"] = opt_str(&f.carrier);
                    data["tracking"] = opt_str(&f.tracking);
                    EventType::FulfillmentShipped
                }
                ScanKind::InTransit => EventType::FulfillmentInTransit,
                ScanKind::OutForDelivery => EventType::FulfillmentOutForDelivery,
                ScanKind::Delivered => EventType::FulfillmentDelivered,
                ScanKind::DeliveryException => {
                    data["reason"] = opt_str(&scan.reason);
                    EventType::FulfillmentException
                }
                ScanKind::ReturnReceived => {
                    data["sku"] = scan.sku.map_or(Value::Null, |s| names.sku(s).into());
                    data["qty"] = scan.qty.map_or(Value::Null, Value::from);
                    data["disposition"] = match scan.disposition {
                        Some(Disposition::Restock) => "restock".into(),
                        Some(Disposition::Dispose) => "dispose".into(),
                        None => Value::Null,
                    };
                    EventType::ReturnReceived
                }
            };
            data["status"] = f.status.as_str().into();
            vec![draft(kind, scan.at, data)]
        }
        OrderEvent::Cancelled { at } => vec![draft(
            EventType::OrderCancelled,
            *at,
            json!({"status": order.status().as_str()}),
        )],
    }
}

/// The event a facility's routing status change reports.
pub fn facility_status_draft(
    facility_id: &str,
    enabled: bool,
    until: Option<Millis>,
    at: Millis,
) -> Draft {
    Draft {
        kind: EventType::FacilityStatusChanged,
        order_id: None,
        at,
        data: json!({"facility_id": facility_id, "enabled": enabled,
                     "until": until.map(rfc3339)}),
    }
}

/// `hold.expired`: the hold's expiry, journaled at `at` (by the shard's
/// clock, or the first tick after a restart), reporting the units it
/// released: every held line with its SKU, facility and quantity (lines
/// the hold could not cover held nothing and are left out), and the
/// expiry it had (RFC 3339 with milliseconds, as the holds API shows it).
/// No order: `order_id` null, no `order_seq`.
pub fn hold_expired_draft(hold: &HoldState, at: Millis, names: &impl Names) -> Draft {
    let lines: Vec<Value> = hold
        .held()
        .iter()
        .flat_map(|(f, lines)| lines.iter().map(move |&l| (*f, l)))
        .filter_map(|(f, l)| {
            let line = hold.request().lines.get(usize::from(l))?;
            Some(
                json!({"sku": names.sku(line.sku), "facility_id": names.facility(f),
                        "qty": line.qty}),
            )
        })
        .collect();
    Draft {
        kind: EventType::HoldExpired,
        order_id: None,
        at,
        data: json!({"hold_id": &*hold.request().hold_id, "lines": lines,
                     "expires_at": humantime::format_rfc3339_millis(
                         UNIX_EPOCH + Duration::from_millis(hold.expires_at())).to_string()}),
    }
}

fn opt_str(s: &Option<Arc<str>>) -> Value {
    s.as_deref().map_or(Value::Null, Value::from)
}

fn fulfillment_ref(order_id: &str, f: &Fulfillment, names: &impl Names) -> Value {
    json!({"fulfillment_id": format!("{order_id}/{}", f.n),
           "facility_id": names.facility(f.facility)})
}

fn fulfillment_json(order_id: &str, f: &Fulfillment, names: &impl Names) -> Value {
    let mut v = fulfillment_ref(order_id, f, names);
    v["lines"] = f
        .lines
        .iter()
        .map(|l| json!({"sku": names.sku(l.sku), "qty": l.qty}))
        .collect();
    ship_plan_fields(&mut v, f.ship.as_ref());
    v
}

/// The ship plan's API fields (`carrier`, `service`, `shipping_cost`,
/// `ship_by`, `promised_delivery_date`, `service_level_met`) into `v`; all
/// null (and `service_level_met` false) when no service ships.
fn ship_plan_fields(v: &mut Value, plan: Option<&ShipPlan>) {
    match plan {
        Some(p) => {
            v["carrier"] = Value::from(&*p.carrier);
            v["service"] = Value::from(&*p.service);
            v["shipping_cost"] = Value::from(cents(p.shipping_cost));
            v["ship_by"] = Value::from(rfc3339(p.ship_by));
            v["promised_delivery_date"] = Value::from(date_string(p.delivery_day));
            v["service_level_met"] = Value::from(p.service_level_met);
        }
        None => {
            for k in [
                "carrier",
                "service",
                "shipping_cost",
                "ship_by",
                "promised_delivery_date",
            ] {
                v[k] = Value::Null;
            }
            v["service_level_met"] = Value::from(false);
        }
    }
}

/// A price rounded to cents.
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn backorder_lines(order: &OrderState, lines: &[u16], names: &impl Names) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|&l| order.request().lines.get(usize::from(l)))
        .map(|l| json!({"sku": names.sku(l.sku), "qty": l.qty}))
        .collect()
}
