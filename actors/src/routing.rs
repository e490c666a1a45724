//! The routing planner: ranks facilities for an order from a possibly
//! stale availability view, by rules that are configuration data.
//!
//! Lower score wins. The score of a facility is
//! `distance_km * distance_per_km + shipping_cost * cost + capacity_used * capacity_used`
//! (the weights of [`RoutingWeights`]), where `shipping_cost` is what rate
//! shopping ([`crate::shipping::shop`]) charges to ship the order's units at
//! its service level from that facility, handed over at the facility's next
//! pickup cutoff after the decision's `now`. The `cost` weight thus prices
//! the parcel, not a flat per-facility figure.
//!
//! A facility from which no carrier service ships to the destination is
//! never dropped: it is ranked after every facility that can ship (among
//! themselves by the same score with the facility's configured
//! `cost_per_fulfillment` in place of a shipping cost), and a fulfillment
//! made there carries no ship plan.
//!
//! The planner never reserves anything; `placement` turns a plan into
//! reservations and the cells' answers are the truth.

use std::sync::Arc;

use orch_config::carriers::Carriers;
use orch_config::{
    geo::haversine_km, FacilityConfig, FacilityKind, Millis, RoutingOverride, RoutingRules,
    RoutingWeights, ServiceLevel,
};

use crate::ids::{FacilityIdx, SkuIdx};
use crate::shipping::Rates;

/// What the router knows of a facility at the moment of a decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FacilityInfo {
    /// The facility.
    pub idx: FacilityIdx,
    /// Its kind.
    pub kind: FacilityKind,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Configured cost per fulfillment: the shipping-cost stand-in where
    /// no carrier service ships.
    pub cost: f64,
    /// Whether routing may use it now.
    pub enabled: bool,
    /// Share of this hour's capacity already used, 0.0..=1.0 (may exceed 1).
    pub capacity_used: f64,
}

impl FacilityInfo {
    /// The static part of every facility of a network, by index.
    pub fn all(facilities: &[FacilityConfig]) -> Vec<FacilityInfo> {
        facilities
            .iter()
            .enumerate()
            .map(|(i, f)| FacilityInfo::from_config(FacilityIdx(i as u16), f))
            .collect()
    }

    /// The static part of a facility from its configuration (enabled as configured, nothing used).
    pub fn from_config(idx: FacilityIdx, f: &FacilityConfig) -> FacilityInfo {
        FacilityInfo {
            idx,
            kind: f.kind,
            lat: f.lat,
            lon: f.lon,
            cost: f.cost_per_fulfillment,
            enabled: f.enabled,
            capacity_used: 0.0,
        }
    }
}

/// The order as the router sees it.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    /// (sku, qty) per line, in line order.
    pub lines: &'a [(SkuIdx, u32)],
    /// Ship-to latitude.
    pub lat: f64,
    /// Ship-to longitude.
    pub lon: f64,
    /// Service level.
    pub service_level: ServiceLevel,
    /// Sales channel.
    pub channel: &'a str,
}

/// One facility the order may ship from, with its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The facility.
    pub facility: FacilityIdx,
    /// Lower is better (among facilities that can ship, or among those that cannot).
    pub score: f64,
}

/// A ranked plan and the availability snapshot it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Allowed facilities, best first.
    pub candidates: Vec<Candidate>,
    /// `available[c * lines + l]`: units of line `l`'s SKU at candidate `c`, per the view.
    pub available: Vec<u32>,
    /// Most fulfillments the order may be split into.
    pub max_splits: u32,
    /// Score added per fulfillment beyond the first.
    pub split_penalty: f64,
}

/// Rules resolved once per service level and channel.
#[derive(Debug, Clone)]
struct Resolved {
    weights: RoutingWeights,
    max_splits: u32,
    excluded: Vec<bool>,
    excluded_kinds: Vec<FacilityKind>,
}

/// Ranks facilities by the configured rules.
#[derive(Debug, Clone)]
pub struct Router {
    base: Resolved,
    by_level: Vec<(ServiceLevel, RoutingOverride)>,
    by_channel: Vec<(Arc<str>, RoutingOverride)>,
    facility_ids: Vec<String>,
    rates: Rates,
}

