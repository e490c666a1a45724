//! The Facility state machine: enabled windows, capacity, the queue of
//! routed fulfillments and the waves released from it.
//!
//! A wave is released when the queue reaches the wave size, when the oldest
//! fulfillment has waited the max wait, at a carrier cutoff, or on demand.
//! Same day goes before next day before standard. A wave's pick list is
//! grouped by zone and ordered along the pick path (zone order, then bin).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use orch_config::{CarrierCutoff, FacilityConfig, Millis, ServiceLevel, WavePolicy};
use serde::{Deserialize, Serialize};

use crate::ids::{FacilityIdx, FulfillmentRef, SkuIdx};

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;

/// A fulfillment waiting in a facility's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedFulfillment {
    /// Which fulfillment.
    pub fulfillment: FulfillmentRef,
    /// Its lines: (sku, qty).
    pub lines: Vec<(SkuIdx, u32)>,
    /// Its service level.
    pub service_level: ServiceLevel,
    /// When it was queued.
    pub queued_at: Millis,
}

/// Why a wave was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WaveTrigger {
    /// The queue reached the wave size.
    Size,
    /// The oldest waited the max wait.
    MaxWait,
    /// A carrier cutoff.
    Cutoff,
    /// Someone asked.
    Manual,
}

impl WaveTrigger {
    /// The snake_case name used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            WaveTrigger::Size => "size",
            WaveTrigger::MaxWait => "max_wait",
            WaveTrigger::Cutoff => "cutoff",
            WaveTrigger::Manual => "manual",
        }
    }
}

/// One task of a pick list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickTask {
    /// Zone index (pick-path order).
    pub zone: u16,
    /// Bin within the zone (pick-path order).
    pub bin: u32,
    /// What to pick.
    pub sku: SkuIdx,
    /// How many.
    pub qty: u32,
    /// For which fulfillment.
    pub fulfillment: FulfillmentRef,
}

/// A released wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    /// `FACILITY-W000001`.
    pub wave_id: Arc<str>,
    /// Why it was released.
    pub trigger: WaveTrigger,
    /// When.
    pub released_at: Millis,
    /// Its fulfillments, in release order.
    pub fulfillments: Vec<FulfillmentRef>,
    /// The pick list along the pick path.
    pub pick_list: Vec<PickTask>,
}

/// A change to a facility, as journaled and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FacilityEvent {
    /// A fulfillment joined the queue.
    Enqueued(QueuedFulfillment),
    /// A queued fulfillment left before release (its order was cancelled).
    Dequeued {
        /// Which.
        fulfillment: FulfillmentRef,
    },
    /// A wave left the queue.
    WaveReleased {
        /// Its id.
        wave_id: Arc<str>,
        /// Why.
        trigger: WaveTrigger,
        /// When.
        at: Millis,
        /// Which fulfillments, in order.
        fulfillments: Vec<FulfillmentRef>,
    },
    /// A released fulfillment finished here (shipped or cancelled).
    Closed {
        /// Which.
        fulfillment: FulfillmentRef,
    },
    /// Routing enabled or disabled.
    StatusSet {
        /// Enabled?
        enabled: bool,
        /// Disabled until (then enabled again), if set.
        until: Option<Millis>,
    },
}

/// Why a facility refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FacilityRefusal {
    /// The fulfillment is already queued or released here.
    #[error("fulfillment is already at this facility")]
    AlreadyQueued,
    /// The fulfillment has no lines.
    #[error("fulfillment has no lines")]
    Empty,
    /// `until` is in the past.
    #[error("until is in the past")]
    UntilInPast,
}

/// The state of one facility.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FacilityState {
    idx: FacilityIdx,
    id: Arc<str>,
    zones: u16,
    policy: WavePolicy,
    cutoffs: Vec<CarrierCutoff>,
    capacity_per_hour: u32,
    enabled: bool,
    disabled_until: Option<Millis>,
    queues: [VecDeque<QueuedFulfillment>; 3],
    /// What the queues hold, for O(1) membership (a queue can hold thousands).
    queued_set: HashSet<FulfillmentRef>,
    released: HashMap<FulfillmentRef, Arc<str>>,
    open_waves: HashMap<Arc<str>, u32>,
    waves_released: u64,
    hour_start: Millis,
    routed_this_hour: u32,
    day_start: Millis,
    released_today: u32,
    last_tick: Millis,
}

