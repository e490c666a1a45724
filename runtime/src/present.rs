//! Turns states into the API's answers (ids back to strings, times to RFC 3339).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use orch_actors::facility::{FacilityState, Wave};
use orch_actors::order::OrderState;
use orch_actors::shipping::{date_string, ShipPlan};
use orch_actors::FacilityIdx;
use orch_config::Millis;

use crate::catalog::Catalog;
use crate::clock::rfc3339;
use crate::dto::{
    FacilityView, FulfillmentView, LineView, OrderView, PickTaskView, ShipPlanView, TimelineView,
    WaveView,
};
use crate::view::FacilityBoard;

/// An order as the API answers it; `timeline` only when asked.
pub fn order_view(catalog: &Catalog, s: &OrderState, timeline: bool) -> OrderView {
    let id = &s.request().order_id;
    let fid = |n: u16| format!("{id}/{n}");
    OrderView {
        order_id: id.to_string(),
        status: s.status().as_str().into(),
        reason: s.rejected().map(str::to_string),
        channel: s.request().channel.to_string(),
        service_level: s.request().service_level.as_str().into(),
        fulfillments: s
            .fulfillments()
            .iter()
            .map(|f| FulfillmentView {
                fulfillment_id: fid(f.n),
                facility_id: catalog.facility_config(f.facility).id.clone(),
                status: f.status.as_str().into(),
                wave_id: f.wave_id.as_deref().map(str::to_string),
                carrier: f
                    .carrier
                    .as_deref()
                    .or(f.ship.as_ref().map(|p| &*p.carrier))
                    .map(str::to_string),
                tracking: f.tracking.as_deref().map(str::to_string),
                ship: ship_plan_view(f.ship.as_ref()),
                lines: f
                    .lines
                    .iter()
                    .map(|l| LineView {
                        sku: catalog.sku_id(l.sku).to_string(),
                        qty: l.qty,
                    })
                    .collect(),
            })
            .collect(),
        backordered: s
            .backordered()
            .iter()
            .map(|&l| {
                let line = s.request().lines[usize::from(l)];
                LineView {
                    sku: catalog.sku_id(line.sku).to_string(),
                    qty: line.qty,
                }
            })
            .collect(),
        timeline: if timeline {
            s.timeline()
                .iter()
                .map(|t| TimelineView {
                    at: rfc3339(t.at),
                    event: t.what.to_string(),
                    fulfillment_id: t.fulfillment.map(fid),
                    event_id: t.event_id.as_deref().map(str::to_string),
                    carrier: t.ship.as_ref().map(|p| p.carrier.to_string()),
                    ship: t.ship.as_ref().map(|p| ship_plan_view(Some(p))),
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// A ship plan as the API answers it (all `null` for none).
pub fn ship_plan_view(plan: Option<&ShipPlan>) -> ShipPlanView {
    plan.map_or_else(ShipPlanView::default, |p| ShipPlanView {
        service: Some(p.service.to_string()),
        shipping_cost: Some((p.shipping_cost * 100.0).round() / 100.0),
        ship_by: Some(rfc3339(p.ship_by)),
        promised_delivery_date: Some(date_string(p.delivery_day)),
        service_level_met: p.service_level_met,
    })
}

/// A facility as the API answers it, from its published board.
pub fn facility_view(
    catalog: &Catalog,
    b: &FacilityBoard,
    f: FacilityIdx,
    now: Millis,
) -> FacilityView {
    let cfg = catalog.facility_config(f);
    let until = b.disabled_until.load(Ordering::Acquire);
    FacilityView {
        facility_id: cfg.id.clone(),
        kind: cfg.kind.as_str().into(),
        lat: cfg.lat,
        lon: cfg.lon,
        enabled: b.enabled_at(now),
        disabled_until: (until != 0 && until > now).then(|| rfc3339(until)),
        queued_fulfillments: b.queued.load(Ordering::Relaxed),
        open_waves: b.open_waves.load(Ordering::Relaxed),
        released_today: b.released_today.load(Ordering::Relaxed),
        capacity_left: b.capacity_left.load(Ordering::Relaxed),
    }
}

/// A released wave (or none) as the API answers it; `order_id` names the
/// orders of its fulfillments.
pub fn wave_view(
    catalog: &Catalog,
    f: FacilityIdx,
    wave: Option<&Wave>,
    order_id: impl Fn(orch_actors::OrderNo) -> Option<Arc<str>>,
) -> WaveView {
    let Some(w) = wave else {
        return WaveView {
            wave_id: None,
            trigger: None,
            fulfillment_ids: Vec::new(),
            pick_list: Vec::new(),
        };
    };
    let zones = &catalog.facility_config(f).zones;
    let fid = |r: &orch_actors::FulfillmentRef| {
        let name = order_id(r.order);
        format!("{}/{}", name.as_deref().unwrap_or("?"), r.n)
    };
    WaveView {
        wave_id: Some(w.wave_id.to_string()),
        trigger: Some(w.trigger.as_str().into()),
        fulfillment_ids: w.fulfillments.iter().map(fid).collect(),
        pick_list: w
            .pick_list
            .iter()
            .map(|t| PickTaskView {
                zone: zones.get(usize::from(t.zone)).cloned().unwrap_or_default(),
                bin: t.bin,
                sku: catalog.sku_id(t.sku).to_string(),
                qty: t.qty,
                fulfillment_id: fid(&t.fulfillment),
            })
            .collect(),
    }
}

/// A facility as the API answers it, from its state (the engine host).
pub fn facility_state_view(catalog: &Catalog, s: &FacilityState, now: Millis) -> FacilityView {
    let cfg = catalog.facility_config(s.idx());
    FacilityView {
        facility_id: cfg.id.clone(),
        kind: cfg.kind.as_str().into(),
        lat: cfg.lat,
        lon: cfg.lon,
        enabled: s.enabled_at(now),
        disabled_until: s.disabled_until().filter(|&u| u > now).map(rfc3339),
        queued_fulfillments: u32::try_from(s.queued()).unwrap_or(u32::MAX),
        open_waves: u32::try_from(s.open_waves()).unwrap_or(u32::MAX),
        released_today: s.released_today(),
        capacity_left: s.capacity_left(),
    }
}

/// A page of the catalog in id order (`GET /v1/skus`): up to `limit`
/// (1 to 1000) ids after `after`, and the id to ask after next (`None`
/// on the last page).
pub fn sku_page(
    catalog: &Catalog,
    limit: usize,
    after: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let all = catalog.skus();
    let start = match after {
        Some(a) => all.partition_point(|s| &**s <= a),
        None => 0,
    };
    let limit = limit.clamp(1, 1000);
    let page: Vec<String> = all[start..]
        .iter()
        .take(limit)
        .map(|s| s.to_string())
        .collect();
    let next = (start + page.len() < all.len())
        .then(|| page.last().cloned())
        .flatten();
    (page, next)
}