impl Router {
    /// Builds a router for a network. Unknown facility ids in exclusions are
    /// ignored here (config validation rejects them). `carriers` price
    /// the shipping of each candidate.
    pub fn new(rules: &RoutingRules, facilities: &[FacilityConfig], carriers: &Carriers) -> Router {
        let facility_ids: Vec<String> = facilities.iter().map(|f| f.id.clone()).collect();
        let mut excluded = vec![false; facilities.len()];
        mark_excluded(&mut excluded, &facility_ids, &rules.excluded_facilities);
        Router {
            base: Resolved {
                weights: rules.weights,
                max_splits: rules.max_splits.max(1),
                excluded,
                excluded_kinds: Vec::new(),
            },
            by_level: rules.by_service_level.clone(),
            by_channel: rules
                .by_channel
                .iter()
                .map(|(c, o)| (Arc::from(c.as_str()), o.clone()))
                .collect(),
            facility_ids,
            rates: Rates::new(carriers, facilities),
        }
    }

    /// Rate shopping for the network this router plans on.
    pub fn rates(&self) -> &Rates {
        &self.rates
    }

    fn resolve(&self, level: ServiceLevel, channel: &str) -> std::borrow::Cow<'_, Resolved> {
        let level_o = self
            .by_level
            .iter()
            .find(|(l, _)| *l == level)
            .map(|x| &x.1);
        let chan_o = self
            .by_channel
            .iter()
            .find(|(c, _)| &**c == channel)
            .map(|x| &x.1);
        if level_o.is_none() && chan_o.is_none() {
            return std::borrow::Cow::Borrowed(&self.base);
        }
        let mut r = self.base.clone();
        for o in [level_o, chan_o].into_iter().flatten() {
            if let Some(w) = o.weights {
                r.weights = w;
            }
            if let Some(m) = o.max_splits {
                r.max_splits = m.max(1);
            }
            mark_excluded(&mut r.excluded, &self.facility_ids, &o.excluded_facilities);
            r.excluded_kinds.extend(o.excluded_kinds.iter().copied());
        }
        std::borrow::Cow::Owned(r)
    }

    /// Ranks the allowed facilities for `req`, shipping priced as handed
    /// over after `now`, and snapshots their availability.
    pub fn plan(
        &self,
        req: &RouteRequest<'_>,
        facilities: &[FacilityInfo],
        now: Millis,
        available: impl Fn(SkuIdx, FacilityIdx) -> u32,
    ) -> Plan {
        let rules = self.resolve(req.service_level, req.channel);
        let w = rules.weights;
        let units: u32 = req.lines.iter().map(|l| l.1).sum();
        let carriers = self.rates.carriers();
        let mut ranked: Vec<(bool, Candidate)> = facilities
            .iter()
            .filter(|f| {
                f.enabled
                    && !rules
                        .excluded
                        .get(usize::from(f.idx.0))
                        .copied()
                        .unwrap_or(false)
                    && !rules.excluded_kinds.contains(&f.kind)
            })
            .map(|f| {
                let km = haversine_km(f.lat, f.lon, req.lat, req.lon);
                let shipping = crate::shipping::shop(
                    carriers,
                    usize::from(f.idx.0),
                    km,
                    units,
                    req.service_level,
                    now,
                )
                .map(|c| c.quote.cost);
                let score = km * w.distance_per_km
                    + shipping.unwrap_or(f.cost) * w.cost
                    + f.capacity_used.max(0.0) * w.capacity_used;
                (
                    shipping.is_none(),
                    Candidate {
                        facility: f.idx,
                        score,
                    },
                )
            })
            .collect();
        ranked.sort_by(|(ua, a), (ub, b)| {
            ua.cmp(ub)
                .then(a.score.total_cmp(&b.score))
                .then(a.facility.cmp(&b.facility))
        });
        let candidates: Vec<Candidate> = ranked.into_iter().map(|(_, c)| c).collect();
        let mut avail = Vec::with_capacity(candidates.len() * req.lines.len());
        for c in &candidates {
            for &(sku, _) in req.lines {
                avail.push(available(sku, c.facility));
            }
        }
        Plan {
            candidates,
            available: avail,
            max_splits: rules.max_splits,
            split_penalty: w.split_penalty,
        }
    }
}

