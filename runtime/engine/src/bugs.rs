//! Deliberate bugs for the simulator to catch (feature `sim-bugs`, never
//! enabled by release builds). One bug at a time, chosen per thread.

use std::cell::Cell;

/// A bug planted in the engine's flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// A failed all-or-nothing reservation keeps what it got.
    SkipRelease,
    /// A desk leaves a served line waiting, so it is served again (the
    /// first [`SERVE_TWICE_MAX`] times it serves).
    ServeTwice,
    /// Restore drops the expiry timers of the active holds it brings
    /// back, so they never expire.
    ForgetHoldExpiry,
}

/// Most times [`Bug::ServeTwice`] fires per planting. Unbounded, a desk
/// whose orders and cells share its shard serves the same line again and
/// again within one tick (the shard drains its local messages), and the
/// run never ends instead of failing.
pub const SERVE_TWICE_MAX: u32 = 1;

thread_local! {
    static ACTIVE: Cell<Option<Bug>> = const { Cell::new(None) };
    static FIRED: Cell<u32> = const { Cell::new(0) };
}

/// Plant `bug` (or none) for this thread.
pub fn set(bug: Option<Bug>) {
    ACTIVE.with(|a| a.set(bug));
    FIRED.with(|f| f.set(0));
}

/// Whether `bug` is planted on this thread (and fires now).
pub fn active(bug: Bug) -> bool {
    if ACTIVE.with(|a| a.get()) != Some(bug) {
        return false;
    }
    if bug == Bug::ServeTwice {
        let fired = FIRED.with(|f| f.get());
        if fired >= SERVE_TWICE_MAX {
            return false;
        }
        FIRED.with(|f| f.set(fired + 1));
    }
    true
}
