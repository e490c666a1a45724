//! The application over the engine host: what the API asks, answered by
//! the shards ([`crate::host::Host`]) instead of the actix shells.
//!
//! Served over HTTP by default (`runtime.engine = "host"`), with the same
//! DTOs and error codes as the Orchestrator:
//!
//! - this module: placements (one, naming a hold, or a batch), order
//!   reads and cancels;
//! - [`holds`]: create, read, extend and release holds;
//! - `scans`: scan events, per event applied, duplicate or rejected;
//! - `stock`: receipts and cycle counts;
//! - `reads`: the SKU catalog, inventory (read on the shards),
//!   availability and promise (from the published view);
//! - `facilities`: facility boards, manual waves, routing status;
//! - `views`: holds as the API answers them;
//! - `quiet`: waiting for quiet, the audit of the shards' ledgers, the
//!   actors resident (tests and the load tester);
//! - [`start`]: starting and stopping it on the configured journal.
//!
//! The event feed, metrics and checkpoints are `start`'s and
//! [`crate::app`]'s.
//!
//! Client ids (`order_id`, `hold_id`) map to the engine's numbers through
//! [`crate::idempotency::Keys`]: a request with an id still in flight waits
//! for the first one's outcome, so a replay never vouches for a refused
//! request. The maps are rebuilt from the shards when the core starts.
//! Every answer is let out by the host only once what it reports is
//! durable; an `Overloaded` shard answers 429 and queues nothing.

mod facilities;
pub mod holds;
mod quiet;
mod reads;
mod scans;
pub mod start;
mod stock;
mod views;

use std::sync::Arc;

use futures::future::join_all;

use orch_actors::hold::HoldNo;
use orch_actors::order::OrderState;
use orch_actors::OrderNo;
use orch_config::carriers::Carriers;
use orch_config::{Config, Limits};
use orch_engine::{ActorRef, Answer, Msg};

use crate::catalog::Catalog;
use crate::dto::{OrderView, PlaceOrder, Placed, PlacedHold};
use crate::error::{cancel_refused, quote, ApiError, ErrorKind};
use crate::host::{Host, Pending, PlaceRefusal};
use crate::idempotency::{Claim, Keys};
use crate::present::order_view;
use crate::validate;

/// The application over a running host.
pub struct HostedCore {
    host: Host,
    catalog: Arc<Catalog>,
    limits: Limits,
    carriers: Arc<Carriers>,
    orders: Arc<Keys<OrderNo>>,
    holds: Arc<Keys<HoldNo>>,
    /// Where manual waves are announced too (the timers' are by the host).
    announce: Option<tokio::sync::broadcast::Sender<Arc<orch_actors::facility::Wave>>>,
}

/// 429: a shard is full; nothing was queued.
fn overloaded() -> ApiError {
    ApiError {
        kind: ErrorKind::Busy,
        code: "overloaded",
        message: "the core is at capacity; nothing was queued, retry later".into(),
    }
}

/// The host's answer once durable, or 503.
async fn durable(p: Pending) -> Result<Answer, ApiError> {
    match p.await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(why)) => Err(ApiError::unavailable(why.to_string())),
        Err(_) => Err(ApiError::unavailable("the host stopped")),
    }
}

fn unexpected(what: &str, answer: &Answer) -> ApiError {
    ApiError::unavailable(format!("{what}: unexpected answer {answer:?}"))
}

impl HostedCore {
    /// The application over `host`, with the client ids of every order
    /// and hold its shards hold.
    pub async fn over(host: Host, cfg: &Config) -> Result<HostedCore, ApiError> {
        let ids = host
            .read_all(|s| {
                let orders: Vec<(Arc<str>, OrderNo)> = s
                    .orders()
                    .map(|o| (o.request().order_id.clone(), o.no()))
                    .collect();
                let holds: Vec<(Arc<str>, HoldNo)> = s
                    .holds()
                    .map(|h| (h.request().hold_id.clone(), h.no()))
                    .collect();
                (orders, holds)
            })
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
        let (orders, holds): (Vec<_>, Vec<_>) = ids.into_iter().unzip();
        Ok(HostedCore {
            catalog: Arc::new(Catalog::new(&cfg.network)),
            limits: cfg.limits,
            carriers: Arc::new(cfg.carriers.clone()),
            orders: Arc::new(Keys::seen_with(orders.into_iter().flatten())),
            holds: Arc::new(Keys::seen_with(holds.into_iter().flatten())),
            announce: None,
            host,
        })
    }

