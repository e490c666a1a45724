//! The routing planner: ranks facilities for an order from a possibly
//! stale availability view, by rules that are configuration data.
//!
//! Lower score wins. The score of a facility is
//! `distance_km * distance_per_km + cost * cost_per_fulfillment + capacity_used * capacity_used_weight`.
//! The planner never reserves anything; `placement` turns a plan into
//! reservations and the cells' answers are the truth.

use std::sync::Arc;

use orch_config::{
    geo::haversine_km, FacilityConfig, FacilityKind, RoutingOverride, RoutingRules, RoutingWeights,
    ServiceLevel,
};

use crate::ids::{FacilityIdx, SkuIdx};

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
    /// Relative cost per fulfillment.
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
    /// Lower is better.
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
}

impl Router {
    /// Builds a router for a network. Unknown facility ids in exclusions are
    /// ignored here (config validation rejects them).
    pub fn new(rules: &RoutingRules, facilities: &[FacilityConfig]) -> Router {
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
        }
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

    /// Ranks the allowed facilities for `req` and snapshots their availability.
    pub fn plan(
        &self,
        req: &RouteRequest<'_>,
        facilities: &[FacilityInfo],
        available: impl Fn(SkuIdx, FacilityIdx) -> u32,
    ) -> Plan {
        let rules = self.resolve(req.service_level, req.channel);
        let w = rules.weights;
        let mut candidates: Vec<Candidate> = facilities
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
                let score = km * w.distance_per_km
                    + f.cost * w.cost
                    + f.capacity_used.max(0.0) * w.capacity_used;
                Candidate {
                    facility: f.idx,
                    score,
                }
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.score
                .total_cmp(&b.score)
                .then(a.facility.cmp(&b.facility))
        });
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
    use orch_config::WavePolicy;

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
        let r = Router::new(&rules(), &cfgs);
        let p = r.plan(&req(ServiceLevel::Standard, "web"), &infos(&cfgs), |_, _| 5);
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
        let r = Router::new(&rules, &cfgs);
        let mut info = infos(&cfgs);
        let p = r.plan(&req(ServiceLevel::Standard, "web"), &info, |_, _| 1);
        let ids: Vec<u16> = p.candidates.iter().map(|c| c.facility.0).collect();
        assert_eq!(ids, vec![0, 1]);
        assert_eq!(p.max_splits, 3);
        let p = r.plan(&req(ServiceLevel::SameDay, "web"), &info, |_, _| 1);
        assert_eq!(p.candidates.len(), 1);
        let p = r.plan(&req(ServiceLevel::Standard, "marketplace"), &info, |_, _| 1);
        assert_eq!(p.max_splits, 1);
        info[0].capacity_used = 0.9;
        let p = r.plan(&req(ServiceLevel::Standard, "web"), &info, |_, _| 1);
        assert_eq!(p.candidates[0].facility, FacilityIdx(1), "headroom counts");
        info[1].enabled = false;
        let p = r.plan(&req(ServiceLevel::Standard, "web"), &info, |_, _| 1);
        let ids: Vec<u16> = p.candidates.iter().map(|c| c.facility.0).collect();
        assert_eq!(ids, vec![0]);
    }
}
