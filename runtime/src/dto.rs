//! The shapes of API.md: what callers send to the facade and what it
//! answers. The HTTP layer (de)serializes exactly these; the in-process load
//! tester builds them directly.
//!
//! Inputs keep client strings and wide integers so that validation can name
//! the field and the bad value (`lines[2].qty: must be 1 to 1000000, got -1`).
//!
//! serde's derives would read a JSON array as a struct's fields in order;
//! no JSON reaches them unchecked: the HTTP layer parses a body into a
//! `serde_json::Value`, checks it against the route's schema
//! (`http::schema`: JSON types, fields, rules) and only then reads the
//! shape here (`http::limits::parse_checked`).

use serde::{Deserialize, Serialize};

/// Ship-to point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipTo {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// One line of an order, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// SKU id.
    pub sku: String,
    /// Units (1..=qty_max).
    pub qty: i64,
}

/// `POST /v1/orders` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// Client order id.
    pub order_id: String,
    /// Sales channel label.
    pub channel: String,
    /// Where it ships.
    pub ship_to: ShipTo,
    /// same_day, next_day or standard.
    pub service_level: String,
    /// Lines.
    pub lines: Vec<LineInput>,
    /// Whether lines may wait for stock (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_backorder: Option<bool>,
}

/// The result of one receipt or adjustment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The receipt or adjustment id.
    pub id: String,
    /// applied, duplicate or rejected.
    pub result: String,
    /// Why rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Backordered lines served by a receipt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backorders_served: Option<usize>,
}

impl ItemResult {
    fn with(id: &str, result: &str, reason: Option<String>, served: Option<usize>) -> ItemResult {
        ItemResult {
            id: id.into(),
            result: result.into(),
            reason,
            backorders_served: served,
        }
    }

    /// Seen before: nothing changed.
    pub fn duplicate(id: &str) -> ItemResult {
        ItemResult::with(id, "duplicate", None, None)
    }

    /// Applied (a receipt says how many waiting lines it served).
    pub fn applied(id: &str, served: Option<usize>) -> ItemResult {
        ItemResult::with(id, "applied", None, served)
    }

    /// Refused with the reason: nothing changed.
    pub fn rejected(id: &str, reason: String) -> ItemResult {
        ItemResult::with(id, "rejected", Some(reason), None)
    }
}

/// `POST /v1/holds` body: a cart reservation with an expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldInput {
    /// Client hold id.
    pub hold_id: String,
    /// Where the cart would ship.
    pub ship_to: ShipTo,
    /// same_day, next_day or standard (default standard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level: Option<String>,
    /// Seconds it lasts (default 900, at most the configured maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<i64>,
    /// Lines.
    pub lines: Vec<LineInput>,
    /// Whether a hold that cannot cover every line is created anyway
    /// (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_partial: Option<bool>,
}

/// Where a hold holds units, as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldAtView {
    /// Facility.
    pub facility_id: String,
    /// Lines held there.
    pub lines: Vec<LineView>,
}

/// A hold, as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldView {
    /// Client hold id.
    pub hold_id: String,
    /// active, converted, released or expired.
    pub status: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// Units held, by facility (empty once it is no longer active).
    pub holds: Vec<HeldAtView>,
    /// Lines that could not be held when it was created.
    pub unavailable: Vec<LineView>,
}

/// One line of a fulfillment or a backorder, as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    /// SKU id.
    pub sku: String,
    /// Units.
    pub qty: u32,
}

/// One fulfillment, as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentView {
    /// `order_id/n`.
    pub fulfillment_id: String,
    /// Shipping facility.
    pub facility_id: String,
    /// Its status.
    pub status: String,
    /// Its wave, once released.
    pub wave_id: Option<String>,
    /// Carrier: the one it shipped with, else the planned one; `null`
    /// when no service ships from its facility to the destination.
    pub carrier: Option<String>,
    /// Tracking number, once shipped.
    pub tracking: Option<String>,
    /// Lines.
    pub lines: Vec<LineView>,
    /// The planned carrier service, the ship plan below.
    #[serde(flatten)]
    pub ship: ShipPlanView,
}

/// A fulfillment's ship plan, as answered: every field `null` (and
/// `service_level_met` false) when no carrier service ships from its
/// facility to the destination.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ShipPlanView {
    /// Service id within the carrier (`ground`).
    pub service: Option<String>,
    /// Price of the parcel, rounded to cents.
    pub shipping_cost: Option<f64>,
    /// RFC 3339: the pickup cutoff it must be ready by.
    pub ship_by: Option<String>,
    /// `YYYY-MM-DD` (UTC) promised to the customer.
    pub promised_delivery_date: Option<String>,
    /// Whether that date meets the order's service level.
    #[serde(default)]
    pub service_level_met: bool,
}

/// One timeline entry, as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineView {
    /// RFC 3339.
    pub at: String,
    /// What happened.
    pub event: String,
    /// Which fulfillment, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment_id: Option<String>,
    /// Which scan, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The carrier chosen then (routing, backorder fill, a re-rating ship).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// The ship plan chosen then, with `carrier`.
    #[serde(flatten, default)]
    pub ship: Option<ShipPlanView>,
}

