//! The application over the engine host: what the API asks (placements,
//! order reads, cancels, holds), answered by the shards
//! ([`crate::host::Host`]) instead of the actix shells. Not served yet:
//! the HTTP layer still runs [`crate::Orchestrator`]; this grows until it
//! answers every route, then replaces it.
//!
//! - [`holds`]: create, read, extend and release holds.
//! - `views`: holds as the API answers them.
//!
//! Client ids (`order_id`, `hold_id`) map to the engine's numbers through
//! [`crate::idempotency::Keys`]: a request with an id still in flight waits
//! for the first one's outcome, so a replay never vouches for a refused
//! request. The maps are rebuilt from the shards when the core starts.
//! Every answer is let out by the host only once what it reports is
//! durable; an `Overloaded` shard answers 429 and queues nothing.

pub mod holds;
mod views;

use std::sync::Arc;

use orch_actors::hold::HoldNo;
use orch_actors::order::OrderState;
use orch_actors::OrderNo;
use orch_config::{Config, Limits};
use orch_engine::{ActorRef, Answer, Msg};

use crate::catalog::Catalog;
use crate::dto::{OrderView, PlaceOrder, Placed};
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
    orders: Keys<OrderNo>,
    holds: Keys<HoldNo>,
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
            orders: Keys::seen_with(orders.into_iter().flatten()),
            holds: Keys::seen_with(holds.into_iter().flatten()),
            host,
        })
    }

    /// The host underneath.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Places an order (`POST /v1/orders`): the same `order_id` with the
    /// same body answers the order again (`replay`), another body is a
    /// conflict. Answers once the placement is durable.
    pub async fn place(&self, o: &PlaceOrder) -> Result<Placed, ApiError> {
        let req = validate::order(&self.catalog, &self.limits, o)?;
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
                return Ok(self.placed(&state, true));
            }
            Claim::Mine(claim) => claim,
        };
        let (no, pending) = self.host.place(req).map_err(|r| match r {
            PlaceRefusal::Invalid(why) => ApiError::invalid("invalid_order", why),
            PlaceRefusal::Overloaded => overloaded(),
        })?;
        match durable(pending).await? {
            Answer::Placed(Ok(n)) if n == no => claim.applied(no),
            Answer::Placed(Err(why)) => return Err(ApiError::invalid("invalid_order", why)),
            other => return Err(unexpected("placement", &other)),
        }
        let state = self.order_state(no).await?;
        Ok(self.placed(&state, false))
    }

    fn placed(&self, state: &OrderState, replay: bool) -> Placed {
        Placed {
            order: order_view(&self.catalog, state, false),
            replay,
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

    /// The order's state, read on its shard once what it reports is durable.
    async fn order_state(&self, no: OrderNo) -> Result<OrderState, ApiError> {
        let shard = self.host.ownership().order(no);
        let rx = self
            .host
            .read(shard, move |s| s.order(no).cloned())
            .map_err(|_| overloaded())?;
        rx.await
            .map_err(|_| ApiError::unavailable("the host stopped or the journal failed"))?
            .ok_or_else(|| ApiError::unavailable(format!("order {no:?} is not on its shard")))
    }
}
