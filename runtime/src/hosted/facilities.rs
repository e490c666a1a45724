//! Facilities (`/v1/facilities`): their boards read on the shard that
//! owns each facility, manual waves and routing status changes answered
//! once durable. Times come from the host's clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use orch_actors::facility::{Wave, WaveTrigger};
use orch_actors::{FacilityIdx, OrderNo};
use orch_engine::{ActorRef, Answer, Msg};

use super::{durable, overloaded, unexpected, HostedCore};
use crate::dto::{FacilityStatusInput, FacilityView, WaveView};
use crate::error::{quote, ApiError};
use crate::present::{facility_state_view, wave_view};
use crate::validate;

impl HostedCore {
    /// Every facility (`GET /v1/facilities`), in configuration order, read
    /// on their shards concurrently.
    pub async fn facilities(&self) -> Result<Vec<FacilityView>, ApiError> {
        let n = self.catalog.facilities().len();
        futures::future::join_all((0..n).map(|i| self.facility_at(FacilityIdx(i as u16))))
            .await
            .into_iter()
            .collect()
    }

    /// One facility (`GET /v1/facilities/{id}`); 404 when unknown.
    pub async fn facility(&self, id: &str) -> Result<FacilityView, ApiError> {
        let f = self.known_facility(id)?;
        self.facility_at(f).await
    }

    /// Releases a wave now (`POST /v1/facilities/{id}/waves/release`);
    /// `wave_id` null when nothing is queued. Answers once the release is
    /// durable.
    pub async fn release_wave(&self, id: &str) -> Result<WaveView, ApiError> {
        let f = self.known_facility(id)?;
        let pending = self
            .host
            .offer(ActorRef::Facility(f), |reply| Msg::ReleaseWave {
                trigger: WaveTrigger::Manual,
                reply,
            })
            .map_err(|_| overloaded())?;
        let wave = match durable(pending).await? {
            Answer::Wave(w) => w,
            other => return Err(unexpected("wave", &other)),
        };
        if let (Some(w), Some(tx)) = (&wave, &self.announce) {
            let _ = tx.send(Arc::new(w.clone()));
        }
        let names = match &wave {
            Some(w) => self.order_names(w).await?,
            None => BTreeMap::new(),
        };
        Ok(wave_view(&self.catalog, f, wave.as_ref(), |no| {
            names.get(&no).cloned()
        }))
    }

    /// A wave the shards' timers released, as the API answers a wave: the
    /// facility's id (from the wave id, `FACILITY-W000001`) and the view.
    pub async fn timer_wave(&self, w: &Wave) -> Result<(String, WaveView), ApiError> {
        let facility = w.wave_id.rsplit_once("-W").map_or("", |(f, _)| f);
        let f = self.known_facility(facility)?;
        let names = self.order_names(w).await?;
        Ok((
            facility.to_string(),
            wave_view(&self.catalog, f, Some(w), |no| names.get(&no).cloned()),
        ))
    }

    /// Releases what is queued at every facility, wave after wave, until
    /// nothing is (tests and the load tester's drain); how many waves.
    pub async fn release_all_waves(&self) -> usize {
        let mut n = 0;
        for f in self.catalog.facilities() {
            while let Ok(w) = self.release_wave(&f.id).await {
                if w.wave_id.is_none() {
                    break;
                }
                n += 1;
            }
        }
        n
    }

    /// Enables or disables a facility for routing (`PUT
    /// /v1/facilities/{id}/status`); `until` (RFC 3339) ends a closure.
    pub async fn set_facility_status(
        &self,
        id: &str,
        input: &FacilityStatusInput,
    ) -> Result<FacilityView, ApiError> {
        let f = self.known_facility(id)?;
        let until = match &input.until {
            Some(t) => Some(validate::time("until", t)?),
            None => None,
        };
        let enabled = input.enabled;
        let pending = self
            .host
            .offer(ActorRef::Facility(f), |reply| Msg::SetStatus {
                enabled,
                until,
                reply,
            })
            .map_err(|_| overloaded())?;
        match durable(pending).await? {
            Answer::Status(Ok(())) => self.facility_at(f).await,
            Answer::Status(Err(e)) => {
                Err(validate::invalid("invalid_status", format!("until: {e}")))
            }
            other => Err(unexpected("status", &other)),
        }
    }

    fn known_facility(&self, id: &str) -> Result<FacilityIdx, ApiError> {
        self.catalog.facility(id).ok_or_else(|| {
            ApiError::not_found(
                "facility_not_found",
                format!("facility {} does not exist", quote(id)),
            )
        })
    }

    /// A facility's view, computed on its shard.
    async fn facility_at(&self, f: FacilityIdx) -> Result<FacilityView, ApiError> {
        let shard = self.host.ownership().shard_of(ActorRef::Facility(f));
        let catalog = self.catalog.clone();
        let now = self.host.clock().now();
        let rx = self
            .host
            .read(shard, move |s| {
                s.facilities()
                    .find(|x| x.idx() == f)
                    .map(|x| facility_state_view(&catalog, x, now))
            })
            .map_err(|_| overloaded())?;
        rx.await
            .map_err(|_| ApiError::unavailable("the host stopped or the journal failed"))?
            .ok_or_else(|| ApiError::unavailable(format!("facility {f:?} is not on its shard")))
    }

    /// The client ids of a wave's orders, read on their shards.
    async fn order_names(&self, w: &Wave) -> Result<BTreeMap<OrderNo, Arc<str>>, ApiError> {
        let own = self.host.ownership();
        let mut by_shard: BTreeMap<usize, Vec<OrderNo>> = BTreeMap::new();
        for r in &w.fulfillments {
            by_shard
                .entry(own.order(r.order))
                .or_default()
                .push(r.order);
        }
        let mut names = BTreeMap::new();
        for (shard, nos) in by_shard {
            let rx = self
                .host
                .read(shard, move |s| {
                    nos.iter()
                        .filter_map(|&no| s.order(no).map(|o| (no, o.request().order_id.clone())))
                        .collect::<Vec<_>>()
                })
                .map_err(|_| overloaded())?;
            let found = rx
                .await
                .map_err(|_| ApiError::unavailable("the host stopped or the journal failed"))?;
            names.extend(found);
        }
        Ok(names)
    }
}
