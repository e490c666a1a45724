//! Test instrumentation for power-loss tests: a record of how many bytes of
//! each file are known to be on stable storage.
//!
//! When a process is killed, the page cache keeps everything it wrote, so a
//! kill alone cannot show that a program fsyncs what it acknowledges. A
//! power-loss harness needs to know what a real power cut would have kept:
//! every writer that fsyncs a file appends one line `<len>\t<path>\n` here
//! *after* the fsync returned and *before* anything relies on it (a batch is
//! acknowledged, a snapshot is made current). After killing the process the
//! harness cuts every file back to the last length recorded for it and
//! removes the files never recorded (see [`last_durable_lengths`]).
//!
//! The log itself is written with plain `O_APPEND` writes, one `write` call
//! per line: it has to survive a kill of the process, not a power cut (the
//! harness reads it right after the kill). It is only opened when the
//! environment variable [`ENV`] names a file; production never sets it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The environment variable naming the durable-length log.
pub const ENV: &str = "ORCH_DURABLE_LOG";

/// An open durable-length log (share it in an `Arc`).
#[derive(Debug)]
pub struct DurableLog {
    path: PathBuf,
    file: File,
}

impl DurableLog {
    /// Opens (creating if needed) the log at `path` for appending.
    pub fn open(path: &Path) -> io::Result<DurableLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(DurableLog {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The log named by [`ENV`], if the variable is set; an error names the
    /// file that could not be opened.
    pub fn from_env() -> Result<Option<DurableLog>, String> {
        match std::env::var_os(ENV) {
            None => Ok(None),
            Some(p) if p.is_empty() => Ok(None),
            Some(p) => DurableLog::open(Path::new(&p))
                .map(Some)
                .map_err(|e| format!("{ENV}={}: cannot open: {e}", Path::new(&p).display())),
        }
    }

    /// Records that the first `len` bytes of `file` are durable. One
    /// `write` call; a failure is logged (the harness will then find the
    /// file less durable than it is, which errs on the safe side).
    pub fn record(&self, file: &Path, len: u64) {
        let line = format!("{len}\t{}\n", file.display());
        if let Err(e) = (&self.file).write_all(line.as_bytes()) {
            tracing::error!(log = %self.path.display(), error = %e,
                "cannot append to the durable-length log");
        }
    }
}

/// Parses a durable-length log: for every file, the last length recorded
/// (later records supersede earlier ones: a file is only ever fsynced at a
/// length it then has). A last line without its newline (the process was
/// killed while writing it) is ignored, and so is any malformed line.
pub fn last_durable_lengths(text: &str) -> HashMap<PathBuf, u64> {
    let mut out = HashMap::new();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    for line in complete.lines() {
        let Some((len, path)) = line.split_once('\t') else {
            continue;
        };
        if let Ok(len) = len.parse::<u64>() {
            out.insert(PathBuf::from(path), len);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_the_last_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durable.log");
        let log = DurableLog::open(&path).unwrap();
        log.record(Path::new("/d/a"), 10);
        log.record(Path::new("/d/b"), 3);
        log.record(Path::new("/d/a"), 25);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("99\t/d/c"); // torn last line
        let lens = last_durable_lengths(&text);
        assert_eq!(lens.len(), 2);
        assert_eq!(lens[Path::new("/d/a")], 25);
        assert_eq!(lens[Path::new("/d/b")], 3);
        assert!(last_durable_lengths("garbage\n\tx\n").is_empty());
    }
}
