//! Making files durable: fsync every file under a directory and the
//! directories that hold them, and (in power-loss tests) record what was
//! made durable.
//!
//! sled 0.34 does not make its own files durable: its `flush()` on Linux is
//! `sync_file_range`, which persists neither metadata (the file's size) nor
//! the device's cache, it never fsyncs its blob files (values over about a
//! quarter of a segment, which every snapshot chunk is), and it creates and
//! renames files (`blobs/<lsn>`, `snap.<lsn>`, `conf`) without fsyncing the
//! directory. So the snapshot store calls [`sync_tree`] on its directory
//! before it relies on what sled wrote.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use orch_journal::DurableLog;

/// The process's durable-length log, opened once from
/// `ORCH_DURABLE_LOG` (power-loss tests; unset in production). Shared by
/// the journal and the snapshot store.
pub fn durable_log() -> Result<Option<Arc<DurableLog>>, String> {
    static LOG: OnceLock<Result<Option<Arc<DurableLog>>, String>> = OnceLock::new();
    LOG.get_or_init(|| DurableLog::from_env().map(|l| l.map(Arc::new)))
        .clone()
}

/// fsyncs every regular file under `dir` (recursively), then every
/// directory under it, `dir` itself and its parent (so that `dir`'s own
/// entry is durable). With a `log`, then records each file's length as
/// durable (after the directories, so that a recorded file's entry is
/// durable too); the length is taken before its fsync, so a concurrent
/// append is never counted. Answers the number of files synced.
pub fn sync_tree(dir: &Path, log: Option<&DurableLog>) -> io::Result<usize> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    collect(dir, &mut files, &mut dirs)?;
    let mut synced = Vec::with_capacity(files.len());
    for path in files {
        let f = match File::open(&path) {
            Ok(f) => f,
            // Removed meanwhile (sled deletes old snapshot and blob files).
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(with_path(e, &path)),
        };
        let len = f.metadata().map_err(|e| with_path(e, &path))?.len();
        f.sync_all().map_err(|e| with_path(e, &path))?;
        synced.push((path, len));
    }
    // Children before parents: a file's entry, then the directory's.
    dirs.reverse();
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        dirs.push(parent.to_path_buf());
    }
    for d in &dirs {
        File::open(d)
            .and_then(|f| f.sync_all())
            .map_err(|e| with_path(e, d))?;
    }
    if let Some(log) = log {
        for (path, len) in &synced {
            log.record(path, *len);
        }
    }
    Ok(synced.len())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>, dirs: &mut Vec<PathBuf>) -> io::Result<()> {
    dirs.push(dir.to_path_buf());
    for entry in std::fs::read_dir(dir).map_err(|e| with_path(e, dir))? {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        let kind = entry.file_type().map_err(|e| with_path(e, dir))?;
        if kind.is_dir() {
            collect(&entry.path(), files, dirs)?;
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_and_records_every_file_below() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        std::fs::create_dir_all(dir.join("blobs")).unwrap();
        std::fs::write(dir.join("db"), b"12345").unwrap();
        std::fs::write(dir.join("blobs").join("77"), b"abc").unwrap();
        let log_path = tmp.path().join("durable.log");
        let log = DurableLog::open(&log_path).unwrap();
        assert_eq!(sync_tree(&dir, Some(&log)).unwrap(), 2);
        let lens = orch_journal::durable_log::last_durable_lengths(
            &std::fs::read_to_string(&log_path).unwrap(),
        );
        assert_eq!(lens.len(), 2);
        assert_eq!(lens[&dir.join("db")], 5);
        assert_eq!(lens[&dir.join("blobs").join("77")], 3);
        assert!(sync_tree(&tmp.path().join("missing"), None).is_err());
    }
}
