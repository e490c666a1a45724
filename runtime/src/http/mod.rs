//! The HTTP API of API.md on actix-web: routes (one table, [`routes::ROUTES`]),
//! errors in the API's format, body limits, bearer auth, backpressure,
//! readiness, an access log and the OpenAPI document.
//!
//! The server runs on its own thread with its own actix system; the facade
//! runs the actors on another. Handlers only call the facade.
//!
//! Status-code rules (see also [`limits`]):
//! - facade errors map by class: 400 malformed, 404 unknown id, 409
//!   conflict, 413 too large, 422 invalid, 429 busy, 503 unavailable;
//! - `413 body_too_large` for a body over `limits.body_bytes_max` (by
//!   `Content-Length` before reading, or while reading a chunked body);
//! - `415 unsupported_media_type` for a body that is not `application/json`;
//! - `400 malformed_json` for bytes that are not JSON (and nesting deeper
//!   than 128), `400 malformed_query` for an undecodable query string;
//! - `422 invalid_field` for JSON of the wrong shape (missing field, wrong
//!   type, unknown field), the message starting with the field's path;
//!   `422 too_many_orders` / `too_many_events` for a batch over its limit
//!   (like `too_many_lines` for an order);
//! - `404 route_not_found` for an unknown path, `405 method_not_allowed`
//!   (with `Allow`) for a known path with another method;
//! - on `/v1` only: `503 not_ready` (Retry-After: 1) before the core is
//!   ready, `401 unauthorized` without the configured bearer token, `429
//!   too_many_requests` (Retry-After: 1) above `limits.inflight_requests_max`
//!   requests in flight, checked in that order before routing;
//! - `/healthz`, `/readyz` and `/metrics` (Prometheus text, see
//!   [`metrics`]) are always open; `/metrics` is also served on
//!   `listen.metrics` when that is set.

pub mod auth;
pub mod errors;
pub mod gate;
pub mod holds;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod recovering;
pub mod routes;
pub mod schema;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use orch_config::{Config, Limits};

use crate::app::Core;

/// What every handler sees.
pub struct AppState {
    /// The core (the shells or the engine host).
    pub core: Core,
    /// Request limits.
    pub limits: Limits,
    /// Bearer token for `/v1`, if any.
    pub token: Option<String>,
    /// Set once the core takes traffic.
    pub ready: Arc<AtomicBool>,
    /// `/v1` requests in flight.
    pub inflight: AtomicUsize,
    /// The schemas requests are checked with (from `limits`).
    pub schemas: schema::Schemas,
    /// The OpenAPI document, built once from the same schemas.
    pub openapi: web::Bytes,
}

impl AppState {
    /// The state for a core under a configuration.
    pub fn new(core: impl Into<Core>, cfg: &Config, ready: Arc<AtomicBool>) -> AppState {
        let core = core.into();
        let schemas = schema::Schemas::new(&cfg.limits);
        let catalog = schema::CatalogLists {
            skus: cfg.network.skus.clone(),
            facilities: (cfg.network.facilities.iter())
                .map(|f| f.id.clone())
                .collect(),
        };
        let doc = openapi::document(&schemas, &catalog);
        AppState {
            core,
            limits: cfg.limits,
            token: cfg.auth.token.clone().filter(|t| !t.is_empty()),
            ready,
            inflight: AtomicUsize::new(0),
            schemas,
            openapi: web::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default()),
        }
    }
}

impl AppState {
    /// Whether `/v1` takes traffic.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// The application every worker serves (and the in-process tests call):
/// the routes, `/metrics`, the JSON 404 for any other path, and the
/// middleware (gate, access log, metrics).
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .configure(routes::configure)
        .configure(metrics::configure)
        .default_service(web::to(routes::route_not_found))
        .wrap(from_fn(gate::gate))
        .wrap(from_fn(gate::access_log))
        .wrap(from_fn(metrics::track))
}