fn mark_excluded(excluded: &mut [bool], ids: &[String], names: &[String]) {
    for name in names {
        if let Some(i) = ids.iter().position(|id| id == name) {
            excluded[i] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_config::carriers::{CarrierConfig, RateBand, ServiceConfig, EVERY_DAY};
    use orch_config::WavePolicy;

    /// 2026-11-27 00:00 UTC.
    const DAY0: Millis = 20_784 * 86_400_000;
    const HOUR: Millis = 3_600_000;

    /// A service with one band out to 10,000 km, delivering every day.
    fn service(id: &str, base: f64, transit_days: u32, cutoffs: Vec<Option<u32>>) -> ServiceConfig {
        ServiceConfig {
            id: id.into(),
            bands: vec![RateBand {
                km_max: 10_000.0,
                base,
                per_unit: 0.0,
                transit_days,
            }],
            delivery_days: EVERY_DAY,
            cutoffs,
        }
    }

    fn carriers(services: Vec<ServiceConfig>) -> Carriers {
        Carriers {
            carriers: vec![CarrierConfig {
                id: "C".into(),
                services,
            }],
        }
    }

    fn no_carriers() -> Carriers {
        Carriers::default()
    }

    fn fac(id: &str, kind: FacilityKind, lat: f64, lon: f64, cost: f64) -> FacilityConfig {
        FacilityConfig {
            id: id.into(),
            kind,
            lat,
            lon,
            capacity_per_hour: 100,
            cost_per_fulfillment: cost,
            zones: vec!["A".into()],
            wave: WavePolicy {
                size_max: 10,
                wait_ms_max: 1000,
            },
            cutoffs: vec![],
            enabled: true,
        }
    }

    fn rules() -> RoutingRules {
        RoutingRules {
            weights: RoutingWeights {
                distance_per_km: 0.01,
                cost: 1.0,
                capacity_used: 2.0,
                split_penalty: 5.0,
            },
            max_splits: 3,
            excluded_facilities: vec![],
            by_service_level: vec![],
            by_channel: vec![],
        }
    }

    fn infos(cfgs: &[FacilityConfig]) -> Vec<FacilityInfo> {
        FacilityInfo::all(cfgs)
    }

    const LINES: &[(SkuIdx, u32)] = &[(SkuIdx(0), 1)];

    fn req(level: ServiceLevel, channel: &str) -> RouteRequest<'_> {
        RouteRequest {
            lines: LINES,
            lat: 40.0,
            lon: -74.0,
            service_level: level,
            channel,
        }
    }

    #[test]
    fn nearest_wins_at_equal_cost() {
        let cfgs = vec![
            fac("FAR", FacilityKind::Dc, 34.0, -118.0, 1.0),
            fac("NEAR", FacilityKind::Dc, 40.5, -74.2, 1.0),
        ];
        let r = Router::new(&rules(), &cfgs, &no_carriers());
        let p = r.plan(
            &req(ServiceLevel::Standard, "web"),
            &infos(&cfgs),
            DAY0,
            |_, _| 5,
        );
        assert_eq!(p.candidates[0].facility, FacilityIdx(1));
        assert_eq!(p.available, vec![5, 5]);
    }

    #[test]
    fn disabled_excluded_and_busy_facilities_are_handled() {
        let cfgs = vec![
            fac("A", FacilityKind::Dc, 40.0, -74.0, 1.0),
            fac("B", FacilityKind::Store, 40.0, -74.0, 1.0),
            fac("C", FacilityKind::Dc, 40.0, -74.0, 1.0),
        ];
        let mut rules = rules();
        rules.excluded_facilities = vec!["C".into()];
        rules.by_service_level = vec![(
            ServiceLevel::SameDay,
            RoutingOverride {
                excluded_kinds: vec![FacilityKind::Store],
                ..Default::default()
            },
        )];
        rules.by_channel = vec![(
            "marketplace".into(),
            RoutingOverride {
                max_splits: Some(1),
                ..Default::default()
            },
        )];
        let r = Router::new(&rules, &cfgs, &no_carriers());
        let mut info = infos(&cfgs);
        let p = r.plan(&req(ServiceLevel::Standard, "web"), &info, DAY0, |_, _| 1);
        let ids: Vec<u16> = p.candidates.iter().map(|c| c.facility.0).collect();
        assert_eq!(ids, vec![0, 1]);
        assert_eq!(p.max_splits, 3);
        let p = r.plan(&req(ServiceLevel::SameDay, "web"), &info, DAY0, |_, _| 1);
        assert_eq!(p.candidates.len(), 1);
        let p = r.plan(
            &req(ServiceLevel::Standard, "marketplace"),
            &info,
            DAY0,
            |_, _| 1,
        );
        assert_eq!(p.max_splits, 1);
        info[0].capacity_used = 0.9;
        let p = r.plan(&req(ServiceLevel::Standard, "web"), &info, DAY0, |_, _| 1);
        assert_eq!(p.candidates[0].facility, FacilityIdx(1), "headroom counts");
        info[1].enabled = false;
        let p = r.plan(&req(ServiceLevel::Standard, "web"), &info, DAY0, |_, _| 1);
        let ids: Vec<u16> = p.candidates.iter().map(|c| c.facility.0).collect();
        assert_eq!(ids, vec![0]);
    }

    #[test]
    fn shipping_cost_outweighs_distance_when_the_weights_say_so() {
        let cfgs = vec![
            fac("FAR", FacilityKind::Dc, 38.0, -77.0, 1.0),
            fac("NEAR", FacilityKind::Dc, 40.1, -74.1, 1.0),
        ];
        let c = carriers(vec![
            service("cheap", 4.0, 1, vec![Some(18 * 60), None]),
            service("dear", 15.0, 1, vec![None, Some(18 * 60)]),
        ]);
        let at = DAY0 + 9 * HOUR;
        let r = Router::new(&rules(), &cfgs, &c);
        let p = r.plan(
            &req(ServiceLevel::Standard, "web"),
            &infos(&cfgs),
            at,
            |_, _| 1,
        );
        let ids: Vec<u16> = p.candidates.iter().map(|c| c.facility.0).collect();
        assert_eq!(ids, vec![0, 1], "about 300 km cost 3, the parcel 11 more");
        let (far, near) = (p.candidates[0].score, p.candidates[1].score);
        assert!(far < near);
        let mut heavy = rules();
        heavy.weights.distance_per_km = 1.0;
        let r = Router::new(&heavy, &cfgs, &c);
        let p = r.plan(
            &req(ServiceLevel::Standard, "web"),
            &infos(&cfgs),
            at,
            |_, _| 1,
        );
        assert_eq!(
            p.candidates[0].facility,
            FacilityIdx(1),
            "distance dominates"
        );
    }

    #[test]
    fn a_cutoff_just_passed_moves_the_choice() {
        let cfgs = vec![
            fac("A", FacilityKind::Store, 40.0, -74.0, 1.0),
            fac("B", FacilityKind::Store, 40.0, -74.0, 1.0),
        ];
        // Same day: A's courier (5) picks up at 12:00, its express (20) at
        // 18:00; B only has an express at 12.
        let c = carriers(vec![
            service("courier", 5.0, 0, vec![Some(12 * 60), None]),
            service("express", 20.0, 0, vec![Some(18 * 60), None]),
            service("express_b", 12.0, 0, vec![None, Some(18 * 60)]),
        ]);
        let r = Router::new(&rules(), &cfgs, &c);
        let first = |now| {
            r.plan(
                &req(ServiceLevel::SameDay, "web"),
                &infos(&cfgs),
                now,
                |_, _| 1,
            )
            .candidates[0]
                .facility
        };
        let cutoff = DAY0 + 12 * HOUR;
        assert_eq!(first(cutoff - 1), FacilityIdx(0));
        assert_eq!(first(cutoff), FacilityIdx(1), "A now needs its express");
    }

    #[test]
    fn a_facility_no_service_ships_from_is_ranked_last_not_dropped() {
        let cfgs = vec![
            fac("NONE", FacilityKind::Dc, 40.0, -74.0, 0.0),
            fac("FAR", FacilityKind::Dc, 34.0, -118.0, 1.0),
            fac("MID", FacilityKind::Dc, 38.0, -77.0, 1.0),
        ];
        let c = carriers(vec![service(
            "ground",
            30.0,
            3,
            vec![None, Some(18 * 60), Some(18 * 60)],
        )]);
        let r = Router::new(&rules(), &cfgs, &c);
        let p = r.plan(
            &req(ServiceLevel::Standard, "web"),
            &infos(&cfgs),
            DAY0,
            |_, _| 1,
        );
        let ids: Vec<u16> = p.candidates.iter().map(|c| c.facility.0).collect();
        assert_eq!(ids, vec![2, 1, 0]);
        assert_eq!(p.available.len(), 3);
        assert!(r
            .rates()
            .plan(FacilityIdx(0), 40.0, -74.0, 1, ServiceLevel::Standard, DAY0)
            .is_none());
    }
}
