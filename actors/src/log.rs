//! What the journal holds: the events no other actor's events imply.
//!
//! Orders are the source of truth for everything they cause: an order's
//! `Routed`, `BackorderFilled`, `Scanned` and `Cancelled` events imply the
//! cells' reservations, picks, releases and restocks, the facilities' queue
//! changes and the desks' queues ([`crate::replay`] derives them). Only what
//! no order records is journaled by the other actors: stock received and
//! cycle counts (cells, with their idempotency ids), wave releases and
//! routing status (facilities).
//!
//! Why: each order journals its event *before* any change it causes can
//! make stock available to others (cancel, restocked return), or after the
//! changes that only take stock away (reservations, picks). So any prefix of
//! the journal, which is what a crash leaves, replays to a state where no
//! acknowledged reservation depends on a change that was lost, and nothing
//! needs reconciling across actors.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cell::CellEvent;
use crate::facility::FacilityEvent;
use crate::hold::{HoldEvent, HoldNo};
use crate::ids::{CellKey, FacilityIdx, OrderNo};
use crate::order::OrderEvent;

/// One journaled event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LogEntry {
    /// An order's event (`Placed` is always followed by its `Routed`).
    Order(OrderNo, OrderEvent),
    /// Stock received at a cell, with the receipt id that made it.
    Received {
        /// The cell.
        cell: CellKey,
        /// Units.
        qty: u32,
        /// Idempotency key.
        receipt_id: Arc<str>,
    },
    /// A cycle count at a cell, with its adjustment id.
    Adjusted {
        /// The cell.
        cell: CellKey,
        /// The count's event (applied as a difference).
        event: CellEvent,
        /// Idempotency key.
        adjustment_id: Arc<str>,
    },
    /// A facility's own event: `WaveReleased` or `StatusSet`.
    Facility(FacilityIdx, FacilityEvent),
    /// A hold's event (last, so that journals written before holds keep
    /// decoding). The hold record is the source of truth for the cells'
    /// held units, as an order is for its reservations: `Created` implies
    /// `Held` at every cell it names, `Released`, `Expired` and `Converted`
    /// imply `Unheld` (a converting order's `Routed`, journaled after it,
    /// implies the reservations it took).
    Hold(HoldNo, HoldEvent),
}
