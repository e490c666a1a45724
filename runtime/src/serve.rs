//! `orchestrator serve`: load the config, start the core, run until
//! interrupted.

use std::path::PathBuf;

use crate::app::Core;

/// Options of `orchestrator serve`.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// TOML file; the embedded default when `None`.
    pub config: Option<PathBuf>,
    /// Overrides `durability.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// Overrides `listen.http`.
    pub listen: Option<String>,
    /// JSON log lines.
    pub json_logs: bool,
    /// Overrides `runtime.engine` (`shells` or `host`).
    pub engine: Option<String>,
}

/// Sets up logging (`RUST_LOG` filters, default info).
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Loads the configuration `opts` names, with its overrides applied.
pub fn load_config(opts: &ServeOptions) -> Result<orch_config::Config, String> {
    let mut cfg = match &opts.config {
        Some(path) => orch_config::load_file(path).map_err(|e| e.to_string())?,
        None => orch_config::embedded_default(),
    };
    if let Some(d) = &opts.data_dir {
        cfg.durability.data_dir = d.display().to_string();
    }
    if let Some(l) = &opts.listen {
        l.parse::<std::net::SocketAddr>()
            .map_err(|e| format!("--listen: '{l}' is not an address: {e}"))?;
        cfg.listen.http = l.clone();
    }
    if let Some(e) = &opts.engine {
        cfg.runtime.engine = match e.as_str() {
            "shells" => orch_config::EngineKind::Shells,
            "host" => orch_config::EngineKind::Host,
            other => return Err(format!("--engine: must be shells or host, got '{other}'")),
        };
    }
    if let Ok(token) = std::env::var("ORCHESTRATOR_TOKEN") {
        if !token.is_empty() {
            cfg.auth.token = Some(token);
        }
    }
    Ok(cfg)
}

/// Waits for Ctrl-C or, on Unix, SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the orchestrator until Ctrl-C or SIGTERM: the core, then the HTTP
/// API on `listen.http` (ready once the core has started); on a signal the
/// server stops taking requests, finishes those in flight, then the core
/// stops.
pub fn serve(opts: ServeOptions) -> Result<(), String> {
    init_logging(opts.json_logs);
    let cfg = load_config(&opts)?;
    tracing::info!(
        source = opts.config.as_ref().map_or("embedded BF-1 scale 0.1".to_string(), |p| p.display().to_string()),
        durability = cfg.durability.mode.as_str(),
        engine = cfg.runtime.engine.as_str(),
        listen = %cfg.listen.http,
        auth = cfg.auth.token.is_some(),
        "starting"
    );
    // While the journal is replayed, the port already answers: /healthz 200,
    // everything else (/readyz included) 503 not_ready.
    let recovering = crate::http::recovering::start(&cfg.listen.http)
        .map_err(|e| format!("listen.http: cannot listen on '{}': {e}", cfg.listen.http))?;
    let started = Core::try_start(&cfg);
    recovering.stop();
    let core = started?;
    let server = match crate::http::start_server_with(core.clone(), &cfg, &cfg.listen.http, false) {
        Ok(s) => s,
        Err(e) => {
            core.shutdown();
            return Err(format!(
                "listen.http: cannot listen on '{}': {e}",
                cfg.listen.http
            ));
        }
    };
    server.set_ready(true);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        tracing::info!(addr = %server.addr, "ready; Ctrl-C or SIGTERM stops");
        interrupted().await;
    });
    tracing::info!("stopping");
    server.set_ready(false);
    if let Err(e) = server.stop() {
        tracing::warn!(error = %e, "HTTP server stopped with an error");
    }
    core.shutdown();
    Ok(())
}
