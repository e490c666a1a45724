//! The order's journaled events ([`OrderEvent`]) and [`OrderState::apply`],
//! which never refuses: it applies what was decided here or is replayed.

use std::sync::Arc;

use orch_config::Millis;
use serde::{Deserialize, Serialize};

use super::scan_rules::rule;
use super::{
    Disposition, FacilityIdx, Fulfillment, FulfillmentLine, FulfillmentStatus, OrderState,
    PlaceRequest, Scan, ScanKind, TimelineEntry,
};
use crate::shipping::ShipPlan;

/// A change to an order, as journaled and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// The order was accepted.
    Placed {
        /// Request.
        request: PlaceRequest,
        /// When.
        at: Millis,
    },
    /// Placement finished: fulfillments and backorders (or a rejection).
    Routed {
        /// (facility, line numbers) per fulfillment.
        fulfillments: Vec<(FacilityIdx, Vec<u16>)>,
        /// The ship plan of each fulfillment, in the same order.
        plans: Vec<Option<ShipPlan>>,
        /// Lines waiting for stock.
        backordered: Vec<u16>,
        /// Set when rejected.
        rejected: Option<String>,
        /// When.
        at: Millis,
    },
    /// A backordered line got stock at a facility: a new fulfillment.
    BackorderFilled {
        /// Line.
        line: u16,
        /// Where.
        facility: FacilityIdx,
        /// The new fulfillment's ship plan.
        plan: Option<ShipPlan>,
        /// When.
        at: Millis,
    },
    /// A fulfillment was released in a wave.
    WaveReleased {
        /// Fulfillment number.
        fulfillment: u16,
        /// Wave.
        wave_id: Arc<str>,
        /// When.
        at: Millis,
    },
    /// A scan was applied.
    Scanned(Scan),
    /// A `ship` scan handed the parcel to another carrier than planned:
    /// the scan, and the fulfillment's ship plan re-rated for that carrier.
    ShippedRerated {
        /// The scan (carrier and tracking filled in).
        scan: Scan,
        /// The new ship plan.
        plan: ShipPlan,
    },
    /// The order was cancelled.
    Cancelled {
        /// When.
        at: Millis,
    },
}

impl OrderState {
    fn note(
        &mut self,
        at: Millis,
        what: &'static str,
        fulfillment: Option<u16>,
        event_id: Option<Arc<str>>,
    ) {
        self.note_ship(at, what, fulfillment, event_id, None);
    }

    fn note_ship(
        &mut self,
        at: Millis,
        what: &'static str,
        fulfillment: Option<u16>,
        event_id: Option<Arc<str>>,
        ship: Option<ShipPlan>,
    ) {
        self.last_change = self.last_change.max(at);
        self.timeline.push(TimelineEntry {
            at,
            what: what.into(),
            fulfillment,
            event_id,
            ship,
        });
    }

    fn new_fulfillment(
        &mut self,
        facility: FacilityIdx,
        lines: &[u16],
        ship: Option<ShipPlan>,
    ) -> u16 {
        let n = self.fulfillments.len() as u16 + 1;
        let lines = lines
            .iter()
            .map(|&l| {
                let ol = self.request.lines[usize::from(l)];
                FulfillmentLine {
                    line: l,
                    sku: ol.sku,
                    qty: ol.qty,
                    picked: 0,
                    returned: 0,
                    restocked: 0,
                }
            })
            .collect();
        self.fulfillments.push(Fulfillment {
            n,
            facility,
            lines,
            status: FulfillmentStatus::Routed,
            wave_id: None,
            carrier: None,
            tracking: None,
            ship,
        });
        n
    }

