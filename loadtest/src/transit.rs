//! The simulated carriers' side of a parcel: when it is picked up, when it
//! would arrive on time, how late the carrier is (a seeded distribution),
//! and how long the floor waits in compressed time before it scans it
//! delivered.
//!
//! The carrier follows the configuration's service (the one the core
//! planned; this module never chooses one): the parcel leaves at the
//! service's next pickup cutoff at that facility on one of its days, no
//! earlier than the ship scan, and travels its distance band's transit days,
//! counted in the service's delivery days. A late carrier adds whole
//! calendar days on top. This is the carrier as the tester simulates it,
//! written here from the configuration and not from the core's code, so a
//! wrong promise in the core shows as a missed (or early) delivery.
//!
//! Plain functions of their inputs (seed, key, instants in milliseconds
//! since the epoch): no clock.

use std::time::Duration;

use orch_config::carriers::{Carriers, ServiceConfig};
use orch_config::geo::haversine_km;
use orch_config::Network;

use crate::seeded::{salt, unit};

/// A day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;

/// Time of day of a delivered scan (15:00 UTC), ms after midnight.
pub const DELIVERED_AT_MS: u64 = 15 * 3_600_000;

/// Most days late the distribution may name.
pub const LATE_DAYS_MAX: usize = 30;

/// Days since 1970-01-01 (UTC) of an instant.
pub fn day_of(at_ms: u64) -> u64 {
    at_ms / DAY_MS
}

/// Weekday of a day, Monday = 0 (1970-01-01 was a Thursday).
pub fn weekday(day: u64) -> usize {
    ((day + 3) % 7) as usize
}

/// Days since the epoch of a `YYYY-MM-DD` date; `None` when it is not one.
pub fn parse_date(s: &str) -> Option<u64> {
    let mut it = s.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

/// RFC 3339 (UTC, seconds) of an instant.
pub fn rfc3339(at_ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(at_ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `YYYY-MM-DD` of a day since the epoch.
pub fn date(day: u64) -> String {
    let mut s = rfc3339(day.saturating_mul(DAY_MS));
    s.truncate(10);
    s
}

/// The share of deliveries 1, 2, 3, ... days late (the rest on time).
#[derive(Debug, Clone, PartialEq)]
pub struct LatenessSpec {
    /// `shares[i]`: deliveries `i + 1` days late.
    pub shares: Vec<f64>,
}

impl Default for LatenessSpec {
    /// 90% on time, 7% a day late, 2% two days, 1% three days.
    fn default() -> Self {
        LatenessSpec {
            shares: vec![0.07, 0.02, 0.01],
        }
    }
}

impl LatenessSpec {
    /// Every delivery on time.
    pub fn none() -> LatenessSpec {
        LatenessSpec { shares: Vec::new() }
    }

    /// Every delivery `days` days late (0: on time).
    pub fn always(days: usize) -> LatenessSpec {
        let mut shares = vec![0.0; days];
        if let Some(last) = shares.last_mut() {
            *last = 1.0;
        }
        LatenessSpec { shares }
    }

    /// Reads `--lateness`: comma-separated shares of deliveries 1, 2, 3,
    /// ... days late (`0` or an empty string: none late). Errors name the
    /// option.
    pub fn parse(s: &str) -> Result<LatenessSpec, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(LatenessSpec::none());
        }
        let shares = s
            .split(',')
            .map(|p| {
                p.trim().parse::<f64>().map_err(|_| {
                    format!(
                        "--lateness: '{}' is not a share (a number from 0 to 1)",
                        p.trim()
                    )
                })
            })
            .collect::<Result<Vec<f64>, String>>()?;
        let spec = LatenessSpec { shares };
        spec.check()?;
        Ok(spec)
    }

    /// Each share in [0, 1], their sum at most 1, at most
    /// [`LATE_DAYS_MAX`] of them.
    pub fn check(&self) -> Result<(), String> {
        if self.shares.len() > LATE_DAYS_MAX {
            return Err(format!(
                "--lateness: at most {LATE_DAYS_MAX} shares (1 to {LATE_DAYS_MAX} days late), got {}",
                self.shares.len()
            ));
        }
        for (i, &x) in self.shares.iter().enumerate() {
            if !(0.0..=1.0).contains(&x) {
                return Err(format!(
                    "--lateness: the share {} days late must be 0 to 1, got {x}",
                    i + 1
                ));
            }
        }
        let sum: f64 = self.shares.iter().sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!(
                "--lateness: the shares add up to {sum}, more than 1"
            ));
        }
        Ok(())
    }

    /// Days late of the parcel `key` (a fulfillment id) for `seed`.
    pub fn days(&self, seed: u64, key: &str) -> u32 {
        let u = unit(seed, key, salt::LATENESS);
        let mut acc = 0.0;
        for (i, x) in self.shares.iter().enumerate() {
            acc += x;
            if u < acc {
                return i as u32 + 1;
            }
        }
        0
    }

    /// `--lateness`'s form of this spec.
    pub fn describe(&self) -> String {
        if self.shares.iter().all(|x| *x == 0.0) {
            return "none late".into();
        }
        let parts: Vec<String> = self
            .shares
            .iter()
            .enumerate()
            .filter(|(_, x)| **x > 0.0)
            .map(|(i, x)| format!("{}% {} d late", round2(x * 100.0), i + 1))
            .collect();
        parts.join(", ")
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// When a parcel leaves and when it arrives on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    /// The pickup instant (the service's cutoff on its pickup day).
    pub pickup_at: u64,
    /// The band's transit days.
    pub transit_days: u32,
    /// The day an on-time carrier delivers.
    pub on_time_day: u64,
}

