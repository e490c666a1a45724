//! Segment files: naming, listing, and the writer's active segment.
//!
//! A segment is a file `journal-{first_seq:020}.log` holding consecutive
//! records, the first of which has sequence number `first_seq`. Segments
//! of one directory chain: each starts right after the last record of the
//! previous one. Only the last segment is ever written to.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const PREFIX: &str = "journal-";
const SUFFIX: &str = ".log";
const DIGITS: usize = 20;

/// File name of the segment whose first record has sequence `first_seq`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{PREFIX}{first_seq:020}{SUFFIX}")
}

/// The `first_seq` encoded in a segment file name, or `None` if `name` is
/// not a segment file name.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One segment file found in a journal directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Sequence number of its first record (from its name).
    pub first_seq: u64,
    /// Full path of the file.
    pub path: PathBuf,
}

/// The segment files of `dir`, ordered by `first_seq`. Other files are
/// ignored.
pub fn list_segments(dir: &Path) -> io::Result<Vec<SegmentInfo>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(first_seq) = name.to_str().and_then(parse_segment_name) else {
            continue;
        };
        if entry.file_type()?.is_file() {
            out.push(SegmentInfo {
                first_seq,
                path: entry.path(),
            });
        }
    }
    out.sort_by_key(|s| s.first_seq);
    Ok(out)
}

/// fsyncs a directory so that file creations and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The segment the writer appends to.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    pub(crate) first_seq: u64,
    /// Bytes of acknowledged records: where the next batch is written.
    /// Anything in the file beyond this is debris of a failed write.
    pub(crate) len: u64,
}

impl ActiveSegment {
    /// Creates a new, empty segment. An existing empty file of that name
    /// (left by a roll whose directory fsync failed) is reused; a non-empty
    /// one is an `AlreadyExists` error.
    pub(crate) fn create(dir: &Path, first_seq: u64) -> io::Result<ActiveSegment> {
        let path = dir.join(segment_file_name(first_seq));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if file.metadata()?.len() != 0 {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("segment {} exists and is not empty", path.display()),
            ));
        }
        Ok(ActiveSegment {
            path,
            file,
            first_seq,
            len: 0,
        })
    }

    /// Opens an existing segment whose good records end at `len`.
    pub(crate) fn open(path: PathBuf, first_seq: u64, len: u64) -> io::Result<ActiveSegment> {
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        Ok(ActiveSegment {
            path,
            file,
            first_seq,
            len,
        })
    }

    /// Writes `buf` right after the acknowledged records (one positioned
    /// write; it does not advance `len`).
    pub(crate) fn write_at_end(&self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, self.len)
    }

    /// fdatasync.
    pub(crate) fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Cuts the file back to the acknowledged records.
    pub(crate) fn truncate_to_len(&self) -> io::Result<()> {
        self.file.set_len(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(1), "journal-00000000000000000001.log");
        assert_eq!(
            parse_segment_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_name("journal-1.log"), None);
        assert_eq!(parse_segment_name("journal-0000000000000000000x.log"), None);
        assert_eq!(
            parse_segment_name("journal-00000000000000000001.log.tmp"),
            None
        );
    }
}
