//! Holds as the API answers them.

use orch_actors::hold::HoldState;

use crate::catalog::Catalog;
use crate::clock::rfc3339;
use crate::dto::{HeldAtView, HoldView, LineView};

/// The API's view of a hold.
pub(crate) fn hold_view(catalog: &Catalog, h: &HoldState) -> HoldView {
    let line = |l: u16| {
        let ol = h.request().lines[usize::from(l)];
        LineView {
            sku: catalog.sku_id(ol.sku).to_string(),
            qty: ol.qty,
        }
    };
    let active = h.status() == orch_actors::hold::HoldStatus::Active;
    HoldView {
        hold_id: h.request().hold_id.to_string(),
        status: h.status().as_str().into(),
        expires_at: rfc3339(h.expires_at()),
        holds: if active {
            h.held()
                .iter()
                .map(|(f, lines)| HeldAtView {
                    facility_id: catalog.facility_config(*f).id.clone(),
                    lines: lines.iter().map(|&l| line(l)).collect(),
                })
                .collect()
        } else {
            Vec::new()
        },
        unavailable: h.unavailable().iter().map(|&l| line(l)).collect(),
    }
}
