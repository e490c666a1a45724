//! Scan decisions: the checks every scan passes, the status gate from the
//! scan table (`scan_rules.rs`), and each kind's own checks, event and
//! effects.

use std::sync::Arc;

use super::effects::reject;
use super::scan_rules::{rule, transition};
use super::{
    Disposition, Effect, Fulfillment, OrderEvent, OrderRefusal, OrderState, Scan, ScanDecision,
    ScanKind,
};
use crate::ids::CellKey;
use crate::shipping::{day_of, tracking_number, Rates};

/// Passes when the scan table accepts `kind` in `f`'s status; else the
/// table's refusal.
fn gate(kind: ScanKind, f: &Fulfillment) -> Result<(), OrderRefusal> {
    transition(kind, f.status)
        .map(|_| ())
        .map_err(OrderRefusal::Rejected)
}

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
    /// Whether the kind fits the fulfillment's status is the scan table's
    /// ([`super::scan_rules`]); a kind's fields are checked before it
    /// (`pick`, `return_received`) or after it (`delivery_exception`), as
    /// the API has always answered.
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
        if rule(scan.kind).own_facility && scan.facility != f.facility {
            return reject("facility_id is not the fulfillment's facility");
        }
        let plain = || OrderEvent::Scanned(scan.clone());
        let (event, effects) = match scan.kind {
            ScanKind::Pick => (plain(), self.decide_pick(f, scan)?),
            ScanKind::Pack => {
                gate(scan.kind, f)?;
                if f.lines.iter().any(|l| l.picked < l.qty) {
                    return reject("cannot pack: not every line is picked");
                }
                (plain(), Vec::new())
            }
            ScanKind::Ship => {
                gate(scan.kind, f)?;
                self.decide_ship(f, scan, rates)?
            }
            ScanKind::InTransit | ScanKind::OutForDelivery | ScanKind::Delivered => {
                gate(scan.kind, f)?;
                (plain(), Vec::new())
            }
            ScanKind::DeliveryException => {
                gate(scan.kind, f)?;
                if scan.reason.is_none() {
                    return reject("delivery_exception needs a reason");
                }
                (plain(), Vec::new())
            }
            ScanKind::ReturnReceived => (plain(), self.decide_return(f, scan)?),
        };
        Ok(ScanDecision::Apply { event, effects })
    }

    /// A pick: sku and qty given, the status fits, the line is on the
    /// fulfillment and the units are still to pick. Commits them at the cell.
    fn decide_pick(&self, f: &Fulfillment, scan: &Scan) -> Result<Vec<Effect>, OrderRefusal> {
        let (Some(sku), Some(qty)) = (scan.sku, scan.qty) else {
            return reject("pick needs sku and qty");
        };
        gate(scan.kind, f)?;
        let Some(l) = f.lines.iter().find(|l| l.sku == sku) else {
            return reject("sku is not on this fulfillment");
        };
        if qty == 0 || qty > l.qty - l.picked {
            return reject(format!(
                "qty {qty} is over what is left to pick ({})",
                l.qty - l.picked
            ));
        }
        Ok(vec![Effect::Pick {
            cell: CellKey {
                sku,
                facility: f.facility,
            },
            line: self.line_ref(l.line),
            qty,
        }])
    }

    /// A ship scan on a packed fulfillment: the carrier (given or
    /// planned), the tracking number (given or issued), a re-rated plan
    /// for another carrier than planned; closes it at its facility.
    fn decide_ship(
        &self,
        f: &Fulfillment,
        scan: &Scan,
        rates: &Rates,
    ) -> Result<(OrderEvent, Vec<Effect>), OrderRefusal> {
        let planned = f.ship.as_ref();
        let carrier = match (&scan.carrier, planned) {
            (Some(c), _) => c.clone(),
            (None, Some(p)) => p.carrier.clone(),
            (None, None) => {
                return reject(
                    "carrier: no carrier service is planned for this fulfillment, name one",
                )
            }
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
        let event = match replan {
            Some(plan) => OrderEvent::ShippedRerated { scan, plan },
            None => OrderEvent::Scanned(scan),
        };
        let close = Effect::Close {
            facility: f.facility,
            fulfillment: self.fref(f.n),
        };
        Ok((event, vec![close]))
    }

    /// A return: sku, qty and disposition given, the status fits, the
    /// units were delivered and not yet returned. Restocked units go back
    /// on the shelf of the facility that received them.
    fn decide_return(&self, f: &Fulfillment, scan: &Scan) -> Result<Vec<Effect>, OrderRefusal> {
        let (Some(sku), Some(qty), Some(disposition)) = (scan.sku, scan.qty, scan.disposition)
        else {
            return reject("return_received needs sku, qty and disposition");
        };
        gate(scan.kind, f)?;
        let Some(l) = f.lines.iter().find(|l| l.sku == sku) else {
            return reject("sku is not on this fulfillment");
        };
        if qty == 0 || qty > l.picked - l.returned {
            return reject(format!(
                "qty {qty} is over what was delivered and not yet returned ({})",
                l.picked - l.returned
            ));
        }
        if disposition != Disposition::Restock {
            return Ok(Vec::new());
        }
        Ok(vec![Effect::Restock {
            cell: CellKey {
                sku,
                facility: scan.facility,
            },
            qty,
        }])
    }
}