    /// Announces the waves released on request on `tx` too, as the
    /// shards' timers announce theirs (the floor hears every wave).
    pub fn announce_waves(
        &mut self,
        tx: tokio::sync::broadcast::Sender<Arc<orch_actors::facility::Wave>>,
    ) {
        self.announce = Some(tx);
    }

    /// The host underneath.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Places an order (`POST /v1/orders`): the same `order_id` with the
    /// same body answers the order again (`replay`), another body is a
    /// conflict. Answers once the placement is durable.
    pub async fn place(&self, o: &PlaceOrder) -> Result<Placed, ApiError> {
        self.place_holding(o, None).await
    }

    /// Places an order that may name a hold (`"hold_id"` in the body):
    /// the hold converts and the order takes its units where they are
    /// held. A hold that is unknown or no longer active does not fail the
    /// order: it is placed as usual. The answer carries the hold's id and
    /// status after the placement (`None` for an unknown hold).
    pub async fn place_holding(
        &self,
        o: &PlaceOrder,
        hold_id: Option<&str>,
    ) -> Result<Placed, ApiError> {
        let req = validate::order(&self.catalog, &self.limits, o)?;
        if let Some(h) = hold_id {
            validate::check_id("hold_id", h, self.limits.id_len_max)?;
        }
        let hold_no = hold_id.and_then(|h| self.holds.get(h));
        let claim = match self.orders.claim(req.order_id.clone()).await {
            Claim::Seen(no) => {
                let state = self.order_state(no).await?;
                if state.request() != &req {
                    return Err(ApiError::conflict(
                        "order_conflict",
                        format!(
                            "order_id: {} was placed before with a different body",
                            quote(&req.order_id)
                        ),
                    ));
                }
                let hold = self.placed_hold(hold_id, hold_no).await?;
                return Ok(self.placed(&state, true, hold));
            }
            Claim::Mine(claim) => claim,
        };
        let admitted = match hold_no {
            Some(h) => self.host.place_with_hold(req, h),
            None => self.host.place(req),
        };
        let (no, pending) = admitted.map_err(|r| match r {
            PlaceRefusal::Invalid(why) => ApiError::invalid("invalid_order", why),
            PlaceRefusal::Overloaded => overloaded(),
        })?;
        match durable(pending).await? {
            Answer::Placed(Ok(n)) if n == no => claim.applied(no),
            Answer::Placed(Err(why)) => return Err(ApiError::invalid("invalid_order", why)),
            other => return Err(unexpected("placement", &other)),
        }
        // The order as the placement left it comes with the answer.
        let state = match self.host.take_placed(no) {
            Some(s) => s,
            None => self.order_state(no).await?,
        };
        let hold = self.placed_hold(hold_id, hold_no).await?;
        Ok(self.placed(&state, false, hold))
    }

    /// Places many orders concurrently; one answer per order, in order.
    pub async fn place_batch(&self, orders: &[PlaceOrder]) -> Vec<Result<Placed, ApiError>> {
        join_all(orders.iter().map(|o| self.place(o))).await
    }

    /// The named hold as it stands, for a placement's answer.
    async fn placed_hold(
        &self,
        hold_id: Option<&str>,
        no: Option<HoldNo>,
    ) -> Result<Option<PlacedHold>, ApiError> {
        let (Some(hold_id), Some(no)) = (hold_id, no) else {
            return Ok(None);
        };
        let state = self
            .hold_call(no, hold_id, |reply| Msg::ReadHold { reply })
            .await?;
        Ok(Some(PlacedHold {
            hold_id: hold_id.to_string(),
            status: state.status().as_str().into(),
        }))
    }

    fn placed(&self, state: &OrderState, replay: bool, hold: Option<PlacedHold>) -> Placed {
        Placed {
            order: order_view(&self.catalog, state, false),
            replay,
            hold,
        }
    }

    /// An order with its timeline (`GET /v1/orders/{id}`).
    pub async fn order(&self, order_id: &str) -> Result<OrderView, ApiError> {
        let state = self.order_state(self.order_no(order_id)?).await?;
        Ok(order_view(&self.catalog, &state, true))
    }

