//! Starting and stopping the application over the engine host, as
//! `orchestrator serve` does with `runtime.engine = "host"`: open the
//! journal, replay the snapshot and the journal (feeding the events tail
//! the same records), start the shards from what recovery rebuilt, then
//! the checkpoint thread.
//!
//! The checkpoint thread reads the journal, not the shards; after each
//! snapshot it hands the host the finished, idle orders the snapshot holds,
//! which leave the shards' memory (passivation, `host::passive`).

use std::sync::{Arc, Mutex};

use orch_actors::facility::Wave;
use orch_config::Config;

use super::HostedCore;
use crate::events_out::tail::{recover_with_feed, TailThread};
use crate::events_out::Events;
use crate::facade::RecoveryInfo;
use crate::host::{restored_shards, Clock, Host, HostOptions, WaveSink};
use crate::persist::checkpoint::{checkpoint, Checkpointer, SnapshotInfo};
use crate::persist::snapshot::SnapshotStore;
use crate::persist::Durability;
use crate::webhooks::{Service as WebhookService, Webhooks};

/// The running application over the host, with its journal, event feed
/// and checkpoint thread.
pub struct HostedRuntime {
    core: HostedCore,
    waves: tokio::sync::broadcast::Sender<Arc<Wave>>,
    cfg: Config,
    events: Arc<Events>,
    durability: Arc<Durability>,
    recovery: RecoveryInfo,
    store: Mutex<Option<SnapshotStore>>,
    checkpointer: Mutex<Option<Checkpointer>>,
    tail: Mutex<Option<TailThread>>,
    webhooks: WebhookService,
}

/// Timer waves kept for a slow listener before it lags (it is told how
/// many it missed).
pub const WAVES_BUFFERED: usize = 4_096;

impl HostedRuntime {
    /// The waves the shards' timers release, each once durable (manual
    /// releases are answered to their caller instead).
    pub fn subscribe_waves(&self) -> tokio::sync::broadcast::Receiver<Arc<Wave>> {
        self.waves.subscribe()
    }

    /// Starts on the configured journal with the wall clock. A journal
    /// that cannot be opened or replayed is an error naming the file, and
    /// nothing starts.
    pub fn try_start(cfg: &Config) -> Result<HostedRuntime, String> {
        let (durability, _opened) = Durability::open(&cfg.durability)?;
        HostedRuntime::start_with(
            cfg,
            HostOptions::from_config(cfg),
            Arc::new(durability),
            Clock::wall(),
        )
    }

    /// Starts on an opened journal with the given shards' options and
    /// clock (tests inject faults and time this way).
    pub fn start_with(
        cfg: &Config,
        options: HostOptions,
        durability: Arc<Durability>,
        clock: Clock,
    ) -> Result<HostedRuntime, String> {
        let now = clock.now();
        let store = SnapshotStore::for_config(&cfg.durability)?;
        let started = std::time::Instant::now();
        let (recovered, events, tail) = recover_with_feed(cfg, &durability, store.as_ref(), now)?;
        let shards = restored_shards(cfg, &options, &recovered, now);
        // Waves the shards' timers release, counted once durable (manual
        // releases are counted where they are answered).
        let (wave_tx, _) = tokio::sync::broadcast::channel(WAVES_BUFFERED);
        let announce = wave_tx.clone();
        let waves: WaveSink = Arc::new(move |w: Wave| {
            let facility = w.wave_id.rsplit_once("-W").map_or("unknown", |(f, _)| f);
            crate::metrics::wave_released(facility, w.trigger.as_str(), w.fulfillments.len());
            let _ = announce.send(Arc::new(w));
        });
        let host = Host::start_with(cfg, options, durability.clone(), clock, Some(waves), shards)?;
        let core = futures::executor::block_on(HostedCore::over(host.clone(), cfg));
        let mut core = match core {
            Ok(c) => c,
            Err(e) => {
                host.shutdown();
                return Err(format!("cannot read the shards: {}", e.message));
            }
        };
        core.announce_waves(wave_tx.clone());
        tracing::info!(
            engine = "host",
            shards = options.shards,
            snapshot_seq = recovered.snapshot_seq,
            records = recovered.records,
            orders = recovered.world.orders.len(),
            ms = started.elapsed().as_millis() as u64,
            "recovery finished"
        );
        // Finished, idle orders a snapshot holds leave the shards' memory
        // and are read back from it on demand.
        if let Some(st) = &store {
            if let Err(e) = host.serve_passive(st.clone()) {
                host.shutdown();
                return Err(e);
            }
        }
        let checkpointer = store
            .clone()
            .map(|st| Checkpointer::start(cfg.clone(), st, durability.clone(), core.retire()));
        let webhooks = WebhookService::start(
            &cfg.durability,
            cfg.webhooks.ca_file.as_deref(),
            events.clone(),
        )?;
        Ok(HostedRuntime {
            core,
            waves: wave_tx,
            cfg: cfg.clone(),
            events,
            recovery: RecoveryInfo {
                snapshot_seq: recovered.snapshot_seq,
                records: recovered.records,
                events: recovered.entries,
                duration: recovered.duration,
            },
            durability,
            store: Mutex::new(store),
            checkpointer: Mutex::new(checkpointer),
            tail: Mutex::new(Some(tail)),
            webhooks,
        })
    }

    /// The application.
    pub fn core(&self) -> &HostedCore {
        &self.core
    }

    /// The event feed, built from durable records only.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// The journal.
    pub fn durability(&self) -> &Arc<Durability> {
        &self.durability
    }

    /// The webhook registrations and their delivery (`/v1/webhooks`).
    pub fn webhooks(&self) -> &Arc<Webhooks> {
        self.webhooks.webhooks()
    }

    /// What the start replayed.
    pub fn recovery_info(&self) -> RecoveryInfo {
        self.recovery
    }

    /// The facility ids, in configuration order.
    pub fn facility_ids(&self) -> Vec<String> {
        (self.cfg.network.facilities.iter())
            .map(|f| f.id.clone())
            .collect()
    }

    /// The request limits.
    pub fn limits(&self) -> orch_config::Limits {
        self.cfg.limits
    }

    /// What the checkpoint thread last did, if it ran.
    pub fn snapshot_info(&self) -> Option<SnapshotInfo> {
        self.checkpointer
            .lock()
            .ok()
            .and_then(|c| c.as_ref().and_then(Checkpointer::last))
    }

    /// Makes a snapshot now (the checkpoint thread does this periodically).
    pub fn checkpoint_now(&self) -> Result<SnapshotInfo, String> {
        let store = self
            .store
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .ok_or("no snapshot store (durability none, or stopped)")?;
        checkpoint(
            &self.cfg,
            &store,
            &self.durability,
            self.core.retire().as_ref(),
        )
    }

    /// Stops the checkpoint thread, the shards (answering what they hold),
    /// then the events tail once every acknowledged record reached it.
    pub fn shutdown(&self) {
        if let Some(mut c) = self.checkpointer.lock().ok().and_then(|mut g| g.take()) {
            c.stop();
        }
        self.core.host().shutdown();
        drop(self.store.lock().ok().and_then(|mut g| g.take()));
        if let Some(mut t) = self.tail.lock().ok().and_then(|mut g| g.take()) {
            t.stop();
        }
        // Writes the webhook cursors a last time.
        self.webhooks.stop();
    }
}