/// A running HTTP server.
pub struct RunningServer {
    /// Stops the server.
    pub handle: ServerHandle,
    /// The bound address (the real port when asked for port 0).
    pub addr: SocketAddr,
    /// Readiness: `/readyz` and `/v1` answer 503 while false.
    pub ready: Arc<AtomicBool>,
    /// The bound address of the `listen.metrics` listener, if configured.
    pub metrics_addr: Option<SocketAddr>,
    metrics_handle: Option<ServerHandle>,
    sampler: Option<crate::sampler::Sampler>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Marks the core ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
        crate::metrics::set_ready(ready);
    }

    /// Stops accepting, lets requests in flight finish, and waits for the
    /// server thread. Call from outside the server's own runtime.
    pub fn stop(mut self) -> std::io::Result<()> {
        if let Some(m) = self.metrics_handle.take() {
            futures::executor::block_on(m.stop(true));
        }
        futures::executor::block_on(self.handle.stop(true));
        drop(self.sampler.take());
        self.thread
            .join()
            .map_err(|_| std::io::Error::other("the HTTP server thread panicked"))?
    }
}

/// Starts the HTTP server for a started core on `listen` (`127.0.0.1:0`
/// picks a free port), already marked ready.
pub fn start_server(
    core: impl Into<Core>,
    cfg: &Config,
    listen: &str,
) -> std::io::Result<RunningServer> {
    start_server_with(core, cfg, listen, true)
}

/// Starts the HTTP server; `ready` is the initial readiness (false while
/// recovery runs; flip it with [`RunningServer::set_ready`]).
pub fn start_server_with(
    core: impl Into<Core>,
    cfg: &Config,
    listen: &str,
    ready: bool,
) -> std::io::Result<RunningServer> {
    let core: Core = core.into();
    crate::metrics::install();
    crate::metrics::set_ready(ready);
    let ready = Arc::new(AtomicBool::new(ready));
    let sampler_core = core.clone();
    let state = web::Data::new(AppState::new(core, cfg, ready.clone()));
    let workers = match cfg.runtime.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n as usize,
    };
    let listen = listen.to_string();
    let metrics_listen = cfg.listen.metrics.clone().filter(|m| !m.is_empty());
    let inflight_state = state.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("orchestrator-http".into())
        .spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let server = listener::serve("orchestrator-http", &listen, workers, 5, move || {
                    app(state.clone())
                });
                let (running, addr) = match server {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return Ok(());
                    }
                };
                let metrics_server = match metrics_listen.as_deref().map(metrics_only) {
                    None => None,
                    Some(Ok(m)) => Some(m),
                    Some(Err(e)) => {
                        let _ = tx.send(Err(e));
                        return Ok(());
                    }
                };
                let metrics_side = metrics_server.map(|(m, maddr)| {
                    let handle = m.handle();
                    actix_rt::spawn(m);
                    (handle, maddr)
                });
                let _ = tx.send(Ok((running.handle(), addr, metrics_side)));
                running.await
            })
        })?;
    let (handle, addr, metrics_side) = rx
        .recv()
        .map_err(|_| std::io::Error::other("the HTTP server thread stopped while starting"))??;
    tracing::info!(%addr, workers, "HTTP API listening");
    let (metrics_handle, metrics_addr) = match metrics_side {
        Some((h, a)) => {
            tracing::info!(addr = %a, "metrics listening");
            (Some(h), Some(a))
        }
        None => (None, None),
    };
    let inflight: crate::sampler::InflightFn =
        Box::new(move || inflight_state.inflight.load(Ordering::Relaxed));
    let sampler = match crate::sampler::Sampler::start(sampler_core, Some(inflight)) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: no sampler thread; gauges will not move");
            None
        }
    };
    Ok(RunningServer {
        handle,
        addr,
        ready,
        metrics_addr,
        metrics_handle,
        sampler,
        thread,
    })
}

/// A server of `/metrics` alone, for `listen.metrics` (one worker: a
/// scrape a second is all it serves).
fn metrics_only(listen: &str) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    listener::serve("orchestrator-metrics", listen, 1, 1, || {
        App::new()
            .configure(metrics::configure)
            .default_service(web::to(routes::route_not_found))
            .wrap(from_fn(metrics::track))
    })
    .map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("listen.metrics: cannot listen on '{listen}': {e}"),
        )
    })
}