/// An order, as answered by place, cancel and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    /// Client order id.
    pub order_id: String,
    /// Status (API.md names).
    pub status: String,
    /// Rejection reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Channel.
    pub channel: String,
    /// Service level.
    pub service_level: String,
    /// Fulfillments.
    pub fulfillments: Vec<FulfillmentView>,
    /// Lines waiting for stock.
    pub backordered: Vec<LineView>,
    /// Every event applied (status only; empty on place).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub timeline: Vec<TimelineView>,
}

/// The answer to a placement: the order, and whether it was a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// The order.
    pub order: OrderView,
    /// True when the same order was placed before with the same body.
    pub replay: bool,
    /// The hold the placement named, as it stands after it (`None` when
    /// it named none, or one that does not exist).
    pub hold: Option<PlacedHold>,
}

/// The hold a placement named (`"hold": {"hold_id", "status"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedHold {
    /// Client hold id.
    pub hold_id: String,
    /// converted when the order took it, else its status (expired, ...).
    pub status: String,
}

/// One scan event, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScanInput {
    /// Client event id (idempotency key).
    #[serde(default)]
    pub event_id: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Order.
    #[serde(default)]
    pub order_id: String,
    /// `order_id/n`.
    #[serde(default)]
    pub fulfillment_id: String,
    /// Scanning facility.
    #[serde(default)]
    pub facility_id: String,
    /// SKU (pick, return_received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Units (pick, return_received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty: Option<i64>,
    /// RFC 3339 (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Carrier (ship).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// Tracking (ship).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    /// Reason (delivery_exception).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// restock or dispose (return_received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
}

/// The answer for one scan event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanResult {
    /// The event.
    pub event_id: String,
    /// applied, duplicate or rejected.
    pub result: String,
    /// Why rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One receipt, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptInput {
    /// SKU id.
    pub sku: String,
    /// Receiving facility.
    pub facility_id: String,
    /// Units.
    pub qty: i64,
    /// Idempotency key.
    pub receipt_id: String,
}

/// One cycle count, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentInput {
    /// SKU id.
    pub sku: String,
    /// Facility.
    pub facility_id: String,
    /// New on hand.
    pub on_hand: i64,
    /// Idempotency key.
    pub adjustment_id: String,
}

/// One facility's counts for a SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellView {
    /// Facility.
    pub facility_id: String,
    /// On hand.
    pub on_hand: u32,
    /// Reserved.
    pub reserved: u32,
    /// Held by active holds (the engine host answers it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<u32>,
    /// Available.
    pub available: u32,
}

/// `GET /v1/inventory/{sku}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryView {
    /// SKU id.
    pub sku: String,
    /// Units available anywhere.
    pub network_available: u64,
    /// Per facility that has a cell.
    pub facilities: Vec<CellView>,
}

/// One nearby facility's availability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearbyView {
    /// Facility.
    pub facility_id: String,
    /// Available units.
    pub available: u32,
    /// Distance from the point.
    pub distance_km: f64,
}

/// `GET /v1/availability`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityAnswer {
    /// SKU id.
    pub sku: String,
    /// Units available anywhere.
    pub network_available: u64,
    /// Units available within the radius.
    pub nearby_available: u64,
    /// Facilities within the radius, nearest first.
    pub facilities: Vec<NearbyView>,
}

/// `GET /v1/promise`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromiseAnswer {
    /// SKU id.
    pub sku: String,
    /// One per service level that some stock can meet, same day first.
    pub promises: Vec<LevelPromiseView>,
}

/// The promise for one service level, as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelPromiseView {
    /// The service level.
    pub service_level: orch_config::ServiceLevel,
    /// `YYYY-MM-DD` (UTC) of the earliest delivery that meets it.
    pub delivery_date: String,
    /// The facility that would ship.
    pub facility_id: String,
    /// The carrier behind the date.
    pub carrier: String,
    /// The carrier's service.
    pub service: String,
    /// Its price for the parcel.
    pub shipping_cost: f64,
}

/// A facility, as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacilityView {
    /// Id.
    pub facility_id: String,
    /// dc, store or dark_store.
    pub kind: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Routing may use it.
    pub enabled: bool,
    /// Closure end (RFC 3339), if closed until a time.
    pub disabled_until: Option<String>,
    /// Fulfillments waiting for a wave.
    pub queued_fulfillments: u32,
    /// Waves released and not finished.
    pub open_waves: u32,
    /// Fulfillments released today.
    pub released_today: u32,
    /// Capacity left this hour.
    pub capacity_left: u32,
}

/// `POST /v1/facilities/{id}/waves/release` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveView {
    /// Wave id, null when nothing was queued.
    pub wave_id: Option<String>,
    /// Why it was released (size, max_wait, cutoff, manual).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Its fulfillments.
    pub fulfillment_ids: Vec<String>,
    /// Its pick list along the pick path.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub pick_list: Vec<PickTaskView>,
}

/// One pick task of a wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickTaskView {
    /// Zone name.
    pub zone: String,
    /// Bin in the zone.
    pub bin: u32,
    /// SKU id.
    pub sku: String,
    /// Units.
    pub qty: u32,
    /// Fulfillment.
    pub fulfillment_id: String,
}

/// `PUT /v1/facilities/{id}/status` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityStatusInput {
    /// Enabled?
    pub enabled: bool,
    /// RFC 3339; when disabling, enable again at this time.
    #[serde(default)]
    pub until: Option<String>,
}
