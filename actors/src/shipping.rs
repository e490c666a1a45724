//! Rate shopping and the delivery promise: which carrier service ships a
//! fulfillment, what it costs, when it must leave (`ship_by`) and the date
//! promised to the customer.
//!
//! From a facility, at `now`: each service that picks up there and
//! reaches the destination's distance band ships at its next pickup cutoff
//! (on one of its days), and delivers after its band's transit days,
//! counted in its delivery days. The choice is the cheapest service whose
//! delivery meets the order's service level; when none does, the one that
//! delivers first (`meets_level: false`).
//!
//! Service level deadlines, from the UTC day of `now`: `same_day` today;
//! `next_day` the next day that is not a Sunday; `standard` the fifth
//! weekday after today. A delivery by an earlier deadline meets the later
//! ones too.
//!
//! Plain functions of their inputs: no clock, no I/O.

use std::sync::Arc;

use orch_config::carriers::{Carriers, ServiceConfig};
use orch_config::{geo::haversine_km, FacilityConfig, Millis, ServiceLevel};
use serde::{Deserialize, Serialize};

use crate::ids::FacilityIdx;

/// A day in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// Days since 1970-01-01 (UTC) of an instant.
pub fn day_of(at: Millis) -> u64 {
    at / DAY_MS
}

/// Weekday of a day, Monday = 0 (1970-01-01 was a Thursday).
pub fn weekday(day: u64) -> usize {
    ((day + 3) % 7) as usize
}

/// `YYYY-MM-DD` of a day (proleptic Gregorian, UTC).
pub fn date_string(day: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The last day a delivery meets `level` for an order of `today`.
pub fn deadline(level: ServiceLevel, today: u64) -> u64 {
    match level {
        ServiceLevel::SameDay => today,
        ServiceLevel::NextDay => {
            let next = today + 1;
            if weekday(next) == 6 {
                next + 1
            } else {
                next
            }
        }
        ServiceLevel::Standard => {
            let mut day = today;
            let mut weekdays = 0;
            while weekdays < 5 {
                day += 1;
                if weekday(day) < 5 {
                    weekdays += 1;
                }
            }
            day
        }
    }
}

/// What one service would do for one fulfillment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    /// Index of the carrier in [`Carriers::carriers`].
    pub carrier: usize,
    /// Index of the service in that carrier's services.
    pub service: usize,
    /// Price of the parcel.
    pub cost: f64,
    /// The pickup cutoff it must be ready by.
    pub ship_by: Millis,
    /// The day it is delivered (days since the epoch).
    pub delivery_day: u64,
}

/// The service chosen for a fulfillment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// The quote of the service chosen.
    pub quote: Quote,
    /// Whether it delivers by the service level's deadline.
    pub meets_level: bool,
}

/// What `service` would do from facility `facility` for a parcel of `units`
/// going `distance_km`, handed over no earlier than `now`. `None` when it
/// does not pick up there or does not reach that far.
pub fn quote_service(
    s: &ServiceConfig,
    facility: usize,
    distance_km: f64,
    units: u32,
    now: Millis,
) -> Option<(f64, Millis, u64)> {
    let band = s.bands.iter().find(|b| distance_km <= b.km_max)?;
    let cutoff = (*s.cutoffs.get(facility)?)?;
    let today = day_of(now);
    // The first of its days whose cutoff is still ahead (a week always has one).
    let ship_day = (today..today + 8)
        .find(|&d| s.delivery_days[weekday(d)] && now < d * DAY_MS + u64::from(cutoff) * 60_000)?;
    let mut delivery_day = ship_day;
    for _ in 0..band.transit_days {
        delivery_day += 1;
        while !s.delivery_days[weekday(delivery_day)] {
            delivery_day += 1;
        }
    }
    let cost = band.base + band.per_unit * f64::from(units);
    Some((
        cost,
        ship_day * DAY_MS + u64::from(cutoff) * 60_000,
        delivery_day,
    ))
}