fn level_slot(l: ServiceLevel) -> usize {
    match l {
        ServiceLevel::SameDay => 0,
        ServiceLevel::NextDay => 1,
        ServiceLevel::Standard => 2,
    }
}

/// Where a SKU sits in a facility: (zone, bin). Deterministic, so that pick
/// paths are reproducible without storing 1.28M slots.
pub fn pick_location(sku: SkuIdx, facility: FacilityIdx, zones: u16) -> (u16, u32) {
    let mut h = u64::from(sku.0) << 16 | u64::from(facility.0);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (
        (h % u64::from(zones.max(1))) as u16,
        ((h >> 20) % 10_000) as u32,
    )
}

impl FacilityState {
    /// A facility as configured, at time `now`.
    pub fn new(idx: FacilityIdx, cfg: &FacilityConfig, now: Millis) -> FacilityState {
        FacilityState {
            idx,
            id: Arc::from(cfg.id.as_str()),
            zones: cfg.zones.len().clamp(1, usize::from(u16::MAX)) as u16,
            policy: cfg.wave,
            cutoffs: cfg.cutoffs.clone(),
            capacity_per_hour: cfg.capacity_per_hour,
            enabled: cfg.enabled,
            disabled_until: None,
            queues: Default::default(),
            queued_set: HashSet::new(),
            released: HashMap::new(),
            open_waves: HashMap::new(),
            waves_released: 0,
            hour_start: now - now % HOUR_MS,
            routed_this_hour: 0,
            day_start: now - now % DAY_MS,
            released_today: 0,
            last_tick: now,
        }
    }

    /// The facility's index.
    pub fn idx(&self) -> FacilityIdx {
        self.idx
    }

    /// The facility's id.
    pub fn id(&self) -> &Arc<str> {
        &self.id
    }

    /// Whether routing may use it at `now`.
    pub fn enabled_at(&self, now: Millis) -> bool {
        self.enabled || self.disabled_until.is_some_and(|u| now >= u)
    }

    /// When a temporary closure ends, if one is set.
    pub fn disabled_until(&self) -> Option<Millis> {
        self.disabled_until
    }

