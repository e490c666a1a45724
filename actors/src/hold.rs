//! The Hold state machine: a shopper's cart reservation with an expiry.
//!
//! The units of a hold are held by the cells that own them (like any
//! reservation); this record is the hold's own state: what was asked, where
//! it is held, until when, and whether it is still active. Its events are
//! the source of truth for the cells' held units, as an order's are for its
//! reservations.
//!
//! Transitions: `active` → `converted` (an order took it), `released`
//! (the shopper let go) or `expired` (its time ran out). Nothing leaves
//! those three. A hold whose `expires_at` has passed is treated as expired
//! by every decision, even before its expiry has been processed, so no
//! decision depends on when the timer ran.
//!
//! Like every state machine here: `decide_*` never mutates, `apply` never
//! refuses.

use std::sync::Arc;

use orch_config::{Millis, ServiceLevel};
use serde::{Deserialize, Serialize};

use crate::ids::{FacilityIdx, OrderNo};
use crate::order::OrderLine;
use crate::placement::PlacementOutcome;

/// TTL when a request gives none, in seconds.
pub const TTL_S_DEFAULT: u32 = 900;
/// Largest TTL a configuration may allow, in seconds (4 h).
pub const TTL_S_CEILING: u32 = 14_400;

/// Internal number of a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HoldNo(pub u64);

/// One line of one hold: what held units belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HoldLine {
    /// The hold.
    pub hold: HoldNo,
    /// Line number within the hold, from 0.
    pub line: u16,
}

/// What a hold request asks for (ids resolved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldRequest {
    /// Client hold id.
    pub hold_id: Arc<str>,
    /// Ship-to latitude.
    pub lat: f64,
    /// Ship-to longitude.
    pub lon: f64,
    /// Service level.
    pub service_level: ServiceLevel,
    /// Seconds the hold lasts.
    pub ttl_s: u32,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Whether a hold that cannot cover every line is created anyway.
    pub allow_partial: bool,
}

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    /// Holding its units until `expires_at`.
    Active,
    /// An order took its units.
    Converted,
    /// Let go before it expired.
    Released,
    /// Its time ran out.
    Expired,
}

impl HoldStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Active => "active",
            HoldStatus::Converted => "converted",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }
}

/// A change to a hold, as journaled and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HoldEvent {
    /// The hold was created, holding these lines at these facilities.
    Created {
        /// The request.
        request: HoldRequest,
        /// (facility, line numbers) where units are held.
        held: Vec<(FacilityIdx, Vec<u16>)>,
        /// Lines nothing could hold now.
        unavailable: Vec<u16>,
        /// When.
        at: Millis,
        /// When it lapses.
        expires_at: Millis,
    },
    /// A new expiry, from the time of the request.
    Extended {
        /// When it lapses now.
        expires_at: Millis,
        /// When.
        at: Millis,
    },
    /// Let go.
    Released {
        /// When.
        at: Millis,
    },
    /// Ran out.
    Expired {
        /// When the expiry was processed.
        at: Millis,
    },
    /// An order took its units in place.
    Converted {
        /// The order.
        order: OrderNo,
        /// When.
        at: Millis,
    },
}

/// Why a hold request was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldRefusal {
    /// `ttl_s` outside 1..=the configured maximum.
    #[error("ttl_s: must be from 1 to {max}, got {got}")]
    Ttl {
        /// The configured maximum.
        max: u32,
        /// What was asked.
        got: u32,
    },
    /// `allow_partial: false` and not every line could be held.
    #[error("insufficient_stock: not every line can be held now and allow_partial is false")]
    InsufficientStock,
    /// The hold is no longer active (extend, convert).
    #[error("hold is {0}")]
    NotActive(&'static str),
    /// Release of a converted hold.
    #[error("hold was converted by an order")]
    Converted,
}

/// The state of one hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldState {
    no: HoldNo,
    request: HoldRequest,
    held: Vec<(FacilityIdx, Vec<u16>)>,
    unavailable: Vec<u16>,
    created_at: Millis,
    expires_at: Millis,
    status: HoldStatus,
    order: Option<OrderNo>,
    last_change: Millis,
}