/// Every service's quote from `facility`, in carrier then service order.
pub fn quotes(
    carriers: &Carriers,
    facility: usize,
    distance_km: f64,
    units: u32,
    now: Millis,
) -> Vec<Quote> {
    let mut out = Vec::new();
    for (ci, c) in carriers.carriers.iter().enumerate() {
        for (si, s) in c.services.iter().enumerate() {
            if let Some((cost, ship_by, delivery_day)) =
                quote_service(s, facility, distance_km, units, now)
            {
                out.push(Quote {
                    carrier: ci,
                    service: si,
                    cost,
                    ship_by,
                    delivery_day,
                });
            }
        }
    }
    out
}

/// Rate shopping: the cheapest service delivering by `level`'s deadline
/// (ties: earlier delivery, then carrier and service order); when none
/// can, the earliest delivery (ties: cheaper). `None` when no service
/// ships from `facility` to that distance at all.
pub fn shop(
    carriers: &Carriers,
    facility: usize,
    distance_km: f64,
    units: u32,
    level: ServiceLevel,
    now: Millis,
) -> Option<Choice> {
    let all = quotes(carriers, facility, distance_km, units, now);
    let due = deadline(level, day_of(now));
    let cheapest = all.iter().filter(|q| q.delivery_day <= due).min_by(|a, b| {
        a.cost
            .total_cmp(&b.cost)
            .then(a.delivery_day.cmp(&b.delivery_day))
    });
    if let Some(q) = cheapest {
        return Some(Choice {
            quote: *q,
            meets_level: true,
        });
    }
    all.iter()
        .min_by(|a, b| {
            a.delivery_day
                .cmp(&b.delivery_day)
                .then(a.cost.total_cmp(&b.cost))
        })
        .map(|q| Choice {
            quote: *q,
            meets_level: false,
        })
}

/// The promise for one service level: the earliest delivery over the
/// candidate facilities, each shipping with its cheapest service that meets
/// the level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelPromise {
    /// The service level promised.
    pub level: ServiceLevel,
    /// Index of the facility that would ship.
    pub facility: usize,
    /// The quote of the service behind the date.
    pub quote: Quote,
}

/// The delivery promise (`GET /v1/promise`): for each service level, the
/// earliest delivery day over `candidates` (facility index, distance in km;
/// the caller passes only facilities that can ship the whole quantity),
/// each facility with its cheapest service meeting the level (ties: cheaper,
/// then the earlier candidate). A level that no candidate meets is left
/// out, so a date promised here is always a date that level's rate
/// shopping can choose.
pub fn promise(
    carriers: &Carriers,
    candidates: &[(usize, f64)],
    units: u32,
    now: Millis,
) -> Vec<LevelPromise> {
    let mut out = Vec::new();
    for level in ServiceLevel::ALL {
        let best = candidates
            .iter()
            .filter_map(|&(facility, km)| {
                let choice = shop(carriers, facility, km, units, level, now)?;
                choice.meets_level.then_some(LevelPromise {
                    level,
                    facility,
                    quote: choice.quote,
                })
            })
            .min_by(|a, b| {
                a.quote
                    .delivery_day
                    .cmp(&b.quote.delivery_day)
                    .then(a.quote.cost.total_cmp(&b.quote.cost))
            });
        out.extend(best);
    }
    out
}

/// The carrier service planned for a fulfillment, by name: stored in the
/// order's journaled events, so replay restores it exactly whatever the
/// carrier configuration says later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipPlan {
    /// Carrier id (`NWP`).
    pub carrier: Arc<str>,
    /// Service id within the carrier (`ground`).
    pub service: Arc<str>,
    /// Price of the parcel.
    pub shipping_cost: f64,
    /// The pickup cutoff it must be ready by.
    pub ship_by: Millis,
    /// The promised delivery day (days since the epoch).
    pub delivery_day: u64,
    /// Whether that day meets the order's service level.
    pub service_level_met: bool,
}

/// Rate shopping for a network: the carriers and where each facility is.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    carriers: Arc<Carriers>,
    sites: Vec<(f64, f64)>,
}

