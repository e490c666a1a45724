//! The load tester's own record of what it was told: every acknowledged
//! order with the status it was answered, and what the simulator did to it
//! since (cancelled, fulfillments delivered and returned). The end-of-run
//! check compares this with what the core says.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// What the load tester knows of one acknowledged order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderTrack {
    /// Status in the placement answer.
    pub status_at_ack: String,
    /// A cancel succeeded.
    pub cancelled: bool,
    /// Fulfillments the simulator delivered.
    pub delivered: HashSet<String>,
    /// Fulfillments the simulator returned (every line).
    pub returned: HashSet<String>,
}

/// Every acknowledged order, by id, and units restocked by returns per SKU.
#[derive(Debug, Default)]
pub struct Book {
    orders: Mutex<HashMap<String, OrderTrack>>,
    restocked: Mutex<HashMap<String, u64>>,
    received: Mutex<HashMap<String, u64>>,
}

impl Book {
    /// An order was acknowledged with this status.
    pub fn acknowledged(&self, order_id: &str, status: &str) {
        self.orders.lock().expect("book lock").insert(
            order_id.to_string(),
            OrderTrack {
                status_at_ack: status.to_string(),
                ..OrderTrack::default()
            },
        );
    }

    /// Changes the record of an order (if acknowledged).
    pub fn update(&self, order_id: &str, f: impl FnOnce(&mut OrderTrack)) {
        if let Some(t) = self.orders.lock().expect("book lock").get_mut(order_id) {
            f(t);
        }
    }

    /// Units of `sku` went back on a shelf.
    pub fn restocked(&self, sku: &str, units: u64) {
        *self
            .restocked
            .lock()
            .expect("book lock")
            .entry(sku.to_string())
            .or_default() += units;
    }

    /// Units of `sku` arrived by an applied receipt.
    pub fn received(&self, sku: &str, units: u64) {
        *self
            .received
            .lock()
            .expect("book lock")
            .entry(sku.to_string())
            .or_default() += units;
    }

    /// Units of `sku` received so far.
    pub fn received_units(&self, sku: &str) -> u64 {
        self.received
            .lock()
            .expect("book lock")
            .get(sku)
            .copied()
            .unwrap_or(0)
    }

    /// Units of `sku` restocked so far.
    pub fn restocked_units(&self, sku: &str) -> u64 {
        self.restocked
            .lock()
            .expect("book lock")
            .get(sku)
            .copied()
            .unwrap_or(0)
    }

    /// A copy of every record.
    pub fn orders(&self) -> Vec<(String, OrderTrack)> {
        self.orders
            .lock()
            .expect("book lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// How many orders were acknowledged.
    pub fn len(&self) -> usize {
        self.orders.lock().expect("book lock").len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