/// Checks a TTL against the configured maximum (itself at most [`TTL_S_CEILING`]).
pub fn check_ttl(ttl_s: u32, ttl_s_max: u32) -> Result<(), HoldRefusal> {
    let max = ttl_s_max.min(TTL_S_CEILING);
    if (1..=max).contains(&ttl_s) {
        Ok(())
    } else {
        Err(HoldRefusal::Ttl { max, got: ttl_s })
    }
}

/// The event that creates a hold from its placement outcome (placed like an
/// order, never backordered: lines that found no stock are `unavailable`).
pub fn decide_create(
    request: HoldRequest,
    outcome: PlacementOutcome,
    now: Millis,
    ttl_s_max: u32,
) -> Result<HoldEvent, HoldRefusal> {
    check_ttl(request.ttl_s, ttl_s_max)?;
    if outcome.rejected.is_some() || (!request.allow_partial && !outcome.backordered.is_empty()) {
        return Err(HoldRefusal::InsufficientStock);
    }
    let expires_at = now + u64::from(request.ttl_s) * 1000;
    Ok(HoldEvent::Created {
        request,
        held: outcome.fulfillments,
        unavailable: outcome.backordered,
        at: now,
        expires_at,
    })
}

impl HoldState {
    /// A hold from its `Created` event (`None` for any other event).
    pub fn from_created(no: HoldNo, event: &HoldEvent) -> Option<HoldState> {
        let HoldEvent::Created {
            request,
            held,
            unavailable,
            at,
            expires_at,
        } = event
        else {
            return None;
        };
        Some(HoldState {
            no,
            request: request.clone(),
            held: held.clone(),
            unavailable: unavailable.clone(),
            created_at: *at,
            expires_at: *expires_at,
            status: HoldStatus::Active,
            order: None,
            last_change: *at,
        })
    }

    /// Its number.
    pub fn no(&self) -> HoldNo {
        self.no
    }

    /// What was asked.
    pub fn request(&self) -> &HoldRequest {
        &self.request
    }

    /// (facility, line numbers) where units are held (or were, once it ended).
    pub fn held(&self) -> &[(FacilityIdx, Vec<u16>)] {
        &self.held
    }

    /// Lines that could not be held.
    pub fn unavailable(&self) -> &[u16] {
        &self.unavailable
    }

    /// When it lapses.
    pub fn expires_at(&self) -> Millis {
        self.expires_at
    }

    /// When it was created.
    pub fn created_at(&self) -> Millis {
        self.created_at
    }

    /// When it last changed.
    pub fn last_change(&self) -> Millis {
        self.last_change
    }

    /// The order that converted it.
    pub fn order(&self) -> Option<OrderNo> {
        self.order
    }

    /// Its status as of `now`: an active hold past `expires_at` is expired.
    pub fn status_at(&self, now: Millis) -> HoldStatus {
        match self.status {
            HoldStatus::Active if now >= self.expires_at => HoldStatus::Expired,
            s => s,
        }
    }

    /// Its status as recorded (an expiry not processed yet is still `active`).
    pub fn status(&self) -> HoldStatus {
        self.status
    }

    fn active_at(&self, now: Millis) -> Result<(), HoldRefusal> {
        match self.status_at(now) {
            HoldStatus::Active => Ok(()),
            s => Err(HoldRefusal::NotActive(s.as_str())),
        }
    }

    /// A new expiry `ttl_s` from `now`; only while active.
    pub fn decide_extend(
        &self,
        ttl_s: u32,
        now: Millis,
        ttl_s_max: u32,
    ) -> Result<HoldEvent, HoldRefusal> {
        check_ttl(ttl_s, ttl_s_max)?;
        self.active_at(now)?;
        Ok(HoldEvent::Extended {
            expires_at: now + u64::from(ttl_s) * 1000,
            at: now,
        })
    }