    /// Apply an event (decided here or replayed). `Placed` is applied by
    /// [`OrderState::place`] and ignored here.
    pub fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Placed { .. } => {}
            OrderEvent::Routed {
                fulfillments,
                plans,
                backordered,
                rejected,
                at,
            } => {
                self.placed = true;
                if let Some(r) = rejected {
                    self.rejected = Some(r.clone());
                    self.note(*at, "rejected", None, None);
                    return;
                }
                for (i, (facility, lines)) in fulfillments.iter().enumerate() {
                    let plan = plans.get(i).cloned().flatten();
                    let n = self.new_fulfillment(*facility, lines, plan.clone());
                    self.note_ship(*at, "routed", Some(n), None, plan);
                }
                self.backordered = backordered.clone();
                if !backordered.is_empty() {
                    self.note(*at, "backordered", None, None);
                }
            }
            OrderEvent::BackorderFilled {
                line,
                facility,
                plan,
                at,
            } => {
                self.backordered.retain(|l| l != line);
                let n = self.new_fulfillment(*facility, &[*line], plan.clone());
                self.note_ship(*at, "backorder_filled", Some(n), None, plan.clone());
            }
            OrderEvent::WaveReleased {
                fulfillment,
                wave_id,
                at,
            } => {
                if let Some(f) = self.fulfillments.iter_mut().find(|f| f.n == *fulfillment) {
                    f.status = FulfillmentStatus::Released;
                    f.wave_id = Some(wave_id.clone());
                }
                self.note(*at, "wave_released", Some(*fulfillment), None);
            }
            OrderEvent::Scanned(scan) => self.apply_scan(scan, None),
            OrderEvent::ShippedRerated { scan, plan } => self.apply_scan(scan, Some(plan)),
            OrderEvent::Cancelled { at } => {
                self.cancelled = true;
                for f in &mut self.fulfillments {
                    f.status = FulfillmentStatus::Cancelled;
                }
                self.backordered.clear();
                self.note(*at, "cancelled", None, None);
            }
        }
    }

    /// Applies a scan; `replan` is a re-rated ship plan (a ship scan only).
    fn apply_scan(&mut self, scan: &Scan, replan: Option<&ShipPlan>) {
        self.seen_events.insert(scan.event_id.clone());
        let f = self
            .fulfillments
            .iter_mut()
            .find(|f| f.n == scan.fulfillment)
            .expect("scan of an unknown fulfillment was decided");
        match scan.kind {
            ScanKind::Pick => {
                let sku = scan.sku.expect("pick has a sku");
                let l = f
                    .lines
                    .iter_mut()
                    .find(|l| l.sku == sku)
                    .expect("pick line");
                l.picked += scan.qty.unwrap_or(0);
            }
            ScanKind::Ship => {
                f.carrier = scan.carrier.clone();
                f.tracking = scan.tracking.clone();
                if let Some(p) = replan {
                    f.ship = Some(p.clone());
                }
            }
            ScanKind::ReturnReceived => {
                let sku = scan.sku.expect("return has a sku");
                let l = f
                    .lines
                    .iter_mut()
                    .find(|l| l.sku == sku)
                    .expect("return line");
                l.returned += scan.qty.unwrap_or(0);
                if scan.disposition == Some(Disposition::Restock) {
                    l.restocked += scan.qty.unwrap_or(0);
                }
            }
            ScanKind::Pack
            | ScanKind::InTransit
            | ScanKind::OutForDelivery
            | ScanKind::Delivered
            | ScanKind::DeliveryException => {}
        }
        // The status the scan table names for the kind.
        let all_back = f.lines.iter().all(|l| l.returned >= l.picked);
        f.status = rule(scan.kind).next.status(all_back);
        self.note_ship(
            scan.at,
            scan.kind.as_str(),
            Some(scan.fulfillment),
            Some(scan.event_id.clone()),
            replan.cloned(),
        );
        // Derived from the journaled scan alone, so replay agrees.
        if scan.kind == ScanKind::Delivered
            && self.promise_kept(scan.fulfillment, scan.at) == Some(false)
        {
            self.note(
                scan.at,
                "promise_missed",
                Some(scan.fulfillment),
                Some(scan.event_id.clone()),
            );
        }
    }
}
