//! The order's data: lines, fulfillments and their lines, the placement
//! request, scans as the order receives them, and the timeline's entries.

use std::sync::Arc;

use orch_config::{Millis, ServiceLevel};
use serde::{Deserialize, Serialize};

use super::FulfillmentStatus;
use crate::ids::{FacilityIdx, SkuIdx};
use crate::shipping::ShipPlan;

/// One line of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// SKU.
    pub sku: SkuIdx,
    /// Units ordered.
    pub qty: u32,
}

/// One line of a fulfillment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentLine {
    /// Line number in the order.
    pub line: u16,
    /// SKU.
    pub sku: SkuIdx,
    /// Units reserved.
    pub qty: u32,
    /// Units picked so far.
    pub picked: u32,
    /// Units returned so far.
    pub returned: u32,
    /// Of those, units put back on a shelf.
    pub restocked: u32,
}

/// The part of an order shipped from one facility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fulfillment {
    /// Number within the order, from 1.
    pub n: u16,
    /// Shipping facility.
    pub facility: FacilityIdx,
    /// Lines.
    pub lines: Vec<FulfillmentLine>,
    /// Status.
    pub status: FulfillmentStatus,
    /// Wave, once released.
    pub wave_id: Option<Arc<str>>,
    /// Carrier, once shipped.
    pub carrier: Option<Arc<str>>,
    /// Tracking number, once shipped.
    pub tracking: Option<Arc<str>>,
    /// The carrier service planned when it was created (re-rated when it
    /// ships with another carrier); `None` when no service ships from its
    /// facility to the order's destination.
    pub ship: Option<ShipPlan>,
}

/// What a placement request asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceRequest {
    /// Client order id.
    pub order_id: Arc<str>,
    /// Sales channel.
    pub channel: Arc<str>,
    /// Ship-to latitude.
    pub lat: f64,
    /// Ship-to longitude.
    pub lon: f64,
    /// Service level.
    pub service_level: ServiceLevel,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Whether lines may wait for stock.
    pub allow_backorder: bool,
}

/// Scan kinds of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    /// A line picked (sku, qty).
    Pick,
    /// Packed.
    Pack,
    /// Shipped (carrier, tracking).
    Ship,
    /// Carrier: in transit.
    InTransit,
    /// Carrier: out for delivery.
    OutForDelivery,
    /// Carrier: delivered.
    Delivered,
    /// Carrier: delivery exception (reason).
    DeliveryException,
    /// Return received (sku, qty, disposition).
    ReturnReceived,
}

impl ScanKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::Pick => "pick",
            ScanKind::Pack => "pack",
            ScanKind::Ship => "ship",
            ScanKind::InTransit => "in_transit",
            ScanKind::OutForDelivery => "out_for_delivery",
            ScanKind::Delivered => "delivered",
            ScanKind::DeliveryException => "delivery_exception",
            ScanKind::ReturnReceived => "return_received",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<ScanKind> {
        Some(match s {
            "pick" => ScanKind::Pick,
            "pack" => ScanKind::Pack,
            "ship" => ScanKind::Ship,
            "in_transit" => ScanKind::InTransit,
            "out_for_delivery" => ScanKind::OutForDelivery,
            "delivered" => ScanKind::Delivered,
            "delivery_exception" => ScanKind::DeliveryException,
            "return_received" => ScanKind::ReturnReceived,
            _ => return None,
        })
    }

    /// Every kind.
    pub const ALL: [ScanKind; 8] = [
        ScanKind::Pick,
        ScanKind::Pack,
        ScanKind::Ship,
        ScanKind::InTransit,
        ScanKind::OutForDelivery,
        ScanKind::Delivered,
        ScanKind::DeliveryException,
        ScanKind::ReturnReceived,
    ];
}

/// What happens to a returned unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Back on the shelf.
    Restock,
    /// Thrown away.
    Dispose,
}

/// A scan event as the order receives it (ids already resolved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    /// Client event id (idempotency key).
    pub event_id: Arc<str>,
    /// Kind.
    pub kind: ScanKind,
    /// Fulfillment number within the order.
    pub fulfillment: u16,
    /// Facility that scanned.
    pub facility: FacilityIdx,
    /// SKU (pick, return).
    pub sku: Option<SkuIdx>,
    /// Quantity (pick, return).
    pub qty: Option<u32>,
    /// Carrier (ship).
    pub carrier: Option<Arc<str>>,
    /// Tracking (ship).
    pub tracking: Option<Arc<str>>,
    /// Reason (exception).
    pub reason: Option<Arc<str>>,
    /// Disposition (return).
    pub disposition: Option<Disposition>,
    /// When it happened.
    pub at: Millis,
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub at: Millis,
    /// What (`placed`, `routed`, `backordered`, `wave_released`, a scan kind, `cancelled`, ...).
    pub what: std::borrow::Cow<'static, str>,
    /// Fulfillment number, if it concerns one.
    pub fulfillment: Option<u16>,
    /// Scan event id, if a scan.
    pub event_id: Option<Arc<str>>,
    /// The ship plan chosen then (routing, backorder fill, a re-rating ship).
    pub ship: Option<ShipPlan>,
}