    /// Let go. `Ok(None)` when it already ended without an order (nothing
    /// to do, the answer is its state); refused once converted. An active
    /// hold past its expiry expires rather than being released.
    pub fn decide_release(&self, now: Millis) -> Result<Option<HoldEvent>, HoldRefusal> {
        match self.status_at(now) {
            HoldStatus::Active => Ok(Some(HoldEvent::Released { at: now })),
            HoldStatus::Converted => Err(HoldRefusal::Converted),
            HoldStatus::Released => Ok(None),
            HoldStatus::Expired => Ok(self.decide_expire(now)),
        }
    }

    /// An order takes the units in place; only while active.
    pub fn decide_convert(&self, order: OrderNo, now: Millis) -> Result<HoldEvent, HoldRefusal> {
        self.active_at(now)?;
        Ok(HoldEvent::Converted { order, at: now })
    }

    /// The expiry, once `now` has reached `expires_at` of an active hold.
    pub fn decide_expire(&self, now: Millis) -> Option<HoldEvent> {
        (self.status == HoldStatus::Active && now >= self.expires_at)
            .then_some(HoldEvent::Expired { at: now })
    }

    /// Applies an event from a decision (or the journal).
    ///
    /// Panics on an event that does not fit: a decided event always does,
    /// so that is a bug or a corrupt journal.
    pub fn apply(&mut self, event: &HoldEvent) {
        let ended = |s: &mut HoldState, status, at| {
            assert_eq!(
                s.status,
                HoldStatus::Active,
                "{event:?} on a hold that is not active"
            );
            s.status = status;
            s.last_change = at;
        };
        match *event {
            HoldEvent::Created { .. } => panic!("a hold is created once"),
            HoldEvent::Extended { expires_at, at } => {
                assert_eq!(self.status, HoldStatus::Active, "extend of an ended hold");
                self.expires_at = expires_at;
                self.last_change = at;
            }
            HoldEvent::Released { at } => ended(self, HoldStatus::Released, at),
            HoldEvent::Expired { at } => ended(self, HoldStatus::Expired, at),
            HoldEvent::Converted { order, at } => {
                ended(self, HoldStatus::Converted, at);
                self.order = Some(order);
            }
        }
    }