    /// Fulfillments waiting for a wave.
    pub fn queued(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Waves released and not yet finished.
    pub fn open_waves(&self) -> usize {
        self.open_waves.len()
    }

    /// Fulfillments released today (UTC).
    pub fn released_today(&self) -> u32 {
        self.released_today
    }

    /// Capacity left this hour.
    pub fn capacity_left(&self) -> u32 {
        self.capacity_per_hour.saturating_sub(self.routed_this_hour)
    }

    /// Share of this hour's capacity already routed here.
    pub fn capacity_used(&self) -> f64 {
        f64::from(self.routed_this_hour) / f64::from(self.capacity_per_hour.max(1))
    }

    /// The wave a released fulfillment belongs to.
    pub fn wave_of(&self, f: FulfillmentRef) -> Option<&Arc<str>> {
        self.released.get(&f)
    }

    /// Whether a fulfillment is queued (not yet released).
    pub fn is_queued(&self, f: FulfillmentRef) -> bool {
        self.queued_set.contains(&f)
    }

    /// Queue a routed fulfillment.
    pub fn decide_enqueue(&self, q: QueuedFulfillment) -> Result<FacilityEvent, FacilityRefusal> {
        if q.lines.is_empty() {
            return Err(FacilityRefusal::Empty);
        }
        if self.released.contains_key(&q.fulfillment) || self.is_queued(q.fulfillment) {
            return Err(FacilityRefusal::AlreadyQueued);
        }
        Ok(FacilityEvent::Enqueued(q))
    }

    /// Take a queued fulfillment out (cancel); `None` when it is not queued.
    pub fn decide_dequeue(&self, f: FulfillmentRef) -> Option<FacilityEvent> {
        self.is_queued(f)
            .then_some(FacilityEvent::Dequeued { fulfillment: f })
    }

    /// Mark a released fulfillment finished here; `None` when not released here.
    pub fn decide_close(&self, f: FulfillmentRef) -> Option<FacilityEvent> {
        self.released
            .contains_key(&f)
            .then_some(FacilityEvent::Closed { fulfillment: f })
    }

    /// Enable or disable routing, optionally until a time.
    pub fn decide_status(
        &self,
        enabled: bool,
        until: Option<Millis>,
        now: Millis,
    ) -> Result<FacilityEvent, FacilityRefusal> {
        if until.is_some_and(|u| u <= now) {
            return Err(FacilityRefusal::UntilInPast);
        }
        Ok(FacilityEvent::StatusSet {
            enabled,
            until: if enabled { None } else { until },
        })
    }

    /// The trigger due at `now`, if any (size, then max wait, then cutoff).
    pub fn due_trigger(&self, now: Millis) -> Option<WaveTrigger> {
        let queued = self.queued();
        if queued == 0 {
            return None;
        }
        if queued >= self.policy.size_max as usize {
            return Some(WaveTrigger::Size);
        }
        let oldest = self
            .queues
            .iter()
            .filter_map(|q| q.front().map(|f| f.queued_at))
            .min()?;
        if now.saturating_sub(oldest) >= self.policy.wait_ms_max {
            return Some(WaveTrigger::MaxWait);
        }
        if !self.cutoff_levels(now).is_empty() {
            return Some(WaveTrigger::Cutoff);
        }
        None
    }

    /// Levels whose carrier cutoff passed in `(last_tick, now]` and that have work queued.
    fn cutoff_levels(&self, now: Millis) -> Vec<ServiceLevel> {
        let mut levels = Vec::new();
        if now <= self.last_tick {
            return levels;
        }
        for c in &self.cutoffs {
            let day = now - now % DAY_MS;
            let mut at = day + u64::from(c.minute_of_day) * 60_000;
            if at > now {
                at = at.saturating_sub(DAY_MS);
            }
            if at > self.last_tick && at <= now {
                for &l in &c.service_levels {
                    if !self.queues[level_slot(l)].is_empty() && !levels.contains(&l) {
                        levels.push(l);
                    }
                }
            }
        }
        levels
    }

    /// Release a wave for `trigger` at `now`; `None` when nothing is queued.
    pub fn decide_release(&self, trigger: WaveTrigger, now: Millis) -> Option<FacilityEvent> {
        let size = self.policy.size_max as usize;
        let levels: Vec<ServiceLevel> = match trigger {
            WaveTrigger::Cutoff => self.cutoff_levels(now),
            _ => ServiceLevel::ALL.to_vec(),
        };
        let mut fulfillments = Vec::new();
        for l in levels {
            for q in &self.queues[level_slot(l)] {
                if fulfillments.len() == size {
                    break;
                }
                fulfillments.push(q.fulfillment);
            }
        }
        if fulfillments.is_empty() {
            return None;
        }
        let wave_id: Arc<str> = format!("{}-W{:06}", self.id, self.waves_released + 1).into();
        Some(FacilityEvent::WaveReleased {
            wave_id,
            trigger,
            at: now,
            fulfillments,
        })
    }

    /// The pick list of a wave about to be released (call before applying it).
    pub fn pick_list(&self, fulfillments: &[FulfillmentRef]) -> Vec<PickTask> {
        let wanted: HashSet<FulfillmentRef> = fulfillments.iter().copied().collect();
        let mut tasks = Vec::new();
        for q in self.queues.iter().flatten() {
            if wanted.contains(&q.fulfillment) {
                for &(sku, qty) in &q.lines {
                    let (zone, bin) = pick_location(sku, self.idx, self.zones);
                    tasks.push(PickTask {
                        zone,
                        bin,
                        sku,
                        qty,
                        fulfillment: q.fulfillment,
                    });
                }
            }
        }
        tasks.sort_by_key(|t| (t.zone, t.bin, t.sku, t.fulfillment));
        tasks
    }

    /// Advance the clocks (hour and day windows, cutoff checks) to `now`.
    pub fn advance_clock(&mut self, now: Millis) {
        if now >= self.hour_start + HOUR_MS {
            self.hour_start = now - now % HOUR_MS;
            self.routed_this_hour = 0;
        }
        if now >= self.day_start + DAY_MS {
            self.day_start = now - now % DAY_MS;
            self.released_today = 0;
        }
        if self.disabled_until.is_some_and(|u| now >= u) {
            self.enabled = true;
            self.disabled_until = None;
        }
        self.last_tick = self.last_tick.max(now);
    }

    /// Apply an event (decided here or replayed).
    pub fn apply(&mut self, event: &FacilityEvent) {
        match event {
            FacilityEvent::Enqueued(q) => {
                self.routed_this_hour = self.routed_this_hour.saturating_add(1);
                self.queued_set.insert(q.fulfillment);
                self.queues[level_slot(q.service_level)].push_back(q.clone());
            }
            FacilityEvent::Dequeued { fulfillment } => {
                if self.queued_set.remove(fulfillment) {
                    for q in &mut self.queues {
                        q.retain(|x| x.fulfillment != *fulfillment);
                    }
                }
            }
            FacilityEvent::WaveReleased {
                wave_id,
                fulfillments,
                ..
            } => {
                // Only what is still queued: on replay a fulfillment cancelled
                // between the release decision and its journal record may
                // already be gone (live, this filter keeps everything).
                let fulfillments: Vec<FulfillmentRef> = fulfillments
                    .iter()
                    .copied()
                    .filter(|f| self.is_queued(*f))
                    .collect();
                let leaving: HashSet<FulfillmentRef> = fulfillments.iter().copied().collect();
                for q in &mut self.queues {
                    q.retain(|x| !leaving.contains(&x.fulfillment));
                }
                for f in &fulfillments {
                    self.queued_set.remove(f);
                }
                let fulfillments = &fulfillments;
                for f in fulfillments {
                    self.released.insert(*f, wave_id.clone());
                }
                self.open_waves
                    .insert(wave_id.clone(), fulfillments.len() as u32);
                self.waves_released += 1;
                self.released_today = self
                    .released_today
                    .saturating_add(fulfillments.len() as u32);
            }
            FacilityEvent::Closed { fulfillment } => {
                if let Some(w) = self.released.remove(fulfillment) {
                    if let Some(left) = self.open_waves.get_mut(&w) {
                        *left -= 1;
                        if *left == 0 {
                            self.open_waves.remove(&w);
                        }
                    }
                }
            }
            FacilityEvent::StatusSet { enabled, until } => {
                self.enabled = *enabled;
                self.disabled_until = *until;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrderNo;
    use orch_config::FacilityKind;

    fn cfg() -> FacilityConfig {
        FacilityConfig {
            id: "DC-01".into(),
            kind: FacilityKind::Dc,
            lat: 0.0,
            lon: 0.0,
            capacity_per_hour: 10,
            cost_per_fulfillment: 1.0,
            zones: vec!["A".into(), "B".into(), "C".into()],
            wave: WavePolicy {
                size_max: 3,
                wait_ms_max: 1_000,
            },
            cutoffs: vec![CarrierCutoff {
                carrier: "UPS".into(),
                minute_of_day: 900,
                service_levels: vec![ServiceLevel::SameDay],
            }],
            enabled: true,
        }
    }

    fn q(o: u64, level: ServiceLevel, at: Millis) -> QueuedFulfillment {
        QueuedFulfillment {
            fulfillment: FulfillmentRef {
                order: OrderNo(o),
                n: 1,
            },
            lines: vec![(SkuIdx(o as u32), 1), (SkuIdx(o as u32 + 100), 2)],
            service_level: level,
            queued_at: at,
        }
    }

    fn enqueue(f: &mut FacilityState, x: QueuedFulfillment) {
        let e = f.decide_enqueue(x).unwrap();
        f.apply(&e);
    }

    const T0: Millis = 1_700_000_000_000 - 1_700_000_000_000 % DAY_MS; // midnight

    #[test]
    fn size_trigger_releases_same_day_first() {
        let mut f = FacilityState::new(FacilityIdx(0), &cfg(), T0);
        enqueue(&mut f, q(1, ServiceLevel::Standard, T0));
        enqueue(&mut f, q(2, ServiceLevel::NextDay, T0));
        assert_eq!(f.due_trigger(T0), None);
        enqueue(&mut f, q(3, ServiceLevel::SameDay, T0));
        enqueue(&mut f, q(4, ServiceLevel::Standard, T0));
        assert_eq!(f.due_trigger(T0), Some(WaveTrigger::Size));
        let e = f.decide_release(WaveTrigger::Size, T0).unwrap();
        let FacilityEvent::WaveReleased {
            fulfillments,
            wave_id,
            ..
        } = &e
        else {
            panic!()
        };
        let orders: Vec<u64> = fulfillments.iter().map(|x| x.order.0).collect();
        assert_eq!(orders, vec![3, 2, 1]);
        assert_eq!(&**wave_id, "DC-01-W000001");
        let list = f.pick_list(fulfillments);
        assert_eq!(list.len(), 6);
        assert!(list
            .windows(2)
            .all(|w| (w[0].zone, w[0].bin) <= (w[1].zone, w[1].bin)));
        f.apply(&e);
        assert_eq!(f.queued(), 1);
        assert_eq!(f.open_waves(), 1);
        assert_eq!(f.released_today(), 3);
    }

    #[test]
    fn max_wait_and_cutoff_triggers() {
        let mut f = FacilityState::new(FacilityIdx(0), &cfg(), T0);
        enqueue(&mut f, q(1, ServiceLevel::Standard, T0));
        assert_eq!(f.due_trigger(T0 + 999), None);
        assert_eq!(f.due_trigger(T0 + 1_000), Some(WaveTrigger::MaxWait));

        let mut f = FacilityState::new(FacilityIdx(0), &cfg(), T0 + 899 * 60_000);
        f.policy.wait_ms_max = u64::MAX;
        enqueue(&mut f, q(1, ServiceLevel::SameDay, T0));
        enqueue(&mut f, q(2, ServiceLevel::Standard, T0));
        assert_eq!(f.due_trigger(T0 + 899 * 60_000 + 1), None);
        let now = T0 + 900 * 60_000;
        assert_eq!(f.due_trigger(now), Some(WaveTrigger::Cutoff));
        let e = f.decide_release(WaveTrigger::Cutoff, now).unwrap();
        let FacilityEvent::WaveReleased { fulfillments, .. } = &e else {
            panic!()
        };
        assert_eq!(fulfillments.len(), 1, "cutoff releases only its levels");
        f.apply(&e);
        f.advance_clock(now);
        assert_eq!(f.due_trigger(now + 1), None, "a cutoff fires once");
    }

    #[test]
    fn refusals_change_nothing() {
        let mut f = FacilityState::new(FacilityIdx(0), &cfg(), T0);
        enqueue(&mut f, q(1, ServiceLevel::Standard, T0));
        let mut dup = q(1, ServiceLevel::Standard, T0);
        assert_eq!(
            f.decide_enqueue(dup.clone()),
            Err(FacilityRefusal::AlreadyQueued)
        );
        dup.fulfillment.order = OrderNo(9);
        dup.lines.clear();
        assert_eq!(f.decide_enqueue(dup), Err(FacilityRefusal::Empty));
        assert_eq!(
            f.decide_status(false, Some(T0 - 1), T0),
            Err(FacilityRefusal::UntilInPast)
        );
        assert_eq!(
            f.decide_close(q(1, ServiceLevel::Standard, T0).fulfillment),
            None
        );
        assert_eq!(
            f.decide_dequeue(q(7, ServiceLevel::Standard, T0).fulfillment),
            None
        );
        assert_eq!(f.queued(), 1);
        assert!(f.enabled_at(T0));
        let mut empty = FacilityState::new(FacilityIdx(0), &cfg(), T0);
        assert_eq!(empty.decide_release(WaveTrigger::Manual, T0), None);
        empty.advance_clock(T0 + 1);
        assert_eq!(empty.queued(), 0);
    }

    #[test]
    fn disable_until_reenables() {
        let mut f = FacilityState::new(FacilityIdx(0), &cfg(), T0);
        let e = f.decide_status(false, Some(T0 + 10), T0).unwrap();
        f.apply(&e);
        assert!(!f.enabled_at(T0 + 5));
        assert!(f.enabled_at(T0 + 10));
        f.advance_clock(T0 + 11);
        assert!(f.enabled_at(T0 + 11));
        assert_eq!(f.disabled_until(), None);
    }

    #[test]
    fn dequeue_and_close() {
        let mut f = FacilityState::new(FacilityIdx(0), &cfg(), T0);
        enqueue(&mut f, q(1, ServiceLevel::Standard, T0));
        enqueue(&mut f, q(2, ServiceLevel::Standard, T0));
        let e = f
            .decide_dequeue(q(1, ServiceLevel::Standard, T0).fulfillment)
            .unwrap();
        f.apply(&e);
        let e = f.decide_release(WaveTrigger::Manual, T0).unwrap();
        f.apply(&e);
        let r = q(2, ServiceLevel::Standard, T0).fulfillment;
        assert_eq!(&**f.wave_of(r).unwrap(), "DC-01-W000001");
        let e = f.decide_close(r).unwrap();
        f.apply(&e);
        assert_eq!(f.open_waves(), 0);
        assert_eq!(f.capacity_left(), 8);
    }
}