impl Rates {
    /// Rates for `carriers` shipping from `facilities` (by index).
    pub fn new(carriers: &Carriers, facilities: &[FacilityConfig]) -> Rates {
        Rates {
            carriers: Arc::new(carriers.clone()),
            sites: facilities.iter().map(|f| (f.lat, f.lon)).collect(),
        }
    }

    /// Rates for `carriers` shipping from facilities at `(lat, lon)`, by index.
    pub fn from_sites(carriers: &Carriers, sites: Vec<(f64, f64)>) -> Rates {
        Rates {
            carriers: Arc::new(carriers.clone()),
            sites,
        }
    }

    /// The carriers.
    pub fn carriers(&self) -> &Carriers {
        &self.carriers
    }

    /// Distance in km from `facility` to a ship-to; `None` for an unknown facility.
    pub fn distance_km(&self, facility: FacilityIdx, lat: f64, lon: f64) -> Option<f64> {
        let &(flat, flon) = self.sites.get(usize::from(facility.0))?;
        Some(haversine_km(flat, flon, lat, lon))
    }

    /// [`shop`] from `facility` to a ship-to at `now`.
    pub fn shop(
        &self,
        facility: FacilityIdx,
        lat: f64,
        lon: f64,
        units: u32,
        level: ServiceLevel,
        now: Millis,
    ) -> Option<Choice> {
        let km = self.distance_km(facility, lat, lon)?;
        shop(
            &self.carriers,
            usize::from(facility.0),
            km,
            units,
            level,
            now,
        )
    }

    /// The ship plan of a fulfillment of `units` from `facility`, chosen at
    /// `now` by [`shop`]; `None` when no service ships from there to there.
    pub fn plan(
        &self,
        facility: FacilityIdx,
        lat: f64,
        lon: f64,
        units: u32,
        level: ServiceLevel,
        now: Millis,
    ) -> Option<ShipPlan> {
        let choice = self.shop(facility, lat, lon, units, level, now)?;
        Some(self.named(&choice.quote, choice.meets_level))
    }

    /// Re-rating for a parcel handed to `carrier` at `now`: that carrier's
    /// cheapest service from `facility` to the ship-to (ties: earlier
    /// delivery, then service order), judged against `level`'s deadline from
    /// `placed_day`. `None` when the carrier is not configured or none of
    /// its services ships from there to there.
    #[allow(clippy::too_many_arguments)]
    pub fn rerate(
        &self,
        carrier: &str,
        facility: FacilityIdx,
        lat: f64,
        lon: f64,
        units: u32,
        level: ServiceLevel,
        placed_day: u64,
        now: Millis,
    ) -> Option<ShipPlan> {
        let ci = self
            .carriers
            .carriers
            .iter()
            .position(|c| c.id == carrier)?;
        let km = self.distance_km(facility, lat, lon)?;
        let q = quotes(&self.carriers, usize::from(facility.0), km, units, now)
            .into_iter()
            .filter(|q| q.carrier == ci)
            .min_by(|a, b| {
                a.cost
                    .total_cmp(&b.cost)
                    .then(a.delivery_day.cmp(&b.delivery_day))
            })?;
        Some(self.named(&q, q.delivery_day <= deadline(level, placed_day)))
    }

    fn named(&self, q: &Quote, met: bool) -> ShipPlan {
        let c = &self.carriers.carriers[q.carrier];
        ShipPlan {
            carrier: Arc::from(c.id.as_str()),
            service: Arc::from(c.services[q.service].id.as_str()),
            shipping_cost: q.cost,
            ship_by: q.ship_by,
            delivery_day: q.delivery_day,
            service_level_met: met,
        }
    }
}

