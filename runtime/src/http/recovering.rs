//! The listener that answers while recovery runs, before the core exists:
//! `/healthz` 200 (the process is up), everything else, `/readyz` included,
//! 503 `not_ready` with `Retry-After`. `serve` starts it first and replaces
//! it with the real server once the journal has been replayed, so load
//! balancers see "not ready" rather than a refused connection.

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse};
use serde_json::json;

use super::errors::HttpError;

/// The running placeholder server.
pub struct RecoveringServer {
    handle: ServerHandle,
    /// The bound address.
    pub addr: SocketAddr,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok", "recovering": true}))
}

async fn not_ready() -> Result<HttpResponse, HttpError> {
    Err(HttpError::not_ready())
}

/// Binds `listen` and answers as above until stopped.
pub fn start(listen: &str) -> std::io::Result<RecoveringServer> {
    let listen = listen.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("orchestrator-recovering".into())
        .spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let server =
                    super::listener::serve("orchestrator-recovering", &listen, 1, 1, || {
                        App::new()
                            .route("/healthz", web::get().to(healthz))
                            .default_service(web::to(not_ready))
                    });
                let (server, addr) = match server {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return Ok(());
                    }
                };
                let _ = tx.send(Ok((server.handle(), addr)));
                server.await
            })
        })?;
    let (handle, addr) = rx
        .recv()
        .map_err(|_| std::io::Error::other("the recovery listener did not start"))??;
    Ok(RecoveringServer {
        handle,
        addr,
        thread,
    })
}

impl RecoveringServer {
    /// Stops it and waits until the port is free again.
    pub fn stop(self) {
        futures::executor::block_on(self.handle.stop(false));
        let _ = self.thread.join();
    }
}
