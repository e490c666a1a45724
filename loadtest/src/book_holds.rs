//! The book's record of carts' holds: what each hold held where (from the
//! core's answer), whether its order converted it and took its units where
//! they were held, and when it was surely active (from its acknowledgement
//! to its `expires_at`, or to the moment its order was sent). Pure
//! functions of those records give the units held per cell at a moment,
//! the peak held per cell, and the conversion violations.

use std::collections::HashMap;
use std::time::SystemTime;

use orch_runtime::dto::{HoldView, OrderView};

/// What became of a hold, as the book saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldFate {
    /// Acknowledged; no order named it yet.
    Held,
    /// Its order's answer said `converted`.
    Converted,
    /// Its order's answer named another status (expired before checkout).
    NotTaken,
}

/// One cart's hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldTrack {
    /// The order the cart was for.
    pub order_id: String,
    /// The hold id.
    pub hold_id: String,
    /// The cart was abandoned: no order names the hold.
    pub abandoned: bool,
    /// (facility index, SKU index, units) held, from the answer.
    pub held: Vec<(u16, u32, u32)>,
    /// The answer came back (wall clock).
    pub acked_at: SystemTime,
    /// The answer's `expires_at`.
    pub expires_at: SystemTime,
    /// When its order was sent (converting carts).
    pub ordered_at: Option<SystemTime>,
    /// What became of it.
    pub fate: HoldFate,
    /// Held lines the converted order did not take where they were held.
    pub rerouted: Vec<String>,
}

impl HoldTrack {
    /// A hold as acknowledged; `None` when its `expires_at` cannot be read.
    /// `index` maps (facility id, SKU id) to the network's indices.
    pub fn of(
        order_id: &str,
        v: &HoldView,
        abandoned: bool,
        acked_at: SystemTime,
        index: impl Fn(&str, &str) -> Option<(u16, u32)>,
    ) -> Result<HoldTrack, String> {
        let expires_at = humantime::parse_rfc3339_weak(&v.expires_at)
            .map_err(|e| format!("{}: expires_at {:?}: {e}", v.hold_id, v.expires_at))?;
        let mut held = Vec::new();
        for at in &v.holds {
            for l in &at.lines {
                let (f, s) = index(&at.facility_id, &l.sku).ok_or_else(|| {
                    format!(
                        "{}: holds {} at {}, unknown to the network",
                        v.hold_id, l.sku, at.facility_id
                    )
                })?;
                held.push((f, s, l.qty));
            }
        }
        Ok(HoldTrack {
            order_id: order_id.to_string(),
            hold_id: v.hold_id.clone(),
            abandoned,
            held,
            acked_at,
            expires_at,
            ordered_at: None,
            fate: HoldFate::Held,
            rerouted: Vec::new(),
        })
    }

    /// Surely active at `t`: after its acknowledgement, before its expiry
    /// and before its order was sent (the real hold lasted at least this
    /// long, so what the book counts held at `t` was held).
    pub fn surely_active_at(&self, t: SystemTime) -> bool {
        let end = self
            .ordered_at
            .filter(|_| self.fate != HoldFate::NotTaken)
            .map_or(self.expires_at, |o| o.min(self.expires_at));
        self.acked_at <= t && t < end
    }

    /// Active by the book at `now`: not converted and not expired.
    pub fn active_at(&self, now: SystemTime) -> bool {
        self.fate != HoldFate::Converted && self.acked_at <= now && now < self.expires_at
    }

    /// Its order's answer: `status` is the answer's hold status. When
    /// converted, every held line must be in the order's fulfillments at
    /// the facility that held it (`names` gives facility and SKU ids).
    pub fn answered(
        &mut self,
        status: Option<&str>,
        v: &OrderView,
        names: impl Fn(u16, u32) -> (String, String),
    ) {
        if status != Some("converted") {
            self.fate = HoldFate::NotTaken;
            return;
        }
        self.fate = HoldFate::Converted;
        let mut at: HashMap<(&str, &str), u32> = HashMap::new();
        for f in v.fulfillments.iter().filter(|f| f.status != "cancelled") {
            for l in &f.lines {
                *at.entry((f.facility_id.as_str(), l.sku.as_str()))
                    .or_default() += l.qty;
            }
        }
        let mut need: HashMap<(u16, u32), u32> = HashMap::new();
        for &(f, s, q) in &self.held {
            *need.entry((f, s)).or_default() += q;
        }
        let mut need: Vec<_> = need.into_iter().collect();
        need.sort_unstable();
        for ((f, s), q) in need {
            let (fac, sku) = names(f, s);
            let got = at.get(&(fac.as_str(), sku.as_str())).copied().unwrap_or(0);
            if got < q {
                self.rerouted.push(format!(
                    "{}: held {q} of {sku} at {fac}, order {} has {got} there",
                    self.hold_id, self.order_id
                ));
            }
        }
    }
}

/// Units held per (facility, SKU) by holds active at `now`.
pub fn held_at(holds: &[HoldTrack], now: SystemTime) -> HashMap<(u16, u32), i64> {
    let mut out: HashMap<(u16, u32), i64> = HashMap::new();
    for h in holds.iter().filter(|h| h.active_at(now)) {
        for &(f, s, q) in &h.held {
            *out.entry((f, s)).or_default() += i64::from(q);
        }
    }
    out
}

