//! The host's clock: the one place the shard loops' `now` comes from.
//!
//! Shards never read the wall clock; the host reads this clock once per
//! tick and passes the time in. Production uses [`Clock::wall`]; tests
//! move a [`ManualClock`] by hand, so timers (waves, hold expiry) fire when
//! the test says, not when a sleep ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use orch_config::Millis;

/// Where the host reads the time (milliseconds since the Unix epoch).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Millis + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl Clock {
    /// The wall clock.
    pub fn wall() -> Clock {
        Clock(Arc::new(crate::clock::now_ms))
    }

    /// A clock that reads `f`.
    pub fn from_fn(f: impl Fn() -> Millis + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// A clock standing at `start` that only moves when the returned
    /// [`ManualClock`] moves it.
    pub fn manual(start: Millis) -> (Clock, ManualClock) {
        let at = Arc::new(AtomicU64::new(start));
        let read = at.clone();
        (
            Clock::from_fn(move || read.load(Ordering::Acquire)),
            ManualClock(at),
        )
    }

    /// The time now.
    pub fn now(&self) -> Millis {
        (self.0)()
    }
}

/// The hand that moves a manual clock (never backwards).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::AcqRel);
    }

    /// Moves the clock to `at` (ignored when it is in the past).
    pub fn set(&self, at: Millis) {
        self.0.fetch_max(at, Ordering::AcqRel);
    }

    /// Where the clock stands.
    pub fn now(&self) -> Millis {
        self.0.load(Ordering::Acquire)
    }
}
