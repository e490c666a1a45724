//! The host's bounds and cadence.

use std::time::Duration;

use orch_config::Config;
use orch_engine::ShardLimits;

/// How many shards, how much each may hold, and how often an idle shard
/// runs its timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostOptions {
    /// Number of shards, one thread each (at least 1).
    pub shards: usize,
    /// Bounds of each shard (inbox, messages per tick, remembered ids).
    pub limits: ShardLimits,
    /// Requests waiting in a shard's channel before they move into its
    /// inbox: a full channel answers `Overloaded`. At most
    /// `channel_max + limits.inbox_max` requests wait per shard.
    pub channel_max: usize,
    /// Requests admitted to a shard and not yet answered (waiting,
    /// running, or waiting for durability): past this, `Overloaded`. This
    /// bounds the memory of admitted work whatever the disk does.
    pub in_flight_max: usize,
    /// How often an idle shard wakes to run its timers (waves, closures,
    /// hold expiry). A busy shard runs them in every tick.
    pub idle_tick: Duration,
}

impl Default for HostOptions {
    /// Two shards, default shard limits, 4,096 waiting per channel,
    /// 65,536 in flight per shard, timers every 20 ms when idle.
    fn default() -> Self {
        HostOptions {
            shards: 2,
            limits: ShardLimits::default(),
            channel_max: 4_096,
            in_flight_max: 65_536,
            idle_tick: Duration::from_millis(20),
        }
    }
}

impl HostOptions {
    /// The defaults with `runtime.workers` shards (0: one per core), idle
    /// timers at `runtime.wave_tick_ms` (at most the default 20 ms, at
    /// least 1 ms), and the shard bounds of `[limits]` (`shard_inbox_max`,
    /// `shard_in_flight_max`, `seen_ids_max`).
    pub fn from_config(cfg: &Config) -> HostOptions {
        let shards = match cfg.runtime.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n as usize,
        };
        let d = HostOptions::default();
        HostOptions {
            shards,
            idle_tick: Duration::from_millis(cfg.runtime.wave_tick_ms.clamp(1, 20)),
            limits: ShardLimits {
                inbox_max: cfg.limits.shard_inbox_max as usize,
                seen_ids_max: cfg.limits.seen_ids_max as usize,
                ..d.limits
            },
            in_flight_max: cfg.limits.shard_in_flight_max as usize,
            ..d
        }
    }
}
