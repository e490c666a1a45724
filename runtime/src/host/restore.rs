//! Shards from what recovery rebuilt: the `World` that the snapshot and
//! the journal replay produced (`persist::recovery`), split by ownership,
//! with the receipt and adjustment ids it saw. The journal the host
//! writes holds the same `LogEntry` records as before (one record per
//! tick), so recovery and the checkpoint thread read it unchanged.

use orch_config::{Config, Millis};
use orch_engine::Shard;

use super::{fresh_shards, HostOptions};
use crate::persist::recovery::Recovered;

/// The shards of `options.shards` holding what `recovered` rebuilt, at
/// `now`. Their first tick runs the timers: waves that fell due and holds
/// that expired while the core was down.
pub fn restored_shards(
    cfg: &Config,
    options: &HostOptions,
    recovered: &Recovered,
    now: Millis,
) -> Vec<Shard> {
    let mut shards = fresh_shards(cfg, options, now);
    for s in &mut shards {
        s.restore_from(
            &recovered.world,
            &recovered.receipts,
            &recovered.adjustments,
        );
    }
    shards
}
