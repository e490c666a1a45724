//! Carriers and their services: rate cards by distance band and units,
//! transit days by band, delivery days of the week, and a pickup cutoff per
//! facility. Plain data; rate shopping lives with the decisions
//! (`orch_actors::shipping`).
//!
//! All times are UTC: a cutoff is minutes after midnight UTC, a delivery
//! day a UTC weekday.

use serde::{Deserialize, Serialize};

use crate::model::{FacilityKind, Network};

/// Every carrier the network ships with.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Carriers {
    /// Carriers in id order.
    pub carriers: Vec<CarrierConfig>,
}

/// One carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarrierConfig {
    /// Carrier id (`NWP`), shown on fulfillments and labels.
    pub id: String,
    /// Its services.
    pub services: Vec<ServiceConfig>,
}

/// One service of a carrier (ground, 2-day air, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceConfig {
    /// Service id within the carrier (`ground`).
    pub id: String,
    /// Rate card and transit days by distance, nearest band first; beyond
    /// the last band the service does not deliver.
    pub bands: Vec<RateBand>,
    /// Days of the week it delivers and picks up, Monday first.
    pub delivery_days: [bool; 7],
    /// Pickup cutoff at each facility (by index), minutes after midnight
    /// UTC; `None` where it does not pick up.
    pub cutoffs: Vec<Option<u32>>,
}

/// One distance band of a rate card.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateBand {
    /// Upper end of the band, in km (the band starts where the last ended).
    pub km_max: f64,
    /// Price of a parcel.
    pub base: f64,
    /// Price of each unit in it.
    pub per_unit: f64,
    /// Delivery days after the pickup day (0: delivered the day it ships).
    pub transit_days: u32,
}

/// Monday to Friday.
pub const WEEKDAYS: [bool; 7] = [true, true, true, true, true, false, false];
/// Monday to Saturday.
pub const MON_SAT: [bool; 7] = [true, true, true, true, true, true, false];
/// Every day.
pub const EVERY_DAY: [bool; 7] = [true; 7];

/// Longest transit a service may state.
pub const TRANSIT_DAYS_MAX: u32 = 30;

fn band(km_max: f64, base: f64, per_unit: f64, transit_days: u32) -> RateBand {
    RateBand {
        km_max,
        base,
        per_unit,
        transit_days,
    }
}

/// Cutoffs by facility kind: (DC, store, dark store), `None` for no pickup.
fn cutoffs(net: &Network, by_kind: [Option<u32>; 3]) -> Vec<Option<u32>> {
    net.facilities
        .iter()
        .map(|f| match f.kind {
            FacilityKind::Dc => by_kind[0],
            FacilityKind::Store => by_kind[1],
            FacilityKind::DarkStore => by_kind[2],
        })
        .collect()
}

const fn hm(h: u32, m: u32) -> Option<u32> {
    Some(h * 60 + m)
}

/// The BF-1 carriers for `net`: 3 carriers, 6 services.
///
/// - `NWP` (a national parcel network): ground (Mon-Fri, 1-5 days by
///   distance), 2-day air and next-day air, picked up at DCs and stores;
/// - `BBP` (a postal service): economy ground (Mon-Sat, 2-6 days, the
///   cheapest far away) and priority (1-3 days);
/// - `MTC` (a regional courier): same day within 80 km, every day, picked
///   up at 14:00 from stores and dark stores, 13:00 from DCs.
///
/// Air services pick up later at DCs (19:00) than ground (18:00); stores
/// hand over at 16:00.
pub fn bf1(net: &Network) -> Carriers {
    let bands_km = [50.0, 300.0, 1000.0, 2500.0, 6000.0];
    let card = |base: [f64; 5], per_unit: f64, transit: [u32; 5]| -> Vec<RateBand> {
        (0..5)
            .map(|i| band(bands_km[i], base[i], per_unit, transit[i]))
            .collect()
    };
    let ground_cut = cutoffs(net, [hm(18, 0), hm(16, 0), hm(16, 0)]);
    let air_cut = cutoffs(net, [hm(19, 0), hm(16, 0), None]);
    let post_cut = cutoffs(net, [hm(17, 0), hm(15, 0), hm(15, 0)]);
    let service = |id: &str, bands, delivery_days, cutoffs: &Vec<Option<u32>>| ServiceConfig {
        id: id.to_string(),
        bands,
        delivery_days,
        cutoffs: cutoffs.clone(),
    };
    Carriers {
        carriers: vec![
            CarrierConfig {
                id: "BBP".into(),
                services: vec![
                    service(
                        "economy",
                        card([4.9, 5.6, 6.8, 8.1, 9.6], 0.6, [2, 3, 4, 5, 6]),
                        MON_SAT,
                        &post_cut,
                    ),
                    service(
                        "priority",
                        card([8.5, 9.2, 10.4, 11.9, 13.5], 0.8, [1, 2, 2, 3, 3]),
                        MON_SAT,
                        &post_cut,
                    ),
                ],
            },
            CarrierConfig {
                id: "MTC".into(),
                services: vec![service(
                    "same_day",
                    vec![band(25.0, 8.9, 1.1, 0), band(80.0, 12.9, 1.4, 0)],
                    EVERY_DAY,
                    &cutoffs(net, [hm(13, 0), hm(14, 0), hm(14, 0)]),
                )],
            },
            CarrierConfig {
                id: "NWP".into(),
                services: vec![
                    service(
                        "ground",
                        card([5.4, 6.1, 7.3, 8.6, 10.2], 0.7, [1, 2, 3, 4, 5]),
                        WEEKDAYS,
                        &ground_cut,
                    ),
                    service(
                        "2day",
                        card([11.5, 12.4, 13.8, 15.9, 18.2], 1.1, [1, 2, 2, 2, 2]),
                        WEEKDAYS,
                        &air_cut,
                    ),
                    service(
                        "next_day_air",
                        card([19.9, 21.5, 23.9, 27.4, 31.0], 1.6, [1, 1, 1, 1, 1]),
                        WEEKDAYS,
                        &air_cut,
                    ),
                ],
            },
        ],
    }
}