    /// Cancels an order (`POST /v1/orders/{id}/cancel`): its reservations
    /// are released and its waiting lines leave the queues.
    pub async fn cancel(&self, order_id: &str) -> Result<OrderView, ApiError> {
        let no = self.order_no(order_id)?;
        let pending = self
            .host
            .offer(ActorRef::Order(no), |reply| Msg::Cancel { reply })
            .map_err(|_| overloaded())?;
        match durable(pending).await? {
            Answer::Cancelled(Ok(())) => {}
            Answer::Cancelled(Err(why)) => return Err(cancel_refused(why)),
            other => return Err(unexpected("cancel", &other)),
        }
        let state = self.order_state(no).await?;
        Ok(order_view(&self.catalog, &state, true))
    }

    fn order_no(&self, order_id: &str) -> Result<OrderNo, ApiError> {
        self.orders.get(order_id).ok_or_else(|| {
            ApiError::not_found(
                "order_not_found",
                format!("order {} does not exist", quote(order_id)),
            )
        })
    }

    /// What the checkpoint thread tells about ended orders, carried out on
    /// this application: passivation, and forgetting orders past retention
    /// (their shards first, then their client ids).
    pub fn retire(&self) -> Arc<dyn crate::persist::checkpoint::Retire> {
        Arc::new(Retirement {
            host: self.host.clone(),
            ids: self.orders.clone(),
            hold_ids: self.holds.clone(),
        })
    }

    /// The order's state, read on its shard once what it reports is
    /// durable; a passive order's from the snapshot store (off the shard,
    /// on a blocking thread when there is a runtime).
    pub(super) async fn order_state(&self, no: OrderNo) -> Result<OrderState, ApiError> {
        let shard = self.host.ownership().order(no);
        let rx = self
            .host
            .read(shard, move |s| (s.order(no).cloned(), s.is_passive(no)))
            .map_err(|_| overloaded())?;
        let (state, passive) = rx
            .await
            .map_err(|_| ApiError::unavailable("the host stopped or the journal failed"))?;
        let missing = || ApiError::unavailable(format!("order {no:?} is not on its shard"));
        match (state, passive) {
            (Some(state), _) => Ok(state),
            (None, false) => Err(missing()),
            (None, true) => {
                let host = self.host.clone();
                let read = move || host.passive_order(no);
                let stored = match tokio::runtime::Handle::try_current() {
                    Ok(rt) => rt
                        .spawn_blocking(read)
                        .await
                        .map_err(|e| ApiError::unavailable(format!("reading order {no:?}: {e}")))?,
                    Err(_) => read(),
                };
                stored
                    .map_err(|e| ApiError::unavailable(format!("reading order {no:?}: {e}")))?
                    .ok_or_else(missing)
            }
        }
    }
}

/// The host's side of the checkpoint thread's retirements.
struct Retirement {
    host: Host,
    ids: Arc<Keys<OrderNo>>,
    hold_ids: Arc<Keys<HoldNo>>,
}

impl crate::persist::checkpoint::Retire for Retirement {
    fn passivate(&self, idle: &crate::persist::checkpoint::Idle) -> usize {
        self.host.passivate(idle)
    }

    fn forget(&self, old: &[crate::persist::checkpoint::Old]) -> Vec<OrderNo> {
        let asked: Vec<(OrderNo, usize)> = old.iter().map(|o| (o.no, o.timeline)).collect();
        let gone = self.host.forget(&asked);
        free_ids(&self.ids, old.iter().map(|o| (&*o.order_id, o.no)), gone)
    }

    fn forget_holds(&self, old: &[crate::persist::checkpoint::OldHold]) -> Vec<HoldNo> {
        let asked: Vec<HoldNo> = old.iter().map(|h| h.no).collect();
        let gone = self.host.forget_holds(&asked);
        free_ids(
            &self.hold_ids,
            old.iter().map(|h| (&*h.hold_id, h.no)),
            gone,
        )
    }
}

/// Frees the client ids of the `asked` (id, number) the shards let go
/// (`gone`, answered back): shards first, then ids, so an id is never free
/// while its number still answers.
fn free_ids<'a, N: Copy + Eq + std::hash::Hash>(
    ids: &Keys<N>,
    asked: impl Iterator<Item = (&'a str, N)>,
    gone: Vec<N>,
) -> Vec<N> {
    let gone_set: std::collections::HashSet<N> = gone.iter().copied().collect();
    for (id, no) in asked.filter(|(_, no)| gone_set.contains(no)) {
        ids.forget(id, &no);
    }
    gone
}