/// The carrier's leg for a parcel of `service` from facility index
/// `facility`, going `km`, handed over at `shipped_at`. `None` when the
/// service does not pick up there, does not reach that far, or names no
/// day of the week.
pub fn leg(service: &ServiceConfig, facility: usize, km: f64, shipped_at: u64) -> Option<Leg> {
    let band = service.bands.iter().find(|b| km <= b.km_max)?;
    let cutoff_ms = u64::from((*service.cutoffs.get(facility)?)?) * 60_000;
    if !service.delivery_days.iter().any(|d| *d) {
        return None;
    }
    let today = day_of(shipped_at);
    let pickup = (today..today + 8)
        .find(|&d| service.delivery_days[weekday(d)] && shipped_at < d * DAY_MS + cutoff_ms)?;
    let mut day = pickup;
    for _ in 0..band.transit_days {
        day += 1;
        while !service.delivery_days[weekday(day)] {
            day += 1;
        }
    }
    Some(Leg {
        pickup_at: pickup * DAY_MS + cutoff_ms,
        transit_days: band.transit_days,
        on_time_day: day,
    })
}

/// What the floor does with one shipped parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The carrier's leg.
    pub leg: Leg,
    /// Days late (seeded).
    pub late_days: u32,
    /// The day it is delivered.
    pub day: u64,
    /// The delivered scan's `at`.
    pub at: u64,
    /// How long the floor waits, in compressed time, between the ship scan
    /// and out for delivery: one `sim_day` per calendar day in between.
    pub wait: Duration,
}

/// The carriers of a network and where its facilities are.
#[derive(Debug, Clone, Default)]
pub struct Transit {
    carriers: Carriers,
    sites: Vec<(f64, f64)>,
}

impl Transit {
    /// The BF-1 carriers of `net` (the set every network gets).
    pub fn bf1(net: &Network) -> Transit {
        Transit::new(
            orch_config::carriers::bf1(net),
            net.facilities.iter().map(|f| (f.lat, f.lon)).collect(),
        )
    }

    /// `carriers` shipping from facilities at `sites` (by index).
    pub fn new(carriers: Carriers, sites: Vec<(f64, f64)>) -> Transit {
        Transit { carriers, sites }
    }

    /// The service `carrier`/`service`, if configured.
    pub fn service(&self, carrier: &str, service: &str) -> Option<&ServiceConfig> {
        self.carriers
            .carriers
            .iter()
            .find(|c| c.id == carrier)?
            .services
            .iter()
            .find(|s| s.id == service)
    }

