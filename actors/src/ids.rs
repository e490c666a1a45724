//! Compact keys of the three actor kinds and of the things they exchange.
//!
//! Client ids (strings) are mapped to these at the runtime's edge, so the hot
//! paths compare and hash integers, never strings.

use serde::{Deserialize, Serialize};

/// Index of a SKU in the catalog (`Network::skus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SkuIdx(pub u32);

/// Index of a facility in the network (`Network::facilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FacilityIdx(pub u16);

/// Internal number of an order, assigned once when it is first placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrderNo(pub u64);

/// The key of a stock cell: one SKU at one facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CellKey {
    /// The SKU.
    pub sku: SkuIdx,
    /// The facility holding it.
    pub facility: FacilityIdx,
}

/// One line of one order: what a reservation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LineRef {
    /// The order.
    pub order: OrderNo,
    /// Line number within the order, from 0.
    pub line: u16,
}

/// One fulfillment of one order (the part shipped from one facility).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FulfillmentRef {
    /// The order.
    pub order: OrderNo,
    /// Fulfillment number within the order, from 1 (`o-1001/1`).
    pub n: u16,
}
