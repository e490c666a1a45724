//! Deliberate bugs for the simulator to catch (feature `sim-bugs`, never
//! enabled by release builds). One bug at a time, chosen per thread.

use std::cell::Cell;

/// A bug planted in the engine's flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// A failed all-or-nothing reservation keeps what it got.
    SkipRelease,
    /// A desk leaves a served line waiting, so it is served again.
    ServeTwice,
}

thread_local! {
    static ACTIVE: Cell<Option<Bug>> = const { Cell::new(None) };
}

/// Plant `bug` (or none) for this thread.
pub fn set(bug: Option<Bug>) {
    ACTIVE.with(|a| a.set(bug));
}

/// Whether `bug` is planted on this thread.
pub fn active(bug: Bug) -> bool {
    ACTIVE.with(|a| a.get()) == Some(bug)
}
