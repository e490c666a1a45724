//! The event types of the feed, with the names clients filter on.

use std::fmt;

use serde::{Serialize, Serializer};

/// What an event reports. The names are the contract's (`order.placed`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// An order was accepted, with its routing answer.
    OrderPlaced,
    /// Some or all of an order's lines wait for stock.
    OrderBackordered,
    /// An order was cancelled.
    OrderCancelled,
    /// A fulfillment was routed (at placement, or when a backorder filled).
    FulfillmentRouted,
    /// A fulfillment was released in a wave.
    FulfillmentReleased,
    /// Every line of a fulfillment was picked.
    FulfillmentPicked,
    /// A fulfillment was packed.
    FulfillmentPacked,
    /// A fulfillment was handed to the carrier.
    FulfillmentShipped,
    /// The carrier reported it moving.
    FulfillmentInTransit,
    /// The carrier reported it out for delivery.
    FulfillmentOutForDelivery,
    /// The carrier delivered it.
    FulfillmentDelivered,
    /// The carrier reported a delivery exception.
    FulfillmentException,
    /// Units came back.
    ReturnReceived,
    /// A cart hold expired.
    HoldExpired,
    /// A facility was taken out of routing or put back.
    FacilityStatusChanged,
}

impl EventType {
    /// Every type, in the contract's order.
    pub const ALL: [EventType; 15] = [
        EventType::OrderPlaced,
        EventType::OrderBackordered,
        EventType::OrderCancelled,
        EventType::FulfillmentRouted,
        EventType::FulfillmentReleased,
        EventType::FulfillmentPicked,
        EventType::FulfillmentPacked,
        EventType::FulfillmentShipped,
        EventType::FulfillmentInTransit,
        EventType::FulfillmentOutForDelivery,
        EventType::FulfillmentDelivered,
        EventType::FulfillmentException,
        EventType::ReturnReceived,
        EventType::HoldExpired,
        EventType::FacilityStatusChanged,
    ];

    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderPlaced => "order.placed",
            EventType::OrderBackordered => "order.backordered",
            EventType::OrderCancelled => "order.cancelled",
            EventType::FulfillmentRouted => "fulfillment.routed",
            EventType::FulfillmentReleased => "fulfillment.released",
            EventType::FulfillmentPicked => "fulfillment.picked",
            EventType::FulfillmentPacked => "fulfillment.packed",
            EventType::FulfillmentShipped => "fulfillment.shipped",
            EventType::FulfillmentInTransit => "fulfillment.in_transit",
            EventType::FulfillmentOutForDelivery => "fulfillment.out_for_delivery",
            EventType::FulfillmentDelivered => "fulfillment.delivered",
            EventType::FulfillmentException => "fulfillment.exception",
            EventType::ReturnReceived => "return.received",
            EventType::HoldExpired => "hold.expired",
            EventType::FacilityStatusChanged => "facility.status_changed",
        }
    }

    /// Parses a contract name.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Bit of this type in a [`TypeSet`].
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A set of event types (a filter); the empty filter is [`TypeSet::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeSet(u32);

impl TypeSet {
    /// Every type.
    pub const ALL: TypeSet = TypeSet((1 << EventType::ALL.len()) - 1);

    /// The types named; `Err` names the first unknown one.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<TypeSet, String> {
        let mut set = 0;
        for name in names {
            let t = EventType::parse(name).ok_or_else(|| name.to_string())?;
            set |= t.bit();
        }
        Ok(if set == 0 { TypeSet::ALL } else { TypeSet(set) })
    }

    /// A set of exactly these types (all types when empty).
    pub fn of(types: &[EventType]) -> TypeSet {
        let set = types.iter().fold(0, |s, t| s | t.bit());
        if set == 0 {
            TypeSet::ALL
        } else {
            TypeSet(set)
        }
    }

    /// Whether `t` is in the set.
    pub fn contains(self, t: EventType) -> bool {
        self.0 & t.bit() != 0
    }

    /// The types in the set, in the contract's order.
    pub fn types(self) -> impl Iterator<Item = EventType> {
        EventType::ALL
            .into_iter()
            .filter(move |t| self.contains(*t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        let mut names: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
        assert_eq!(EventType::parse("order.shipped"), None);
    }

    #[test]
    fn type_sets_filter() {
        let s = TypeSet::parse(["fulfillment.shipped", "order.placed"]).unwrap();
        assert!(s.contains(EventType::FulfillmentShipped));
        assert!(s.contains(EventType::OrderPlaced));
        assert!(!s.contains(EventType::OrderCancelled));
        assert_eq!(s.types().count(), 2);
        assert_eq!(TypeSet::parse([]).unwrap(), TypeSet::ALL);
        assert_eq!(TypeSet::parse(["nope"]).unwrap_err(), "nope");
        assert_eq!(TypeSet::ALL.types().count(), EventType::ALL.len());
    }
}