/// The most units held at once per (facility, SKU), counting each hold only
/// while it was surely active (a lower bound of what the core held).
pub fn peak_held(holds: &[HoldTrack]) -> HashMap<(u16, u32), i64> {
    let mut events: HashMap<(u16, u32), Vec<(SystemTime, i64)>> = HashMap::new();
    for h in holds {
        let start = h.acked_at;
        let end = match h.ordered_at.filter(|_| h.fate != HoldFate::NotTaken) {
            Some(o) => o.min(h.expires_at),
            None => h.expires_at,
        };
        if end <= start {
            continue;
        }
        for &(f, s, q) in &h.held {
            let e = events.entry((f, s)).or_default();
            e.push((start, i64::from(q)));
            e.push((end, -i64::from(q)));
        }
    }
    events
        .into_iter()
        .map(|(k, mut e)| {
            // Ends before starts at the same instant.
            e.sort_unstable();
            let (mut now, mut peak) = (0i64, 0i64);
            for (_, d) in e {
                now += d;
                peak = peak.max(now);
            }
            (k, peak)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_runtime::dto::{FulfillmentView, HeldAtView, LineView};
    use std::time::Duration;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
    }

    fn view(held: &[(&str, &str, u32)]) -> HoldView {
        HoldView {
            hold_id: "o-cart".into(),
            status: "active".into(),
            expires_at: "2027-01-15T08:00:05.000Z".into(),
            holds: held
                .iter()
                .map(|(f, s, q)| HeldAtView {
                    facility_id: f.to_string(),
                    lines: vec![LineView {
                        sku: s.to_string(),
                        qty: *q,
                    }],
                })
                .collect(),
            unavailable: Vec::new(),
        }
    }

    fn index(f: &str, s: &str) -> Option<(u16, u32)> {
        Some((
            f.strip_prefix("DC-")?.parse().ok()?,
            s.strip_prefix("S")?.parse().ok()?,
        ))
    }

    fn names(f: u16, s: u32) -> (String, String) {
        (format!("DC-{f}"), format!("S{s}"))
    }

    fn order(fs: &[(&str, &str, u32)]) -> OrderView {
        OrderView {
            order_id: "o".into(),
            status: "routed".into(),
            reason: None,
            channel: "web".into(),
            service_level: "standard".into(),
            fulfillments: fs
                .iter()
                .enumerate()
                .map(|(i, (f, s, q))| FulfillmentView {
                    fulfillment_id: format!("o/{}", i + 1),
                    facility_id: f.to_string(),
                    status: "routed".into(),
                    wave_id: None,
                    carrier: None,
                    tracking: None,
                    lines: vec![LineView {
                        sku: s.to_string(),
                        qty: *q,
                    }],
                    ship: Default::default(),
                })
                .collect(),
            backordered: Vec::new(),
            timeline: Vec::new(),
        }
    }

    #[test]
    fn a_hold_is_read_from_its_answer() {
        let h = HoldTrack::of("o", &view(&[("DC-1", "S7", 2)]), true, at(0), index).unwrap();
        assert_eq!(h.held, vec![(1, 7, 2)]);
        assert_eq!(
            h.expires_at,
            humantime::parse_rfc3339("2027-01-15T08:00:05Z").unwrap()
        );
        let unknown = HoldTrack::of("o", &view(&[("XX", "S7", 2)]), true, at(0), index);
        assert!(unknown.unwrap_err().contains("unknown to the network"));
        let mut bad = view(&[]);
        bad.expires_at = "soon".into();
        assert!(HoldTrack::of("o", &bad, true, at(0), index).is_err());
    }

    #[test]
    fn a_conversion_must_take_the_held_units_where_held() {
        let v = view(&[("DC-1", "S7", 2), ("DC-2", "S8", 1)]);
        let mut h = HoldTrack::of("o", &v, false, at(0), index).unwrap();
        h.answered(
            Some("converted"),
            &order(&[("DC-1", "S7", 2), ("DC-2", "S8", 1)]),
            names,
        );
        assert_eq!(h.fate, HoldFate::Converted);
        assert!(h.rerouted.is_empty(), "{:?}", h.rerouted);
        let mut h = HoldTrack::of("o", &v, false, at(0), index).unwrap();
        h.answered(
            Some("converted"),
            &order(&[("DC-1", "S7", 2), ("DC-3", "S8", 1)]),
            names,
        );
        assert_eq!(h.rerouted.len(), 1, "S8 went to DC-3: {:?}", h.rerouted);
        let mut h = HoldTrack::of("o", &v, false, at(0), index).unwrap();
        h.answered(Some("expired"), &order(&[("DC-3", "S8", 1)]), names);
        assert_eq!(h.fate, HoldFate::NotTaken);
        assert!(h.rerouted.is_empty(), "not converted: nothing to take");
    }

    #[test]
    fn held_units_are_counted_while_active_and_at_their_peak() {
        let mk = |acked: u64, expires: u64, ordered: Option<u64>, fate: HoldFate| HoldTrack {
            order_id: "o".into(),
            hold_id: "h".into(),
            abandoned: ordered.is_none(),
            held: vec![(1, 7, 2)],
            acked_at: at(acked),
            expires_at: at(expires),
            ordered_at: ordered.map(at),
            fate,
            rerouted: Vec::new(),
        };
        let holds = vec![
            mk(0, 5, None, HoldFate::Held),
            mk(1, 6, Some(2), HoldFate::Converted),
            mk(3, 8, None, HoldFate::Held),
            mk(5, 10, Some(6), HoldFate::NotTaken),
        ];
        assert_eq!(held_at(&holds, at(4))[&(1, 7)], 4, "the first and third");
        assert_eq!(held_at(&holds, at(9))[&(1, 7)], 2, "the fourth, not taken");
        assert!(held_at(&holds, at(10)).is_empty(), "all expired");
        // 0-5, 1-2, 3-8, 5-10: at most two at once (the first ends as the
        // fourth starts).
        assert_eq!(peak_held(&holds)[&(1, 7)], 4);
        assert!(holds[1].surely_active_at(at(1)));
        assert!(!holds[1].surely_active_at(at(2)), "its order was sent");
    }
}
