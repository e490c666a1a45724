//! The statuses an order and each of its fulfillments show, as the API names them.

use serde::{Deserialize, Serialize};

/// Status of an order, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, not placed yet.
    Received,
    /// Nothing available now; waits for stock.
    Backordered,
    /// Some lines routed, some waiting.
    PartiallyBackordered,
    /// Every line reserved at a facility.
    Routed,
    /// In a released wave.
    Released,
    /// Being picked.
    Picking,
    /// Packed.
    Packed,
    /// Handed to the carrier.
    Shipped,
    /// Moving.
    InTransit,
    /// On the truck.
    OutForDelivery,
    /// Delivered.
    Delivered,
    /// Came back.
    Returned,
    /// A delivery exception is open.
    Exception,
    /// Cancelled.
    Cancelled,
    /// Refused at placement.
    Rejected,
}

impl OrderStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Received => "received",
            OrderStatus::Backordered => "backordered",
            OrderStatus::PartiallyBackordered => "partially_backordered",
            OrderStatus::Routed => "routed",
            OrderStatus::Released => "released",
            OrderStatus::Picking => "picking",
            OrderStatus::Packed => "packed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::InTransit => "in_transit",
            OrderStatus::OutForDelivery => "out_for_delivery",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Returned => "returned",
            OrderStatus::Exception => "exception",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
        }
    }

    /// Delivered, returned, cancelled or rejected: nothing more will happen
    /// but (for delivered) returns.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered
                | OrderStatus::Returned
                | OrderStatus::Cancelled
                | OrderStatus::Rejected
        )
    }
}

/// Status of one fulfillment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    /// Reserved and queued at the facility.
    Routed,
    /// In a released wave.
    Released,
    /// At least one pick applied.
    Picking,
    /// Packed.
    Packed,
    /// Shipped.
    Shipped,
    /// In transit.
    InTransit,
    /// Out for delivery.
    OutForDelivery,
    /// Delivery exception open.
    Exception,
    /// Delivered.
    Delivered,
    /// Every delivered unit came back.
    Returned,
    /// Cancelled before shipping.
    Cancelled,
}

impl FulfillmentStatus {
    /// Every status, in the order of the state machine.
    pub const ALL: [FulfillmentStatus; 11] = [
        FulfillmentStatus::Routed,
        FulfillmentStatus::Released,
        FulfillmentStatus::Picking,
        FulfillmentStatus::Packed,
        FulfillmentStatus::Shipped,
        FulfillmentStatus::InTransit,
        FulfillmentStatus::OutForDelivery,
        FulfillmentStatus::Exception,
        FulfillmentStatus::Delivered,
        FulfillmentStatus::Returned,
        FulfillmentStatus::Cancelled,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        self.as_order().as_str()
    }

    pub(super) fn as_order(self) -> OrderStatus {
        match self {
            FulfillmentStatus::Routed => OrderStatus::Routed,
            FulfillmentStatus::Released => OrderStatus::Released,
            FulfillmentStatus::Picking => OrderStatus::Picking,
            FulfillmentStatus::Packed => OrderStatus::Packed,
            FulfillmentStatus::Shipped => OrderStatus::Shipped,
            FulfillmentStatus::InTransit => OrderStatus::InTransit,
            FulfillmentStatus::OutForDelivery => OrderStatus::OutForDelivery,
            FulfillmentStatus::Exception => OrderStatus::Exception,
            FulfillmentStatus::Delivered => OrderStatus::Delivered,
            FulfillmentStatus::Returned => OrderStatus::Returned,
            FulfillmentStatus::Cancelled => OrderStatus::Cancelled,
        }
    }

    pub(super) fn has_shipped(self) -> bool {
        matches!(
            self,
            FulfillmentStatus::Shipped
                | FulfillmentStatus::InTransit
                | FulfillmentStatus::OutForDelivery
                | FulfillmentStatus::Exception
                | FulfillmentStatus::Delivered
                | FulfillmentStatus::Returned
        )
    }
}