    /// The delivery of a parcel planned with `carrier`/`service` from
    /// facility index `facility` to `ship_to`, shipped at `shipped_at`,
    /// `late_days` late, with `sim_day` of compressed time per day.
    #[allow(clippy::too_many_arguments)]
    pub fn delivery(
        &self,
        carrier: &str,
        service: &str,
        facility: u16,
        ship_to: (f64, f64),
        shipped_at: u64,
        late_days: u32,
        sim_day: Duration,
    ) -> Option<Delivery> {
        let s = self.service(carrier, service)?;
        let &(lat, lon) = self.sites.get(usize::from(facility))?;
        let km = haversine_km(lat, lon, ship_to.0, ship_to.1);
        let leg = leg(s, usize::from(facility), km, shipped_at)?;
        let day = leg.on_time_day + u64::from(late_days);
        let days = day.saturating_sub(day_of(shipped_at));
        Some(Delivery {
            leg,
            late_days,
            day,
            at: day * DAY_MS + DELIVERED_AT_MS,
            wait: sim_day.saturating_mul(days.min(u64::from(u32::MAX)) as u32),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_config::bf1::{generate, Bf1Params};
    use orch_config::carriers::{RateBand, WEEKDAYS};

    fn ground() -> ServiceConfig {
        ServiceConfig {
            id: "ground".into(),
            bands: vec![
                RateBand {
                    km_max: 100.0,
                    base: 5.0,
                    per_unit: 0.5,
                    transit_days: 1,
                },
                RateBand {
                    km_max: 1000.0,
                    base: 7.0,
                    per_unit: 0.5,
                    transit_days: 3,
                },
            ],
            delivery_days: WEEKDAYS,
            cutoffs: vec![Some(18 * 60), None],
        }
    }

    /// 2026-12-04 is a Friday.
    const FRI: u64 = 20_791;

    #[test]
    fn dates_parse_and_weekdays_count_from_monday() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-12-04"), Some(FRI));
        assert_eq!(weekday(FRI), 4);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026-12"), None);
        assert_eq!(parse_date("x"), None);
        assert_eq!(date(FRI), "2026-12-04");
        assert_eq!(
            rfc3339(FRI * DAY_MS + DELIVERED_AT_MS),
            "2026-12-04T15:00:00Z"
        );
    }

    #[test]
    fn the_leg_follows_cutoffs_bands_and_delivery_days() {
        let s = ground();
        // Friday 10:00, 50 km: picked up Friday 18:00, one delivery day
        // later is Monday.
        let l = leg(&s, 0, 50.0, FRI * DAY_MS + 10 * 3_600_000).unwrap();
        assert_eq!(l.pickup_at, FRI * DAY_MS + 18 * 3_600_000);
        assert_eq!((l.transit_days, l.on_time_day), (1, FRI + 3));
        // After the cutoff: Monday's pickup, Tuesday's delivery.
        let l = leg(&s, 0, 50.0, FRI * DAY_MS + 19 * 3_600_000).unwrap();
        assert_eq!(l.pickup_at, (FRI + 3) * DAY_MS + 18 * 3_600_000);
        assert_eq!(l.on_time_day, FRI + 4);
        // The far band: 3 days.
        assert_eq!(
            leg(&s, 0, 500.0, FRI * DAY_MS).unwrap().on_time_day,
            FRI + 5
        );
        assert_eq!(leg(&s, 0, 5000.0, FRI * DAY_MS), None, "beyond the bands");
        assert_eq!(leg(&s, 1, 50.0, FRI * DAY_MS), None, "no pickup there");
        let mut never = s.clone();
        never.delivery_days = [false; 7];
        assert_eq!(leg(&never, 0, 50.0, FRI * DAY_MS), None);
    }

    #[test]
    fn lateness_is_seeded_and_follows_its_shares() {
        let spec = LatenessSpec::default();
        let n = 100_000;
        let days: Vec<u32> = (0..n).map(|i| spec.days(9, &format!("o-{i}/1"))).collect();
        let again: Vec<u32> = (0..n).map(|i| spec.days(9, &format!("o-{i}/1"))).collect();
        assert_eq!(days, again, "the same seed, the same lateness");
        let other: Vec<u32> = (0..n).map(|i| spec.days(10, &format!("o-{i}/1"))).collect();
        assert_ne!(days, other, "another seed, another draw");
        let share = |k: u32| days.iter().filter(|d| **d == k).count() as f64 / n as f64;
        assert!((share(0) - 0.90).abs() < 0.005, "{}", share(0));
        assert!((share(1) - 0.07).abs() < 0.004, "{}", share(1));
        assert!((share(2) - 0.02).abs() < 0.002, "{}", share(2));
        assert!((share(3) - 0.01).abs() < 0.002, "{}", share(3));
        assert_eq!(share(4), 0.0);
        assert!((0..1000).all(|i| LatenessSpec::none().days(1, &i.to_string()) == 0));
        assert!((0..1000).all(|i| LatenessSpec::always(2).days(1, &i.to_string()) == 2));
    }

    #[test]
    fn lateness_options_are_checked_by_name() {
        assert_eq!(
            LatenessSpec::parse("0.1, 0.05").unwrap().shares,
            [0.1, 0.05]
        );
        assert_eq!(LatenessSpec::parse("").unwrap(), LatenessSpec::none());
        for bad in ["x", "1.5", "-0.1", "0.6,0.6"] {
            let e = LatenessSpec::parse(bad).unwrap_err();
            assert!(e.starts_with("--lateness:"), "{bad}: {e}");
        }
        assert_eq!(
            LatenessSpec::default().describe(),
            "7% 1 d late, 2% 2 d late, 1% 3 d late"
        );
    }

    #[test]
    fn a_delivery_waits_one_sim_day_per_day_and_is_late_by_its_days() {
        let net = generate(&Bf1Params {
            scale: 0.01,
            seed: 3,
        });
        let t = Transit::bf1(&net);
        let f = &net.facilities[0];
        let at = FRI * DAY_MS + 3_600_000;
        let on_time = t
            .delivery(
                "NWP",
                "ground",
                0,
                (f.lat, f.lon),
                at,
                0,
                Duration::from_millis(10),
            )
            .expect("NWP ground picks up at a DC");
        let late = t
            .delivery(
                "NWP",
                "ground",
                0,
                (f.lat, f.lon),
                at,
                2,
                Duration::from_millis(10),
            )
            .unwrap();
        assert_eq!(late.day, on_time.day + 2);
        assert_eq!(late.at, late.day * DAY_MS + DELIVERED_AT_MS);
        assert_eq!(
            late.wait,
            Duration::from_millis(10 * (late.day - FRI)),
            "one sim day per calendar day"
        );
        assert!(t
            .delivery("NWP", "nope", 0, (f.lat, f.lon), at, 0, Duration::ZERO)
            .is_none());
        assert!(t
            .delivery("NWP", "ground", 999, (f.lat, f.lon), at, 0, Duration::ZERO)
            .is_none());
    }
}