impl Carriers {
    /// Number of services over all carriers.
    pub fn service_count(&self) -> usize {
        self.carriers.iter().map(|c| c.services.len()).sum()
    }
}

/// Checks carriers against the network; `Err((key, message))` names the
/// dotted key (`carriers[1].services[0].bands[2].km_max`) and what is wrong.
pub fn check(c: &Carriers, facilities: usize) -> Result<(), (String, String)> {
    let mut ids = std::collections::HashSet::new();
    for (i, carrier) in c.carriers.iter().enumerate() {
        let at = |rest: &str| format!("carriers[{i}]{rest}");
        if !crate::validate::is_valid_id(&carrier.id) {
            return Err((
                at(".id"),
                format!("must be a valid id, got {:?}", carrier.id),
            ));
        }
        if !ids.insert(carrier.id.as_str()) {
            return Err((at(".id"), format!("{:?} is listed twice", carrier.id)));
        }
        if carrier.services.is_empty() {
            return Err((at(".services"), "must list at least one service".into()));
        }
        let mut service_ids = std::collections::HashSet::new();
        for (j, s) in carrier.services.iter().enumerate() {
            let at = |rest: &str| at(&format!(".services[{j}]{rest}"));
            if !crate::validate::is_valid_id(&s.id) || !service_ids.insert(s.id.as_str()) {
                return Err((
                    at(".id"),
                    format!("must be a valid id unique in its carrier, got {:?}", s.id),
                ));
            }
            if s.bands.is_empty() {
                return Err((at(".bands"), "must list at least one distance band".into()));
            }
            let mut last = 0.0;
            for (k, b) in s.bands.iter().enumerate() {
                let at = |field: &str| at(&format!(".bands[{k}].{field}"));
                if !(b.km_max.is_finite() && b.km_max > last) {
                    return Err((
                        at("km_max"),
                        format!(
                            "must be above the previous band's {last} km, got {}",
                            b.km_max
                        ),
                    ));
                }
                last = b.km_max;
                for (name, v) in [("base", b.base), ("per_unit", b.per_unit)] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err((at(name), format!("must be a price of 0 or more, got {v}")));
                    }
                }
                if b.transit_days > TRANSIT_DAYS_MAX {
                    return Err((
                        at("transit_days"),
                        format!("must be at most {TRANSIT_DAYS_MAX}, got {}", b.transit_days),
                    ));
                }
            }
            if !s.delivery_days.iter().any(|&d| d) {
                return Err((at(".delivery_days"), "must name at least one day".into()));
            }
            if s.cutoffs.len() != facilities {
                return Err((
                    at(".cutoffs"),
                    format!(
                        "must have one entry per facility ({facilities}), got {}",
                        s.cutoffs.len()
                    ),
                ));
            }
            if let Some((f, m)) = s
                .cutoffs
                .iter()
                .enumerate()
                .find_map(|(f, m)| m.filter(|&m| m >= 1440).map(|m| (f, m)))
            {
                return Err((
                    at(&format!(".cutoffs[{f}]")),
                    format!("must be a time of day, got minute {m}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bf1::{generate, Bf1Params};

    #[test]
    fn bf1_has_three_carriers_six_services_that_check() {
        let net = generate(&Bf1Params {
            scale: 0.01,
            ..Bf1Params::default()
        });
        let c = bf1(&net);
        assert_eq!(c.carriers.len(), 3);
        assert_eq!(c.service_count(), 6);
        check(&c, net.facilities.len()).unwrap();
    }

    #[test]
    fn a_bad_rate_card_names_its_key() {
        let net = generate(&Bf1Params {
            scale: 0.01,
            ..Bf1Params::default()
        });
        let n = net.facilities.len();
        let mut c = bf1(&net);
        c.carriers[2].services[1].bands[3].km_max = 10.0;
        let (key, msg) = check(&c, n).unwrap_err();
        assert_eq!(key, "carriers[2].services[1].bands[3].km_max");
        assert!(msg.contains("previous band"), "{msg}");
        let mut c = bf1(&net);
        c.carriers[0].services[0].bands[0].per_unit = -1.0;
        assert_eq!(
            check(&c, n).unwrap_err().0,
            "carriers[0].services[0].bands[0].per_unit"
        );
        let mut c = bf1(&net);
        c.carriers[1].services[0].cutoffs[2] = Some(1440);
        assert_eq!(
            check(&c, n).unwrap_err().0,
            "carriers[1].services[0].cutoffs[2]"
        );
        let mut c = bf1(&net);
        c.carriers[1].services[0].delivery_days = [false; 7];
        assert_eq!(
            check(&c, n).unwrap_err().0,
            "carriers[1].services[0].delivery_days"
        );
        assert_eq!(
            check(&bf1(&net), n + 1).unwrap_err().0,
            "carriers[0].services[0].cutoffs"
        );
    }
}
