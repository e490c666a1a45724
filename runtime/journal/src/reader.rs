//! Reading a journal directory: the startup scan that verifies every
//! record and cuts a torn tail ([`recover`]), and the sequential reader
//! used to replay records ([`read_from`]).
//!
//! Both read one whole segment into memory at a time (segments are
//! bounded by `segment_bytes_max`, plus at most one batch).

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use crate::record::{self, Decoded, HEADER_LEN};
use crate::segment::{list_segments, SegmentInfo};
use crate::JournalError;

/// What the startup scan found: the basis of [`crate::Recovery`] and of
/// the writer's starting point.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) last_seq: u64,
    pub(crate) records_scanned: u64,
    pub(crate) segments: usize,
    pub(crate) truncated: Option<(PathBuf, u64)>,
    pub(crate) residues_cut: Vec<(PathBuf, u64)>,
    /// The last segment and the length of its good records.
    pub(crate) last: Option<(SegmentInfo, u64)>,
}

fn corrupt(file: &Path, offset: usize, reason: impl Into<String>) -> JournalError {
    JournalError::Corrupt {
        file: file.to_path_buf(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

fn torn_reason(bytes: &[u8], off: usize) -> String {
    let rest = bytes.len() - off;
    if rest < HEADER_LEN {
        format!("incomplete record header ({rest} of {HEADER_LEN} bytes)")
    } else {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4 bytes")) as usize;
        format!(
            "incomplete record ({rest} of {} bytes present)",
            HEADER_LEN + len
        )
    }
}

fn unsupported_reason(version: u8) -> String {
    format!(
        "record written by format version {version}; this build reads version {}",
        record::FORMAT_VERSION
    )
}

/// Cuts `path` to `len` bytes and makes that durable.
fn cut(path: &Path, len: u64) -> Result<(), JournalError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io("open for truncation", path, &e))?;
    file.set_len(len)
        .map_err(|e| JournalError::io("truncate", path, &e))?;
    file.sync_all()
        .map_err(|e| JournalError::io("fsync", path, &e))
}

/// Scans every segment of `dir` in order and verifies every record.
///
/// * A torn or corrupt record at the end of the last segment, with no
///   valid record after it, is cut: the file is truncated to the last good
///   record and a warning names file and offset.
/// * In an earlier segment, everything from the point where the sequence
///   reaches the next segment's first seq is cut (with a warning): the
///   writer starts a segment at `S` only when every acknowledged record is
///   below `S`, so whatever an earlier segment holds from `S` on is the
///   debris of a failed batch it could not truncate.
/// * Anything else (a bad record followed by good ones, a bad record in an
///   earlier segment, a sequence gap inside or between segments, a record
///   of another format version) is [`JournalError::Corrupt`].
pub(crate) fn recover(dir: &Path) -> Result<Recovered, JournalError> {
    let segs = list_segments(dir).map_err(|e| JournalError::io("list segments", dir, &e))?;
    let mut out = Recovered {
        last_seq: 0,
        records_scanned: 0,
        segments: segs.len(),
        truncated: None,
        residues_cut: Vec::new(),
        last: None,
    };
    for (i, seg) in segs.iter().enumerate() {
        let next_first = segs.get(i + 1).map(|s| s.first_seq);
        if i > 0 {
            let expected = out.last_seq + 1;
            if seg.first_seq != expected {
                return Err(corrupt(
                    &seg.path,
                    0,
                    format!(
                        "sequence gap: segment starts at seq {} but the previous one ends at seq {}",
                        seg.first_seq, out.last_seq
                    ),
                ));
            }
        } else if seg.first_seq == 0 {
            return Err(corrupt(&seg.path, 0, "segment named with seq 0"));
        }
        let bytes = fs::read(&seg.path).map_err(|e| JournalError::io("read", &seg.path, &e))?;
        let mut off = 0usize;
        let mut next = seg.first_seq;
        while off < bytes.len() {
            if next_first == Some(next) {
                tracing::warn!(
                    file = %seg.path.display(),
                    offset = off,
                    cut_bytes = bytes.len() - off,
                    "journal: cutting the debris of a failed write (the next segment continues at seq {next})"
                );
                cut(&seg.path, off as u64)?;
                out.residues_cut.push((seg.path.clone(), off as u64));
                break;
            }
            let reason = match record::decode(&bytes[off..]) {
                Decoded::Record { seq, len, .. } => {
                    if seq != next {
                        return Err(corrupt(
                            &seg.path,
                            off,
                            format!("sequence gap: record has seq {seq} where {next} was expected"),
                        ));
                    }
                    next += 1;
                    off += len;
                    out.records_scanned += 1;
                    continue;
                }
                Decoded::Unsupported { version } => {
                    return Err(corrupt(&seg.path, off, unsupported_reason(version)));
                }
                Decoded::Torn => torn_reason(&bytes, off),
                Decoded::Corrupt { reason } => reason,
            };
            if let Some((at, seq)) = record::find_valid_after(&bytes, off + 1, next) {
                return Err(corrupt(
                    &seg.path,
                    off,
                    format!("{reason}; a valid record (seq {seq}) follows at offset {at}"),
                ));
            }
            if next_first.is_some() {
                return Err(corrupt(&seg.path, off, reason));
            }
            tracing::warn!(
                file = %seg.path.display(),
                offset = off,
                cut_bytes = bytes.len() - off,
                %reason,
                "journal: cutting torn tail of the last segment"
            );
            cut(&seg.path, off as u64)?;
            out.truncated = Some((seg.path.clone(), off as u64));
            break;
        }
        out.last_seq = next - 1;
        if next_first.is_none() {
            out.last = Some((seg.clone(), off as u64));
        }
    }
    Ok(out)
}

/// Opens a sequential reader over the records of `dir` with
/// `seq >= from_seq` (a `from_seq` of 0 reads from the start).
///
/// Segments that end before `from_seq` are skipped without being read.
/// Every record read is verified: a checksum failure or a sequence gap is
/// yielded as [`JournalError::Corrupt`] and ends the iteration. An
/// incomplete record at the very end of the last segment ends the
/// iteration quietly (it is an append in progress, or a tail that
/// [`crate::Journal::open`] has not cut yet).
///
/// In an earlier segment, bytes from the next segment's first seq on are
/// skipped as the debris of a failed batch, as [`crate::Journal::open`]
/// does (and cuts).
///
/// If `from_seq` lies before the first record still in the directory
/// (segments were deleted with [`crate::Journal::delete_segments_before`]),
/// this returns [`JournalError::Missing`] rather than silently starting
/// later. Segments deleted while the reader runs make it yield an I/O error.
pub fn read_from(dir: &Path, from_seq: u64) -> Result<Reader, JournalError> {
    let from_seq = from_seq.max(1);
    let segs = list_segments(dir).map_err(|e| JournalError::io("list segments", dir, &e))?;
    if let Some(first) = segs.first() {
        if from_seq < first.first_seq {
            return Err(JournalError::Missing {
                from_seq,
                first_available: first.first_seq,
            });
        }
    }
    // The first segment to read is the last one starting at or before from_seq.
    let start = segs
        .iter()
        .rposition(|s| s.first_seq <= from_seq)
        .unwrap_or(0);
    Ok(Reader {
        segs,
        idx: start,
        from_seq,
        expected: None,
        cur: None,
        done: false,
    })
}

/// Iterator over `(seq, payload)` returned by [`read_from`].
#[derive(Debug)]
pub struct Reader {
    segs: Vec<SegmentInfo>,
    idx: usize,
    from_seq: u64,
    /// Seq the next segment must start at (after the first one read).
    expected: Option<u64>,
    cur: Option<Current>,
    done: bool,
}

#[derive(Debug)]
struct Current {
    path: PathBuf,
    bytes: Vec<u8>,
    off: usize,
    next: u64,
    /// first_seq of the following segment (None for the last one).
    next_first: Option<u64>,
}

impl Reader {
    fn fail(&mut self, e: JournalError) -> Option<Result<(u64, Vec<u8>), JournalError>> {
        self.done = true;
        self.cur = None;
        Some(Err(e))
    }
}

impl Iterator for Reader {
    type Item = Result<(u64, Vec<u8>), JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if self.cur.is_none() {
                let Some(seg) = self.segs.get(self.idx).cloned() else {
                    self.done = true;
                    return None;
                };
                self.idx += 1;
                if let Some(expected) = self.expected {
                    if seg.first_seq != expected {
                        return self.fail(corrupt(
                            &seg.path,
                            0,
                            format!(
                                "sequence gap: segment starts at seq {} where {expected} was expected",
                                seg.first_seq
                            ),
                        ));
                    }
                }
                let bytes = match fs::read(&seg.path) {
                    Ok(b) => b,
                    Err(e) => return self.fail(JournalError::io("read", &seg.path, &e)),
                };
                self.cur = Some(Current {
                    path: seg.path,
                    bytes,
                    off: 0,
                    next: seg.first_seq,
                    next_first: self.segs.get(self.idx).map(|s| s.first_seq),
                });
            }
            let cur = self.cur.as_mut().expect("current segment");
            // In an earlier segment, bytes from the next segment's first seq
            // on are the debris of a failed batch (see `recover`).
            if cur.off == cur.bytes.len() || cur.next_first == Some(cur.next) {
                self.expected = Some(cur.next);
                self.cur = None;
                continue;
            }
            let err = match record::decode(&cur.bytes[cur.off..]) {
                Decoded::Record { seq, payload, len } => {
                    if seq != cur.next {
                        corrupt(
                            &cur.path,
                            cur.off,
                            format!(
                                "sequence gap: record has seq {seq} where {} was expected",
                                cur.next
                            ),
                        )
                    } else {
                        cur.next += 1;
                        cur.off += len;
                        if seq >= self.from_seq {
                            return Some(Ok((seq, payload.to_vec())));
                        }
                        continue;
                    }
                }
                Decoded::Torn if cur.next_first.is_none() => {
                    // The end of the data (an append in progress), unless a
                    // valid record follows: then the length field is damaged.
                    match record::find_valid_after(&cur.bytes, cur.off + 1, cur.next) {
                        None => {
                            self.done = true;
                            self.cur = None;
                            return None;
                        }
                        Some((at, seq)) => corrupt(
                            &cur.path,
                            cur.off,
                            format!(
                                "{}; a valid record (seq {seq}) follows at offset {at}",
                                torn_reason(&cur.bytes, cur.off)
                            ),
                        ),
                    }
                }
                Decoded::Torn => {
                    let reason = torn_reason(&cur.bytes, cur.off);
                    corrupt(&cur.path, cur.off, reason)
                }
                Decoded::Unsupported { version } => {
                    corrupt(&cur.path, cur.off, unsupported_reason(version))
                }
                Decoded::Corrupt { reason } => corrupt(&cur.path, cur.off, reason),
            };
            return self.fail(err);
        }
    }
}