    /// The units it holds now, per (facility, line): none once it ended.
    pub fn units_held(&self) -> impl Iterator<Item = (FacilityIdx, u16, OrderLine)> + '_ {
        let active = self.status == HoldStatus::Active;
        self.held
            .iter()
            .filter(move |_| active)
            .flat_map(move |(f, lines)| {
                lines
                    .iter()
                    .map(move |&l| (*f, l, self.request.lines[usize::from(l)]))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SkuIdx;

    const NOW: Millis = 1_000_000;

    fn request(ttl_s: u32, allow_partial: bool) -> HoldRequest {
        HoldRequest {
            hold_id: Arc::from("h-77"),
            lat: 40.7,
            lon: -74.0,
            service_level: ServiceLevel::Standard,
            ttl_s,
            lines: vec![
                OrderLine {
                    sku: SkuIdx(1),
                    qty: 2,
                },
                OrderLine {
                    sku: SkuIdx(2),
                    qty: 1,
                },
            ],
            allow_partial,
        }
    }

    fn outcome(held: &[u16], unavailable: &[u16]) -> PlacementOutcome {
        PlacementOutcome {
            fulfillments: if held.is_empty() {
                vec![]
            } else {
                vec![(FacilityIdx(0), held.to_vec())]
            },
            backordered: unavailable.to_vec(),
            rejected: None,
        }
    }

    fn hold(ttl_s: u32) -> HoldState {
        let e = decide_create(request(ttl_s, true), outcome(&[0, 1], &[]), NOW, 14_400).unwrap();
        HoldState::from_created(HoldNo(1), &e).unwrap()
    }

    #[test]
    fn created_active_until_its_ttl_then_expired() {
        let h = hold(900);
        assert_eq!(h.expires_at(), NOW + 900_000);
        assert_eq!(h.status_at(NOW + 899_999), HoldStatus::Active);
        assert_eq!(h.status_at(NOW + 900_000), HoldStatus::Expired);
        assert_eq!(h.units_held().count(), 2);
        assert_eq!(h.decide_expire(NOW + 899_999), None);
        let mut h2 = h.clone();
        h2.apply(&h.decide_expire(NOW + 900_000).unwrap());
        assert_eq!(h2.status(), HoldStatus::Expired);
        assert_eq!(h2.units_held().count(), 0, "an expired hold holds nothing");
    }

    #[test]
    fn ttl_bounds_and_partial_holds() {
        for bad in [0, 14_401] {
            assert_eq!(
                decide_create(request(bad, true), outcome(&[0], &[]), NOW, 14_400),
                Err(HoldRefusal::Ttl {
                    max: 14_400,
                    got: bad
                })
            );
        }
        assert_eq!(check_ttl(3_600, 3_600), Ok(()));
        assert!(
            check_ttl(3_601, 3_600).is_err(),
            "a configured maximum below the ceiling holds"
        );
        assert!(
            check_ttl(20_000, 99_999).is_err(),
            "the ceiling holds whatever is configured"
        );
        assert_eq!(
            decide_create(request(900, false), outcome(&[0], &[1]), NOW, 14_400),
            Err(HoldRefusal::InsufficientStock),
            "holding more than is available is refused without allow_partial"
        );
        let e = decide_create(request(900, true), outcome(&[0], &[1]), NOW, 14_400).unwrap();
        let h = HoldState::from_created(HoldNo(2), &e).unwrap();
        assert_eq!(h.unavailable(), [1]);
        assert_eq!(h.units_held().count(), 1);
    }

    #[test]
    fn extend_release_and_convert_while_active() {
        let mut h = hold(60);
        let e = h.decide_extend(600, NOW + 30_000, 14_400).unwrap();
        h.apply(&e);
        assert_eq!(h.expires_at(), NOW + 630_000);
        let mut released = h.clone();
        released.apply(&h.decide_release(NOW + 40_000).unwrap().unwrap());
        assert_eq!(released.status(), HoldStatus::Released);
        assert_eq!(
            released.decide_release(NOW + 50_000),
            Ok(None),
            "releasing again is a no-op"
        );
        let mut converted = h.clone();
        converted.apply(&h.decide_convert(OrderNo(9), NOW + 40_000).unwrap());
        assert_eq!(converted.status(), HoldStatus::Converted);
        assert_eq!(converted.order(), Some(OrderNo(9)));
        assert_eq!(converted.units_held().count(), 0);
    }

    #[test]
    fn every_refused_transition() {
        let h = hold(60);
        let mut converted = h.clone();
        converted.apply(&h.decide_convert(OrderNo(9), NOW).unwrap());
        assert_eq!(
            converted.decide_extend(60, NOW, 14_400),
            Err(HoldRefusal::NotActive("converted"))
        );
        assert_eq!(converted.decide_release(NOW), Err(HoldRefusal::Converted));
        assert_eq!(
            converted.decide_convert(OrderNo(10), NOW),
            Err(HoldRefusal::NotActive("converted"))
        );
        assert_eq!(converted.decide_expire(NOW + 1_000_000), None);
        // Expired, whether or not the expiry was processed yet.
        let late = NOW + 60_000;
        assert_eq!(
            h.decide_convert(OrderNo(9), late),
            Err(HoldRefusal::NotActive("expired"))
        );
        assert_eq!(
            h.decide_extend(60, late, 14_400),
            Err(HoldRefusal::NotActive("expired"))
        );
        assert_eq!(
            h.decide_release(late),
            Ok(Some(HoldEvent::Expired { at: late }))
        );
        let mut released = h.clone();
        released.apply(&HoldEvent::Released { at: NOW });
        assert_eq!(
            released.decide_extend(60, NOW, 14_400),
            Err(HoldRefusal::NotActive("released"))
        );
        assert_eq!(
            released.decide_convert(OrderNo(1), NOW),
            Err(HoldRefusal::NotActive("released"))
        );
        assert_eq!(
            h.decide_extend(0, NOW, 14_400),
            Err(HoldRefusal::Ttl {
                max: 14_400,
                got: 0
            })
        );
    }
}
