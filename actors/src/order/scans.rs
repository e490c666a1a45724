//! Scan decisions: which scan fits which fulfillment status, and the event
//! and effects an accepted scan brings.

use std::sync::Arc;

use super::effects::reject;
use super::{
    Disposition, Effect, Fulfillment, FulfillmentStatus, OrderEvent, OrderRefusal, OrderState,
    Scan, ScanDecision, ScanKind,
};
use crate::ids::CellKey;
use crate::shipping::{day_of, tracking_number, Rates};

impl OrderState {
    /// The tracking number the core issues when `f` ships with `carrier`:
    /// one order's fulfillments released in one wave at one facility are
    /// one parcel, so they share the number (that of a sibling already
    /// shipped with this carrier, else the one issued for the parcel's
    /// lowest fulfillment number).
    fn parcel_tracking(&self, f: &Fulfillment, carrier: &Arc<str>) -> Arc<str> {
        let parcel: Vec<&Fulfillment> = self
            .fulfillments
            .iter()
            .filter(|g| g.facility == f.facility && g.wave_id.is_some() && g.wave_id == f.wave_id)
            .collect();
        if let Some(t) = parcel
            .iter()
            .find(|g| g.carrier.as_ref() == Some(carrier) && g.tracking.is_some())
            .and_then(|g| g.tracking.clone())
        {
            return t;
        }
        let n = parcel.iter().map(|g| g.n).min().unwrap_or(f.n).min(f.n);
        Arc::from(tracking_number(carrier, self.no.0, n))
    }

    /// Decide a scan: duplicate, refused with a reason, or an event to apply.
    ///
    /// A `ship` scan may leave out `carrier` (the planned carrier applies)
    /// and `tracking` (the core issues [`tracking_number`] for the carrier);
    /// the event carries both. Naming another carrier than planned re-rates
    /// the fulfillment with `rates` ([`Rates::rerate`]); a carrier the
    /// rates do not know cannot be rated and the plan stays as it was.
    pub fn decide_scan(&self, scan: &Scan, rates: &Rates) -> Result<ScanDecision, OrderRefusal> {
        if self.seen_events.contains(&scan.event_id) {
            return Ok(ScanDecision::Duplicate);
        }
        if self.rejected.is_some() {
            return reject("order was rejected");
        }
        if self.cancelled {
            return reject("order is cancelled");
        }
        let Some(f) = self.fulfillment(scan.fulfillment) else {
            return reject("unknown fulfillment");
        };
        use FulfillmentStatus as S;
        let warehouse = matches!(scan.kind, ScanKind::Pick | ScanKind::Pack | ScanKind::Ship);
        if warehouse && scan.facility != f.facility {
            return reject("facility_id is not the fulfillment's facility");
        }
        let mut effects = Vec::new();
        let mut event = None;
        match scan.kind {
            ScanKind::Pick => {
                let (Some(sku), Some(qty)) = (scan.sku, scan.qty) else {
                    return reject("pick needs sku and qty");
                };
                if !matches!(f.status, S::Released | S::Picking) {
                    return reject(format!("cannot pick: fulfillment is {}", f.status.as_str()));
                }
                let Some(l) = f.lines.iter().find(|l| l.sku == sku) else {
                    return reject("sku is not on this fulfillment");
                };
                if qty == 0 || qty > l.qty - l.picked {
                    return reject(format!(
                        "qty {qty} is over what is left to pick ({})",
                        l.qty - l.picked
                    ));
                }
                effects.push(Effect::Pick {
                    cell: CellKey {
                        sku,
                        facility: f.facility,
                    },
                    line: self.line_ref(l.line),
                    qty,
                });
            }
            ScanKind::Pack => {
                if !matches!(f.status, S::Picking | S::Released)
                    || f.lines.iter().any(|l| l.picked < l.qty)
                {
                    return reject(format!(
                        "cannot pack: {}",
                        if matches!(f.status, S::Picking | S::Released) {
                            "not every line is picked"
                        } else {
                            f.status.as_str()
                        }
                    ));
                }
            }
            ScanKind::Ship => {
                if f.status != S::Packed {
                    return reject(format!("cannot ship: fulfillment is {}", f.status.as_str()));
                }
                let planned = f.ship.as_ref();
                let carrier =
                    match (&scan.carrier, planned) {
                        (Some(c), _) => c.clone(),
                        (None, Some(p)) => p.carrier.clone(),
                        (None, None) => return reject(
                            "carrier: no carrier service is planned for this fulfillment, name one",
                        ),
                    };
                let tracking = scan
                    .tracking
                    .clone()
                    .unwrap_or_else(|| self.parcel_tracking(f, &carrier));
                let replan = if planned.is_some_and(|p| p.carrier == carrier) {
                    None
                } else {
                    let r = &self.request;
                    let units = f.lines.iter().map(|l| l.qty).sum();
                    rates.rerate(
                        &carrier,
                        f.facility,
                        r.lat,
                        r.lon,
                        units,
                        r.service_level,
                        day_of(self.placed_at),
                        scan.at,
                    )
                };
                let scan = Scan {
                    carrier: Some(carrier),
                    tracking: Some(tracking),
                    ..scan.clone()
                };
                event = Some(match replan {
                    Some(plan) => OrderEvent::ShippedRerated { scan, plan },
                    None => OrderEvent::Scanned(scan),
                });
                effects.push(Effect::Close {
                    facility: f.facility,
                    fulfillment: self.fref(f.n),
                });
            }
            ScanKind::InTransit => {
                if !matches!(f.status, S::Shipped | S::InTransit | S::Exception) {
                    return reject(format!(
                        "cannot be in transit: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
            }
            ScanKind::OutForDelivery => {
                if !matches!(f.status, S::Shipped | S::InTransit | S::Exception) {
                    return reject(format!(
                        "cannot be out for delivery: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
            }
            ScanKind::Delivered => {
                if !matches!(
                    f.status,
                    S::Shipped | S::InTransit | S::OutForDelivery | S::Exception
                ) {
                    return reject(format!(
                        "cannot deliver: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
            }
            ScanKind::DeliveryException => {
                if !matches!(f.status, S::Shipped | S::InTransit | S::OutForDelivery) {
                    return reject(format!(
                        "cannot raise an exception: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
                if scan.reason.is_none() {
                    return reject("delivery_exception needs a reason");
                }
            }
            ScanKind::ReturnReceived => {
                let (Some(sku), Some(qty), Some(disposition)) =
                    (scan.sku, scan.qty, scan.disposition)
                else {
                    return reject("return_received needs sku, qty and disposition");
                };
                if !matches!(f.status, S::Delivered | S::Returned) {
                    return reject(format!(
                        "cannot return: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
                let Some(l) = f.lines.iter().find(|l| l.sku == sku) else {
                    return reject("sku is not on this fulfillment");
                };
                if qty == 0 || qty > l.picked - l.returned {
                    return reject(format!(
                        "qty {qty} is over what was delivered and not yet returned ({})",
                        l.picked - l.returned
                    ));
                }
                if disposition == Disposition::Restock {
                    effects.push(Effect::Restock {
                        cell: CellKey {
                            sku,
                            facility: scan.facility,
                        },
                        qty,
                    });
                }
            }
        }
        Ok(ScanDecision::Apply {
            event: event.unwrap_or_else(|| OrderEvent::Scanned(scan.clone())),
            effects,
        })
    }
}
