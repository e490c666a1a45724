//! What tests and the load tester ask of a core at rest: wait until the
//! shards are quiet, audit their ledgers, count their actors.

use std::time::Duration;

use orch_actors::audit::{audit, AuditReport};

use super::HostedCore;

impl HostedCore {
    /// Waits until nothing moves, over three polls 5 ms apart: no request
    /// in flight on any shard, nothing waiting in a shard's channels or
    /// inbox (peer batches included), and no message taken since the
    /// previous poll. A shard thread the machine has not scheduled for a
    /// while still shows its waiting batches, so a loaded machine cannot
    /// pass for a quiet one.
    pub async fn quiesce(&self) {
        let mut calm = 0;
        let mut last = self.host.stats().taken;
        while calm < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let s = self.host.stats();
            let idle = s.in_flight.iter().all(|n| *n == 0)
                && s.queued.iter().all(|n| *n == 0)
                && s.taken == last;
            let backlog: usize = if idle {
                self.host
                    .read_all(|sh| sh.backlog())
                    .await
                    .map_or(1, |b| b.iter().sum())
            } else {
                1
            };
            let after = self.host.stats().taken;
            // The read itself is taken by each shard: compare from here.
            if idle && backlog == 0 {
                calm += 1;
            } else {
                calm = 0;
            }
            last = after;
        }
    }

    /// The DESIGN.md invariants over the shards' own ledgers (conservation
    /// per SKU, reservations match orders, backorders consistent), once
    /// quiet. `None` when the shards cannot be read.
    pub async fn audit(&self) -> Option<AuditReport> {
        self.quiesce().await;
        let parts = self
            .host
            .read_all(|s| {
                let cells: Vec<_> = s.cells().map(|(k, c)| (k, c.clone())).collect();
                let orders: Vec<_> = s.orders().cloned().collect();
                let desks: Vec<_> = s.desks().map(|(k, d)| (k, d.clone())).collect();
                (cells, orders, desks)
            })
            .await
            .ok()?;
        let (mut cells, mut orders, mut desks) = (Vec::new(), Vec::new(), Vec::new());
        for (c, o, d) in parts {
            cells.extend(c);
            orders.extend(o);
            desks.extend(d);
        }
        Some(audit(
            cells.iter().map(|(k, c)| (*k, c)),
            orders.iter(),
            desks.iter().map(|(k, d)| (*k, d)),
        ))
    }

    /// Actors in memory now: orders, cells, desks, facilities and holds.
    pub async fn resident_actors(&self) -> u64 {
        let counts = self
            .host
            .read_all(|s| {
                (s.orders().count()
                    + s.cells().count()
                    + s.desks().count()
                    + s.facilities().count()
                    + s.holds().count()) as u64
            })
            .await;
        counts.map_or(0, |c| c.iter().sum())
    }
}
