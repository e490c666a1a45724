//! The checkpoint sequence as a plain state machine: which step comes
//! next. Production order (`runtime/src/persist/snapshot.rs` and
//! `checkpoint.rs`): write the snapshot, fsync it, mark it current, fsync
//! the mark, and only then delete the journal prefix it covers (and the
//! generations older than the one before it). The simulator takes one
//! step per scheduling step, so a power loss can fall between any two.

/// One step of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write the snapshot file (in the page cache).
    Write,
    /// Fsync it (may fail: retried next step).
    Fsync,
    /// Append the `current` record naming it (in the page cache).
    Mark,
    /// Fsync the `current` file (may fail: retried next step).
    FsyncMark,
    /// Delete the journal prefix it covers and older generations.
    DeleteJournal,
}

/// The production order.
pub const ORDER: [Step; 5] = [
    Step::Write,
    Step::Fsync,
    Step::Mark,
    Step::FsyncMark,
    Step::DeleteJournal,
];

/// The order of the deliberate bug `delete-journal-early`: the journal
/// prefix goes before the snapshot is durable.
pub const DELETE_EARLY: [Step; 5] = [
    Step::Write,
    Step::DeleteJournal,
    Step::Fsync,
    Step::Mark,
    Step::FsyncMark,
];

/// The order of the deliberate bug `mark-before-fsync`: the snapshot is
/// named current, and the journal prefix deleted, before it is fsynced.
pub const MARK_EARLY: [Step; 5] = [
    Step::Write,
    Step::Mark,
    Step::FsyncMark,
    Step::DeleteJournal,
    Step::Fsync,
];

/// A checkpoint in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The generation being written.
    pub generation: u64,
    /// The journal position it covers.
    pub seq: u64,
    /// The generation current when it started (kept as the fallback).
    pub previous: Option<u64>,
    order: [Step; 5],
    done: usize,
}

impl Checkpoint {
    /// A checkpoint whose first step ([`Step::Write`]) was just taken.
    pub fn started(generation: u64, seq: u64, previous: Option<u64>, order: [Step; 5]) -> Self {
        Checkpoint {
            generation,
            seq,
            previous,
            order,
            done: 1,
        }
    }

    /// The step to take next, if any remains.
    pub fn next(&self) -> Option<Step> {
        self.order.get(self.done).copied()
    }

    /// The next step was taken.
    pub fn took(&mut self) {
        self.done += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_goes_last_and_only_after_both_fsyncs() {
        let at = |s| ORDER.iter().position(|x| *x == s).unwrap();
        assert!(at(Step::Fsync) < at(Step::Mark));
        assert!(at(Step::FsyncMark) < at(Step::DeleteJournal));
        let mut c = Checkpoint::started(2, 10, Some(1), ORDER);
        let mut seen = vec![Step::Write];
        while let Some(s) = c.next() {
            seen.push(s);
            c.took();
        }
        assert_eq!(seen, ORDER);
    }
}
