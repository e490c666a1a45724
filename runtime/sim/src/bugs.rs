//! The deliberate bugs the simulator must catch. Those in the disk model
//! and the harness work in every build; those planted in the engine need
//! feature `bugs` (which release builds never enable).

/// A deliberate bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The disk acknowledges an fsync when it starts, not when it ends.
    AckBeforeDurable,
    /// Recovery applies every receipt twice.
    ReceiptTwiceOnReplay,
    /// One batch between two shards is lost (engine hook).
    DropMessage,
    /// A desk serves a backorder twice (engine hook).
    ServeTwice,
    /// A failed all-or-nothing reservation keeps what it got (engine hook).
    SkipRelease,
    /// Restore forgets the expiry timers of the holds it brings back
    /// (engine hook).
    ForgetHoldExpiry,
    /// A checkpoint deletes the journal prefix its snapshot covers before
    /// the snapshot is durable and marked current (the checkpoint order;
    /// needs feature `bugs`).
    DeleteJournalEarly,
    /// A checkpoint marks its snapshot current, and deletes the journal
    /// prefix, before it fsyncs the snapshot (needs feature `bugs`).
    MarkBeforeFsync,
    /// The journal hook hands the events tail entries as they are
    /// journaled, before they are durable (needs feature `bugs`).
    EventsBeforeDurable,
    /// The events tail never appends `order.cancelled` (needs feature
    /// `bugs`).
    DropCancelEvent,
    /// A checkpoint snapshots as far as the journal is durable, past what
    /// the event store covers (needs feature `bugs`).
    CheckpointPastStore,
}

impl Bug {
    /// Every bug.
    pub const ALL: [Bug; 11] = [
        Bug::AckBeforeDurable,
        Bug::ReceiptTwiceOnReplay,
        Bug::DropMessage,
        Bug::ServeTwice,
        Bug::SkipRelease,
        Bug::ForgetHoldExpiry,
        Bug::DeleteJournalEarly,
        Bug::MarkBeforeFsync,
        Bug::EventsBeforeDurable,
        Bug::DropCancelEvent,
        Bug::CheckpointPastStore,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Bug::AckBeforeDurable => "ack-before-durable",
            Bug::ReceiptTwiceOnReplay => "receipt-twice-on-replay",
            Bug::DropMessage => "drop-message",
            Bug::ServeTwice => "serve-twice",
            Bug::SkipRelease => "skip-release",
            Bug::ForgetHoldExpiry => "forget-hold-expiry",
            Bug::DeleteJournalEarly => "delete-journal-early",
            Bug::MarkBeforeFsync => "mark-before-fsync",
            Bug::EventsBeforeDurable => "events-before-durable",
            Bug::DropCancelEvent => "drop-cancel-event",
            Bug::CheckpointPastStore => "checkpoint-past-store",
        }
    }

    /// Parses a command-line name.
    pub fn parse(s: &str) -> Result<Bug, String> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("bug: unknown name {s:?}"))
    }

    /// Whether this build can plant it (engine hooks need feature `bugs`).
    pub fn available(self) -> bool {
        matches!(self, Bug::AckBeforeDurable | Bug::ReceiptTwiceOnReplay) || cfg!(feature = "bugs")
    }

    /// Plant (or clear) the engine's hook for this thread.
    pub fn plant(bug: Option<Bug>) {
        #[cfg(feature = "bugs")]
        {
            use orch_engine::bugs::{set, Bug as E};
            set(match bug {
                Some(Bug::ServeTwice) => Some(E::ServeTwice),
                Some(Bug::SkipRelease) => Some(E::SkipRelease),
                Some(Bug::ForgetHoldExpiry) => Some(E::ForgetHoldExpiry),
                _ => None,
            });
        }
        #[cfg(not(feature = "bugs"))]
        let _ = bug;
    }
}
