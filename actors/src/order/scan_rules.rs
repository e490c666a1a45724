//! The scan table: for each scan kind, the fulfillment statuses it is
//! accepted in, the status it leaves behind, where it must be scanned, and
//! the refusal in every other status. [`transition`] answers one
//! (kind, status) pair from it; docs/api.md ("Scan events") prints the same
//! table and a test holds the two together.

use super::{FulfillmentStatus, ScanKind};

use FulfillmentStatus as S;

/// The status an accepted scan leaves its fulfillment in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Always this status.
    To(FulfillmentStatus),
    /// `returned` once every picked unit of every line is back, else
    /// `delivered`.
    ReturnedOnceAllBack,
}

impl Next {
    /// The status for a fulfillment whose units are `all_back` (every
    /// picked unit returned) after the scan.
    pub fn status(self, all_back: bool) -> FulfillmentStatus {
        match self {
            Next::To(s) => s,
            Next::ReturnedOnceAllBack if all_back => S::Returned,
            Next::ReturnedOnceAllBack => S::Delivered,
        }
    }
}

/// One row of the table: what one scan kind may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanRule {
    /// The kind.
    pub kind: ScanKind,
    /// The statuses it is accepted in (its own checks aside: fields,
    /// quantities, every line picked for `pack`).
    pub from: &'static [FulfillmentStatus],
    /// Where it takes the fulfillment.
    pub next: Next,
    /// Whether it must be scanned at the fulfillment's own facility
    /// (warehouse scans); carrier scans and returns come from anywhere.
    pub own_facility: bool,
    /// The refusal in any other status: this text, a space, the status.
    pub refused: &'static str,
}

/// The table, one row per kind in the order of [`ScanKind::ALL`].
pub const SCAN_RULES: [ScanRule; 8] = [
    ScanRule {
        kind: ScanKind::Pick,
        from: &[S::Released, S::Picking],
        next: Next::To(S::Picking),
        own_facility: true,
        refused: "cannot pick: fulfillment is",
    },
    ScanRule {
        kind: ScanKind::Pack,
        from: &[S::Released, S::Picking],
        next: Next::To(S::Packed),
        own_facility: true,
        refused: "cannot pack:",
    },
    ScanRule {
        kind: ScanKind::Ship,
        from: &[S::Packed],
        next: Next::To(S::Shipped),
        own_facility: true,
        refused: "cannot ship: fulfillment is",
    },
    ScanRule {
        kind: ScanKind::InTransit,
        from: &[S::Shipped, S::InTransit, S::Exception],
        next: Next::To(S::InTransit),
        own_facility: false,
        refused: "cannot be in transit: fulfillment is",
    },
    ScanRule {
        kind: ScanKind::OutForDelivery,
        from: &[S::Shipped, S::InTransit, S::Exception],
        next: Next::To(S::OutForDelivery),
        own_facility: false,
        refused: "cannot be out for delivery: fulfillment is",
    },
    ScanRule {
        kind: ScanKind::Delivered,
        from: &[S::Shipped, S::InTransit, S::OutForDelivery, S::Exception],
        next: Next::To(S::Delivered),
        own_facility: false,
        refused: "cannot deliver: fulfillment is",
    },
    ScanRule {
        kind: ScanKind::DeliveryException,
        from: &[S::Shipped, S::InTransit, S::OutForDelivery],
        next: Next::To(S::Exception),
        own_facility: false,
        refused: "cannot raise an exception: fulfillment is",
    },
    ScanRule {
        kind: ScanKind::ReturnReceived,
        from: &[S::Delivered, S::Returned],
        next: Next::ReturnedOnceAllBack,
        own_facility: false,
        refused: "cannot return: fulfillment is",
    },
];

// Row `i` is the rule of the kind whose discriminant is `i`, so `rule` can index.
const _: () = {
    let mut i = 0;
    while i < SCAN_RULES.len() {
        assert!(SCAN_RULES[i].kind as usize == i);
        assert!(ScanKind::ALL[i] as usize == i);
        i += 1;
    }
};

/// The table's row for `kind`.
pub fn rule(kind: ScanKind) -> &'static ScanRule {
    &SCAN_RULES[kind as usize]
}

/// The table's answer for a scan of `kind` on a fulfillment in `status`:
/// where it goes, or the refusal naming the status.
pub fn transition(kind: ScanKind, status: FulfillmentStatus) -> Result<Next, String> {
    let r = rule(kind);
    if r.from.contains(&status) {
        Ok(r.next)
    } else {
        Err(format!("{} {}", r.refused, status.as_str()))
    }
}
