//! The `[[carriers]]` section of the file schema.
//!
//! ```toml
//! [[carriers]]
//! id = "NWP"
//! [[carriers.services]]
//! id = "ground"
//! bands = [                      # nearest first; beyond the last: no delivery
//!   { km_max = 50.0, base = 5.4, per_unit = 0.7, transit_days = 1 },
//!   { km_max = 300.0, base = 6.1, per_unit = 0.7, transit_days = 2 },
//! ]
//! delivery_days = ["mon", "tue", "wed", "thu", "fri"]
//! cutoffs = { "DC-01" = "18:00", "ST-001" = "16:00" }   # UTC; others: no pickup
//! ```
//!
//! Facility ids in `cutoffs` must name facilities of the network. The rate
//! card, ids and days are then checked by [`crate::carriers::check`].

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::de::key_part;
use super::{format_hhmm, parse_hhmm, ConfigError};
use crate::carriers::{CarrierConfig, Carriers, RateBand, ServiceConfig};
use crate::model::Network;

/// Weekday names of `delivery_days`, Monday first.
pub(super) const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One `[[carriers]]` entry.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCarrier {
    id: String,
    services: Vec<RawService>,
}

/// One `[[carriers.services]]` entry.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: String,
    bands: Vec<RawBand>,
    delivery_days: Vec<String>,
    #[serde(default)]
    cutoffs: BTreeMap<String, String>,
}

/// One distance band of a rate card.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    km_max: f64,
    base: f64,
    per_unit: f64,
    transit_days: u32,
}

/// Turns the section into carriers on `net` (cutoffs by facility index of
/// `net` as it stands). Errors name the dotted key in file order.
pub(super) fn from_raw(
    raw: &[RawCarrier],
    net: &Network,
    file: &str,
) -> Result<Carriers, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::new(
            file,
            "carriers",
            "must list at least one carrier; leave the key out for the BF-1 carriers",
        ));
    }
    let facility: HashMap<&str, usize> = net
        .facilities
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.as_str(), i))
        .collect();
    let mut carriers = Vec::with_capacity(raw.len());
    for (i, c) in raw.iter().enumerate() {
        let mut services = Vec::with_capacity(c.services.len());
        for (j, s) in c.services.iter().enumerate() {
            let key = |rest: &str| format!("carriers[{i}].services[{j}].{rest}");
            let mut delivery_days = [false; 7];
            for (k, name) in s.delivery_days.iter().enumerate() {
                let day = DAY_NAMES.iter().position(|d| d == name).ok_or_else(|| {
                    ConfigError::new(
                        file,
                        key(&format!("delivery_days[{k}]")),
                        format!(
                            "unknown day {name:?}, expected one of {}",
                            DAY_NAMES.map(|d| format!("`{d}`")).join(", ")
                        ),
                    )
                })?;
                if delivery_days[day] {
                    return Err(ConfigError::new(
                        file,
                        key(&format!("delivery_days[{k}]")),
                        format!("{name:?} is listed twice"),
                    ));
                }
                delivery_days[day] = true;
            }
            let mut cutoffs = vec![None; net.facilities.len()];
            for (id, at) in &s.cutoffs {
                let at_key = key(&format!("cutoffs.{}", key_part(id)));
                let f = *facility.get(id.as_str()).ok_or_else(|| {
                    ConfigError::new(
                        file,
                        &at_key,
                        format!("unknown facility {id:?} (no facility has this id)"),
                    )
                })?;
                let minute = parse_hhmm(at).ok_or_else(|| {
                    ConfigError::new(
                        file,
                        &at_key,
                        format!(
                            "must be a UTC time of day \"HH:MM\" from 00:00 to 23:59, got {at:?}"
                        ),
                    )
                })?;
                cutoffs[f] = Some(minute);
            }
            services.push(ServiceConfig {
                id: s.id.clone(),
                bands: s
                    .bands
                    .iter()
                    .map(|b| RateBand {
                        km_max: b.km_max,
                        base: b.base,
                        per_unit: b.per_unit,
                        transit_days: b.transit_days,
                    })
                    .collect(),
                delivery_days,
                cutoffs,
            });
        }
        carriers.push(CarrierConfig {
            id: c.id.clone(),
            services,
        });
    }
    Ok(Carriers { carriers })
}

/// The section that [`from_raw`] reads back to `c` on `net`.
pub(super) fn to_raw(c: &Carriers, net: &Network) -> Vec<RawCarrier> {
    c.carriers
        .iter()
        .map(|c| RawCarrier {
            id: c.id.clone(),
            services: c
                .services
                .iter()
                .map(|s| RawService {
                    id: s.id.clone(),
                    bands: s
                        .bands
                        .iter()
                        .map(|b| RawBand {
                            km_max: b.km_max,
                            base: b.base,
                            per_unit: b.per_unit,
                            transit_days: b.transit_days,
                        })
                        .collect(),
                    delivery_days: DAY_NAMES
                        .iter()
                        .zip(s.delivery_days)
                        .filter(|(_, on)| *on)
                        .map(|(d, _)| d.to_string())
                        .collect(),
                    cutoffs: s
                        .cutoffs
                        .iter()
                        .zip(&net.facilities)
                        .filter_map(|(m, f)| m.map(|m| (f.id.clone(), format_hhmm(m))))
                        .collect(),
                })
                .collect(),
        })
        .collect()
}