/// The tracking number the core issues for fulfillment `n` of order
/// `order` handed to `carrier`: the carrier id, `1C`, and 16 hex digits of a
/// bijective mix of `(order << 16) | n`. Deterministic, and unique over
/// every fulfillment of orders numbered below 2^48.
pub fn tracking_number(carrier: &str, order: u64, n: u16) -> String {
    // The splitmix64 finalizer: a bijection of u64.
    let mut z = (order << 16) | u64::from(n);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    format!("{carrier}1C{z:016X}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_config::bf1::{generate, Bf1Params};
    use orch_config::carriers;
    use orch_config::FacilityKind;

    /// 2026-11-27, a Friday, 00:00 UTC.
    const FRI: Millis = 20_784 * DAY_MS;
    const HOUR: Millis = 3_600_000;

    fn setup() -> (Carriers, usize, usize) {
        let net = generate(&Bf1Params {
            scale: 0.01,
            ..Bf1Params::default()
        });
        let dc = net
            .facilities
            .iter()
            .position(|f| f.kind == FacilityKind::Dc)
            .unwrap();
        let store = net
            .facilities
            .iter()
            .position(|f| f.kind == FacilityKind::Store)
            .unwrap();
        (carriers::bf1(&net), dc, store)
    }

    fn name(c: &Carriers, q: &Quote) -> String {
        let carrier = &c.carriers[q.carrier];
        format!("{}/{}", carrier.id, carrier.services[q.service].id)
    }

    #[test]
    fn calendar() {
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(weekday(0), 3);
        assert_eq!(date_string(day_of(FRI)), "2026-11-27");
        assert_eq!(weekday(day_of(FRI)), 4);
        assert_eq!(date_string(day_of(FRI) + 35), "2027-01-01");
        assert_eq!(date_string(19_417), "2023-03-01");
        let fri = day_of(FRI);
        assert_eq!(deadline(ServiceLevel::SameDay, fri), fri);
        assert_eq!(deadline(ServiceLevel::NextDay, fri), fri + 1, "Saturday");
        assert_eq!(
            deadline(ServiceLevel::NextDay, fri + 1),
            fri + 3,
            "no Sunday: Monday"
        );
        assert_eq!(
            deadline(ServiceLevel::Standard, fri),
            fri + 7,
            "five weekdays: next Friday"
        );
    }

    #[test]
    fn the_cheapest_service_that_meets_the_level_is_chosen() {
        let (c, dc, _) = setup();
        let now = FRI + 10 * HOUR;
        // 600 km, standard: BBP economy is the cheapest, picked up Friday 17:00.
        let s = shop(&c, dc, 600.0, 1, ServiceLevel::Standard, now).unwrap();
        assert!(s.meets_level);
        assert_eq!(name(&c, &s.quote), "BBP/economy");
        assert_eq!(s.quote.ship_by, FRI + 17 * HOUR);
        // Fri pickup, 4 delivery days Mon-Sat: Sat, Mon, Tue, Wed.
        assert_eq!(date_string(s.quote.delivery_day), "2026-12-02");
        // Next day at 40 km: the deadline is Saturday. NWP delivers Mon-Fri
        // (Monday: late), the courier today but dearer, BBP priority Saturday.
        let s = shop(&c, dc, 40.0, 1, ServiceLevel::NextDay, now).unwrap();
        assert!(s.meets_level);
        assert_eq!(
            name(&c, &s.quote),
            "BBP/priority",
            "Saturday delivery, cheaper than air"
        );
        assert_eq!(s.quote.delivery_day, day_of(FRI) + 1);
        let s = shop(&c, dc, 20.0, 2, ServiceLevel::SameDay, now).unwrap();
        assert!(s.meets_level);
        assert_eq!(name(&c, &s.quote), "MTC/same_day");
        assert!((s.quote.cost - (8.9 + 2.0 * 1.1)).abs() < 1e-9);
    }

    #[test]
    fn a_cutoff_just_passed_ships_at_the_next_pickup() {
        let (c, dc, _) = setup();
        let courier = &c.carriers[1].services[0];
        let at_cutoff = FRI + 13 * HOUR;
        let (_, ship_by, day) = quote_service(courier, dc, 10.0, 1, at_cutoff - 1).unwrap();
        assert_eq!((ship_by, day), (at_cutoff, day_of(FRI)));
        let (_, ship_by, day) = quote_service(courier, dc, 10.0, 1, at_cutoff).unwrap();
        assert_eq!((ship_by, day), (at_cutoff + DAY_MS, day_of(FRI) + 1));
        let s = shop(&c, dc, 10.0, 1, ServiceLevel::SameDay, at_cutoff).unwrap();
        assert!(
            !s.meets_level,
            "nothing delivers today after the last cutoff"
        );
        assert_eq!(s.quote.delivery_day, day_of(FRI) + 1);
    }

    #[test]
    fn weekends_without_delivery_days_push_the_date() {
        let (c, dc, _) = setup();
        let ground = &c.carriers[2].services[0];
        // Friday after the 18:00 ground cutoff: picked up Monday, 1 day: Tuesday.
        let (_, ship_by, day) = quote_service(ground, dc, 40.0, 1, FRI + 19 * HOUR).unwrap();
        assert_eq!(date_string(day_of(ship_by)), "2026-11-30");
        assert_eq!(date_string(day), "2026-12-01");
        // Before the cutoff: Friday pickup, 1 day counted on weekdays: Monday.
        let (_, _, day) = quote_service(ground, dc, 40.0, 1, FRI + 9 * HOUR).unwrap();
        assert_eq!(date_string(day), "2026-11-30");
    }

    #[test]
    fn with_no_service_meeting_the_level_the_fastest_is_chosen() {
        let (c, dc, store) = setup();
        let now = FRI + 9 * HOUR;
        // Same day 3,000 km away: no courier reaches that far. The earliest
        // delivery is next-day air's Monday (it delivers Mon-Fri only).
        let s = shop(&c, dc, 3000.0, 1, ServiceLevel::SameDay, now).unwrap();
        assert!(!s.meets_level);
        let fastest = quotes(&c, dc, 3000.0, 1, now)
            .iter()
            .map(|q| q.delivery_day)
            .min()
            .unwrap();
        assert_eq!(s.quote.delivery_day, fastest);
        assert_eq!(date_string(fastest), "2026-11-30");
        // Nothing reaches 7,000 km.
        assert_eq!(
            shop(&c, store, 7000.0, 1, ServiceLevel::Standard, now),
            None
        );
    }

    #[test]
    fn the_promise_is_the_earliest_date_that_meets_each_level() {
        let (c, dc, _) = setup();
        let now = FRI + 9 * HOUR;
        // Far away only: nothing meets same day or Saturday next day, so
        // only standard is promised.
        let far = promise(&c, &[(dc, 3000.0)], 1, now);
        let levels: Vec<_> = far.iter().map(|p| p.level).collect();
        assert_eq!(levels, vec![ServiceLevel::Standard]);
        // A near candidate brings same day; each level's promise is the
        // candidate's own rate-shopping choice, and never later than the deadline.
        let both = promise(&c, &[(dc, 3000.0), (dc, 20.0)], 2, now);
        assert_eq!(both[0].level, ServiceLevel::SameDay);
        assert_eq!(both[0].quote.delivery_day, day_of(FRI));
        for p in &both {
            assert!(p.quote.delivery_day <= deadline(p.level, day_of(now)));
            let own = [3000.0, 20.0]
                .iter()
                .filter_map(|&km| shop(&c, dc, km, 2, p.level, now))
                .filter(|s| s.meets_level)
                .map(|s| s.quote.delivery_day)
                .min();
            assert_eq!(Some(p.quote.delivery_day), own, "{:?}", p.level);
        }
        assert!(promise(&c, &[], 1, now).is_empty(), "no stock, no promise");
    }

    #[test]
    fn issued_tracking_numbers_are_deterministic_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for order in (1..2_000u64).chain([1 << 40, (1 << 48) - 1]) {
            for n in 1..=50u16 {
                let t = tracking_number("NWP", order, n);
                assert!(t.starts_with("NWP1C") && t.len() == 21, "{t}");
                assert_eq!(t, tracking_number("NWP", order, n));
                assert!(
                    seen.insert(t),
                    "order {order} fulfillment {n} repeats a number"
                );
            }
        }
        assert_ne!(tracking_number("NWP", 1, 1), tracking_number("BBP", 1, 1));
    }
}
