//! What tests and the load tester ask of a core at rest: wait until the
//! shards are quiet, audit their ledgers, count their actors.

use std::time::Duration;

use orch_actors::audit::{audit, AuditReport};

use super::HostedCore;

impl HostedCore {
    /// Waits until nothing moves: no request in flight on any shard and no
    /// message taken by any shard over three polls 5 ms apart.
    pub async fn quiesce(&self) {
        let mut calm = 0;
        let mut last = self.host.stats().taken;
        while calm < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let s = self.host.stats();
            if s.in_flight.iter().all(|n| *n == 0) && s.taken == last {
                calm += 1;
            } else {
                calm = 0;
            }
            last = s.taken;
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
