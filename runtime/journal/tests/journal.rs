//! Behaviour of the journal: round trips, recovery of torn and corrupt
//! files, group commit, disk faults, trimming.

mod common;

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::sync::{mpsc, Arc};

use common::*;
use orch_journal::record::{self, encoded_len};
use orch_journal::segment::segment_file_name;
use orch_journal::{
    read_from, FaultInjector, Journal, JournalError, JournalOptions, Mode, FORMAT_VERSION,
};

// ---------------------------------------------------------------- round trips

fn round_trip(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (j, rec) = Journal::open(dir, opts(mode, 512)).unwrap();
    assert_eq!(
        (rec.mode, rec.format_version, rec.last_seq),
        (mode, FORMAT_VERSION, 0)
    );

    let mut expected = Vec::new();
    let mut tickets = Vec::new();
    let (cb_tx, cb_rx) = mpsc::channel();
    let mut next = 1u64;
    while next <= 600 {
        match next % 3 {
            0 => {
                let batch: Vec<_> = (next..next + 5).map(payload).collect();
                tickets.push((next + 4, j.append_batch(batch)));
                expected.extend((next..next + 5).map(|i| (i, payload(i))));
                next += 5;
            }
            1 => {
                tickets.push((next, j.append(payload(next))));
                expected.push((next, payload(next)));
                next += 1;
            }
            _ => {
                let tx = cb_tx.clone();
                let want = next;
                j.append_with(
                    payload(next),
                    Box::new(move |r| tx.send((want, r)).unwrap()),
                );
                expected.push((next, payload(next)));
                next += 1;
            }
        }
    }
    let last = next - 1;
    for (want, t) in tickets {
        assert_eq!(t.wait().unwrap(), want);
    }
    drop(cb_tx);
    for (want, r) in cb_rx {
        assert_eq!(r.unwrap(), want);
    }
    assert_eq!(j.flush().wait().unwrap(), last);
    let s = j.stats();
    assert_eq!(
        (s.mode, s.records, s.last_seq, s.pending_bytes),
        (mode, last, last, 0)
    );
    assert!(s.healthy && s.last_error.is_none());
    assert_eq!(j.close().unwrap(), last);

    assert!(segments(dir).len() > 5, "{:?}", segments(dir));
    for seg in segments(dir) {
        // Rolled before exceeding the limit (no single batch is above it here).
        assert!(
            fs::metadata(&seg).unwrap().len() <= 512,
            "{}",
            seg.display()
        );
    }
    assert_eq!(read_all(dir), expected);

    let (j, rec) = Journal::open(dir, opts(mode, 512)).unwrap();
    assert_eq!(
        (rec.last_seq, rec.records_scanned, rec.truncated.clone()),
        (last, last, None)
    );
    assert_eq!(rec.segments, segments(dir).len());
    assert_eq!(j.append(b"after reopen".to_vec()).wait().unwrap(), last + 1);
    drop(j);
    let all = read_all(dir);
    assert_eq!(all.len() as u64, last + 1);
    assert_eq!(all.last().unwrap(), &(last + 1, b"after reopen".to_vec()));
}

#[test]
fn round_trip_across_segments_fsync() {
    round_trip(Mode::Fsync);
}

#[test]
fn round_trip_across_segments_os() {
    round_trip(Mode::Os);
}

#[test]
fn mode_none_touches_nothing_but_assigns_seqs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let (j, rec) = Journal::open(&dir, opts(Mode::None, 512)).unwrap();
    assert_eq!((rec.mode, rec.last_seq, rec.segments), (Mode::None, 0, 0));
    for i in 1..=100 {
        assert_eq!(j.append(payload(i)).wait().unwrap(), i);
    }
    assert_eq!(
        j.append_batch(vec![vec![1], vec![2], vec![3]])
            .wait()
            .unwrap(),
        103
    );
    let (tx, rx) = mpsc::channel();
    j.append_with(vec![9], Box::new(move |r| tx.send(r).unwrap()));
    assert_eq!(rx.recv().unwrap().unwrap(), 104);
    assert_eq!(block_on(j.append(vec![])).unwrap(), 105);
    assert_eq!(j.flush().wait().unwrap(), 105);
    let s = j.stats();
    assert_eq!(
        (s.records, s.last_seq, s.durable_seq, s.batches, s.fsyncs),
        (105, 105, 0, 0, 0)
    );
    assert_eq!(j.delete_segments_before(100).unwrap(), 0);
    assert_eq!(j.close().unwrap(), 105);
    assert!(!dir.exists(), "Mode::None created {}", dir.display());
}

#[test]
fn journal_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Journal>();
    fn assert_send<T: Send + Unpin>() {}
    assert_send::<orch_journal::Ticket>();
}

#[test]
fn async_tickets_batches_and_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(tmp.path(), opts(Mode::Fsync, 1 << 20)).unwrap();
    assert_eq!(block_on(j.append(b"a".to_vec())).unwrap(), 1);
    assert_eq!(
        block_on(j.append_batch(vec![b"b".to_vec(), b"c".to_vec()])).unwrap(),
        3
    );
    // An empty batch resolves to the last seq before it.
    assert_eq!(block_on(j.append_batch(Vec::new())).unwrap(), 3);
    let too_big = vec![0u8; record::MAX_PAYLOAD_LEN + 1];
    assert!(matches!(
        j.append(too_big.clone()).wait(),
        Err(JournalError::TooLarge { .. })
    ));
    assert!(matches!(
        j.append_batch(vec![b"ok".to_vec(), too_big]).wait(),
        Err(JournalError::TooLarge { .. })
    ));
    assert_eq!(block_on(j.flush()).unwrap(), 3);
    let s = j.stats();
    assert_eq!((s.durable_seq, s.pending_bytes), (3, 0));
    assert_eq!(s.bytes, (encoded_len(1) * 3) as u64);
    drop(j);
    let got: Vec<_> = read_all(tmp.path()).into_iter().map(|(_, p)| p).collect();
    assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
}

#[test]
fn os_mode_syncs_only_on_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(tmp.path(), opts(Mode::Os, 1 << 20)).unwrap();
    for i in 1..=10 {
        j.append(payload(i)).wait().unwrap();
    }
    let s = j.stats();
    assert_eq!((s.fsyncs, s.durable_seq, s.last_seq), (0, 0, 10));
    assert_eq!(j.flush().wait().unwrap(), 10);
    let s = j.stats();
    assert_eq!((s.fsyncs, s.durable_seq), (1, 10));
}

#[test]
fn read_from_skips_to_the_requested_seq() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let all = write_records(dir, opts(Mode::Os, 300), 200);
    assert!(segments(dir).len() > 10);
    for from in [0, 1, 2, 57, 199, 200] {
        let got: Vec<_> = read_from(dir, from).unwrap().map(Result::unwrap).collect();
        let want: Vec<_> = all.iter().filter(|(s, _)| *s >= from).cloned().collect();
        assert_eq!(got, want, "from {from}");
    }
    assert_eq!(read_from(dir, 201).unwrap().count(), 0);
    assert_eq!(read_from(dir, u64::MAX).unwrap().count(), 0);
}

// ------------------------------------------------------------ torn and corrupt

/// A journal of `n` records in a few segments; returns it and the last
/// segment with the offset and length of its last record.
fn pristine(n: u64) -> (tempfile::TempDir, std::path::PathBuf, u64, u64) {
    let tmp = tempfile::tempdir().unwrap();
    write_records(tmp.path(), opts(Mode::Fsync, 400), n);
    let segs = segments(tmp.path());
    assert!(segs.len() >= 3);
    let last = segs.last().unwrap().clone();
    let file_len = fs::metadata(&last).unwrap().len();
    let rec_len = encoded_len(payload(n).len()) as u64;
    (tmp, last, file_len - rec_len, rec_len)
}

/// Reopens the copy, checks it recovered records 1..n-1 and the cut, then
/// appends and reads back.
fn check_cut_and_continue(dir: &std::path::Path, last_file: &std::path::Path, off: u64, n: u64) {
    let (j, rec) = Journal::open(dir, opts(Mode::Fsync, 400)).unwrap();
    assert_eq!(rec.last_seq, n - 1);
    assert_eq!(rec.truncated, Some((last_file.to_path_buf(), off)));
    assert_eq!(fs::metadata(last_file).unwrap().len(), off);
    assert_eq!(j.append(b"again".to_vec()).wait().unwrap(), n);
    drop(j);
    let mut want: Vec<_> = (1..n).map(|i| (i, payload(i))).collect();
    want.push((n, b"again".to_vec()));
    assert_eq!(read_all(dir), want);
}

#[test]
fn truncated_last_record_at_every_offset_is_cut() {
    let n = 40;
    let (src, last, off, rec_len) = pristine(n);
    let name = last.file_name().unwrap().to_owned();
    for cut in off + 1..off + rec_len {
        let copy = copy_dir(src.path());
        let file = copy.path().join(&name);
        OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(cut)
            .unwrap();
        check_cut_and_continue(copy.path(), &file, off, n);
    }
}

#[test]
fn flipped_byte_in_last_record_is_cut() {
    let n = 40;
    let (src, last, off, rec_len) = pristine(n);
    let name = last.file_name().unwrap().to_owned();
    for at in off..off + rec_len {
        let copy = copy_dir(src.path());
        let file = copy.path().join(&name);
        let mut bytes = fs::read(&file).unwrap();
        bytes[at as usize] ^= 0xFF;
        fs::write(&file, &bytes).unwrap();
        check_cut_and_continue(copy.path(), &file, off, n);
    }
}

#[test]
fn garbage_after_the_last_record_is_cut() {
    let n = 40;
    let (src, last, off, rec_len) = pristine(n);
    let name = last.file_name().unwrap().to_owned();
    let end = off + rec_len;
    for garbage in [
        vec![0u8; 4096],
        vec![0xA5; 3],
        (0..=255u8).cycle().take(999).collect(),
    ] {
        let copy = copy_dir(src.path());
        let file = copy.path().join(&name);
        OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap()
            .write_all(&garbage)
            .unwrap();
        let (j, rec) = Journal::open(copy.path(), opts(Mode::Fsync, 400)).unwrap();
        assert_eq!(rec.last_seq, n);
        assert_eq!(rec.truncated, Some((file.clone(), end)));
        assert_eq!(j.append(b"x".to_vec()).wait().unwrap(), n + 1);
        drop(j);
        assert_eq!(read_all(copy.path()).len() as u64, n + 1);
    }
}

#[test]
fn flipped_byte_in_a_middle_record_is_a_startup_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_records(tmp.path(), opts(Mode::Fsync, 1 << 20), 30);
    let file = segments(tmp.path()).pop().unwrap();
    // Offset and length of record 15.
    let off: u64 = (1..15).map(|i| encoded_len(payload(i).len()) as u64).sum();
    let len = encoded_len(payload(15).len()) as u64;
    for at in off..off + len {
        let copy = copy_dir(tmp.path());
        let f = copy.path().join(file.file_name().unwrap());
        let mut bytes = fs::read(&f).unwrap();
        bytes[at as usize] ^= 0xFF;
        fs::write(&f, &bytes).unwrap();
        let before = bytes.len();
        match Journal::open(copy.path(), opts(Mode::Fsync, 1 << 20)) {
            Err(JournalError::Corrupt {
                file: bad,
                offset,
                reason,
            }) => {
                assert_eq!((bad, offset), (f.clone(), off), "flip at {at}: {reason}");
            }
            other => panic!("flip at {at}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(
            fs::metadata(&f).unwrap().len() as usize,
            before,
            "file was modified"
        );
        // The reader reports it too, after the good records.
        let got: Vec<_> = read_from(copy.path(), 1).unwrap().collect();
        assert_eq!(got.len(), 15);
        assert!(matches!(got[14], Err(JournalError::Corrupt { offset, .. }) if offset == off));
    }
}

#[test]
fn bad_record_in_a_non_last_segment_is_a_startup_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_records(tmp.path(), opts(Mode::Fsync, 400), 60);
    let segs = segments(tmp.path());
    assert!(segs.len() >= 3);
    // Flip the last byte of the first segment (its last record's payload),
    // and separately cut the first segment short.
    for damage in ["flip", "cut"] {
        let copy = copy_dir(tmp.path());
        let f = copy.path().join(segs[0].file_name().unwrap());
        let mut bytes = fs::read(&f).unwrap();
        match damage {
            "flip" => *bytes.last_mut().unwrap() ^= 1,
            _ => {
                bytes.pop();
            }
        }
        fs::write(&f, &bytes).unwrap();
        match Journal::open(copy.path(), opts(Mode::Fsync, 400)) {
            Err(JournalError::Corrupt { file, .. }) => assert_eq!(file, f, "{damage}"),
            other => panic!("{damage}: expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn missing_segment_is_a_sequence_gap() {
    let tmp = tempfile::tempdir().unwrap();
    write_records(tmp.path(), opts(Mode::Fsync, 400), 60);
    let segs = segments(tmp.path());
    fs::remove_file(&segs[1]).unwrap();
    match Journal::open(tmp.path(), opts(Mode::Fsync, 400)) {
        Err(JournalError::Corrupt {
            file,
            offset,
            reason,
        }) => {
            assert_eq!((file, offset), (segs[2].clone(), 0));
            assert!(reason.contains("gap"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn sequence_gap_inside_a_segment_and_other_versions_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(segment_file_name(1));
    let mut buf = Vec::new();
    for seq in [1, 2, 4] {
        record::encode(&mut buf, seq, b"p");
    }
    fs::write(&file, &buf).unwrap();
    let gap_at = 2 * encoded_len(1) as u64;
    match Journal::open(tmp.path(), opts(Mode::Fsync, 1 << 20)) {
        Err(JournalError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset, gap_at, "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }

    // A well-formed record of another format version at the tail is never cut.
    buf.truncate(gap_at as usize);
    let at = buf.len();
    record::encode(&mut buf, 3, b"from the future");
    buf[at + 8] = FORMAT_VERSION + 1;
    let crc = crc32c::crc32c(&buf[at + 8..]);
    buf[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    fs::write(&file, &buf).unwrap();
    match Journal::open(tmp.path(), opts(Mode::Fsync, 1 << 20)) {
        Err(JournalError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset, at as u64);
            assert!(reason.contains("version 2"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(fs::read(&file).unwrap(), buf);
}

// --------------------------------------------------------------- group commit

#[test]
fn group_commit_batches_concurrent_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(tmp.path(), opts(Mode::Fsync, 1 << 20)).unwrap();
    let j = Arc::new(j);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let j = j.clone();
            std::thread::spawn(move || {
                (0..1250u64)
                    .map(|i| {
                        let p = payload(t * 10_000 + i);
                        (j.append(p.clone()).wait().expect("append"), p)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acked: Vec<(u64, Vec<u8>)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let s = j.stats();
    eprintln!(
        "group commit: {} records, {} batches, {} fsyncs",
        s.records, s.batches, s.fsyncs
    );
    assert_eq!(s.records, 10_000);
    assert!(s.fsyncs < s.records, "{s:?}");
    assert!(s.batches < s.records, "{s:?}");
    assert_eq!(s.durable_seq, 10_000);
    let unique: HashSet<u64> = acked.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(unique.len(), 10_000);
    acked.sort();
    assert_eq!(acked.first().unwrap().0, 1);
    assert_eq!(acked.last().unwrap().0, 10_000);
    drop(j);
    assert_eq!(read_all(tmp.path()), acked);
}

// ----------------------------------------------------------------- disk faults

#[test]
fn injected_write_faults_reject_the_batch_and_leave_no_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let fault = FaultInjector::new();
    let o = JournalOptions {
        fault: Some(fault.clone()),
        ..opts(Mode::Fsync, 4096)
    };
    let (j, _) = Journal::open(tmp.path(), o.clone()).unwrap();
    let mut acked = Vec::new();
    for i in 1..=10 {
        let seq = j.append(payload(i)).wait().unwrap();
        acked.push((seq, payload(i)));
    }

    fault.fail_writes(true);
    for i in 100..120 {
        match j.append(payload(i)).wait() {
            Err(JournalError::Io { kind, .. }) => assert_eq!(kind, std::io::ErrorKind::StorageFull),
            other => panic!("expected Io error, got {other:?}"),
        }
    }
    assert!(j.append_batch(vec![payload(1), payload(2)]).wait().is_err());
    let (tx, rx) = mpsc::channel();
    j.append_with(payload(3), Box::new(move |r| tx.send(r).unwrap()));
    assert!(rx.recv().unwrap().is_err());
    let s = j.stats();
    assert!(!s.healthy);
    assert!(
        s.last_error.as_deref().unwrap().contains("no space left"),
        "{s:?}"
    );
    assert_eq!((s.last_seq, s.records), (10, 10));

    fault.fail_writes(false);
    for i in 200..210 {
        let seq = j.append(payload(i)).wait().unwrap();
        acked.push((seq, payload(i)));
    }
    let s = j.stats();
    assert!(s.healthy, "{s:?}");
    assert_eq!(s.last_seq, 20, "seqs of failed records are reused, no gap");
    drop(j);

    let (_j, rec) = Journal::open(tmp.path(), o).unwrap();
    assert_eq!(
        rec.truncated, None,
        "the writer already cut the failed writes"
    );
    assert_eq!(rec.last_seq, 20);
    drop(_j);
    assert_eq!(read_all(tmp.path()), acked);
}

#[test]
fn faults_toggling_under_concurrent_load_never_ack_what_is_not_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let fault = FaultInjector::new();
    let o = JournalOptions {
        fault: Some(fault.clone()),
        ..opts(Mode::Fsync, 2048)
    };
    let (j, _) = Journal::open(tmp.path(), o).unwrap();
    let j = Arc::new(j);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let toggler = {
        let (fault, stop) = (fault.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut on = false;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                on = !on;
                fault.fail_writes(on);
                std::thread::sleep(std::time::Duration::from_micros(700));
            }
            fault.fail_writes(false);
        })
    };
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let j = j.clone();
            std::thread::spawn(move || {
                let (mut ok, mut err) = (Vec::new(), 0);
                for i in 0..600u64 {
                    let p = payload(t * 1_000_000 + i);
                    match j.append(p.clone()).wait() {
                        Ok(seq) => ok.push((seq, p)),
                        Err(JournalError::Io { .. }) => err += 1,
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                (ok, err)
            })
        })
        .collect();
    let mut acked = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (ok, err) = w.join().unwrap();
        acked.extend(ok);
        errors += err;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    toggler.join().unwrap();
    eprintln!("toggling faults: {} acked, {errors} rejected", acked.len());
    assert!(errors > 0, "the fault never hit");
    assert!(!acked.is_empty());
    j.append(b"healthy again".to_vec()).wait().unwrap();
    assert!(j.stats().healthy);
    drop(j);
    acked.sort();
    let on_disk = read_all(tmp.path());
    assert_eq!(&on_disk[..on_disk.len() - 1], &acked[..]);
    // Sequence numbers are dense: failed ones were reused.
    assert!(on_disk
        .iter()
        .enumerate()
        .all(|(i, (s, _))| *s == i as u64 + 1));
}

#[test]
fn failed_truncation_moves_to_a_new_segment_and_recovery_cuts_the_debris() {
    // Debris of whole records ending on a record boundary, and debris
    // ending in a torn record.
    failed_truncation(true);
    failed_truncation(false);
}

fn failed_truncation(batch_first: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let fault = FaultInjector::new();
    let o = JournalOptions {
        fault: Some(fault.clone()),
        ..opts(Mode::Fsync, 1 << 20)
    };
    let (j, _) = Journal::open(tmp.path(), o.clone()).unwrap();
    let mut acked = Vec::new();
    for i in 1..=5 {
        acked.push((j.append(payload(i)).wait().unwrap(), payload(i)));
    }
    let first = segments(tmp.path())[0].clone();
    let good_len = fs::metadata(&first).unwrap().len();

    fault.fail_writes(true);
    fault.fail_truncates(true);
    if batch_first {
        // Half of this batch (three complete records, seqs 6 to 8, 111
        // bytes) stays behind in the first segment.
        let batch: Vec<_> = (50..56).map(|i| vec![i as u8; 20]).collect();
        assert!(j.append_batch(batch).wait().is_err());
    }
    for i in 0..3 {
        assert!(j.append(payload(60 + i)).wait().is_err());
    }
    assert!(!j.stats().healthy);
    assert!(
        fs::metadata(&first).unwrap().len() > good_len,
        "debris stays in the old segment"
    );
    fault.fail_writes(false);
    fault.fail_truncates(false);
    for i in 6..=10 {
        acked.push((j.append(payload(i)).wait().unwrap(), payload(i)));
    }
    let s = j.stats();
    assert!(s.healthy);
    assert_eq!(s.active_segment_first_seq, 6);
    // A reader skips the debris even before recovery cut it.
    assert_eq!(read_all(tmp.path()), acked);
    drop(j);
    assert_eq!(
        segments(tmp.path()),
        vec![first.clone(), tmp.path().join(segment_file_name(6))]
    );

    let (j, rec) = Journal::open(tmp.path(), o).unwrap();
    assert_eq!(rec.last_seq, 10);
    assert_eq!(rec.truncated, None);
    assert_eq!(rec.residues_cut, vec![(first.clone(), good_len)]);
    assert_eq!(fs::metadata(&first).unwrap().len(), good_len);
    assert_eq!(j.append(payload(11)).wait().unwrap(), 11);
    acked.push((11, payload(11)));
    drop(j);
    assert_eq!(read_all(tmp.path()), acked);
}

#[test]
fn removed_directory_is_a_real_write_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    // A 1-byte segment limit: every batch after the first needs a new file.
    let (j, _) = Journal::open(&dir, opts(Mode::Fsync, 1)).unwrap();
    assert_eq!(j.append(b"one".to_vec()).wait().unwrap(), 1);
    fs::remove_dir_all(&dir).unwrap();
    for _ in 0..5 {
        match j.append(b"lost".to_vec()).wait() {
            Err(JournalError::Io { op, kind, .. }) => {
                assert_eq!((op, kind), ("create segment", std::io::ErrorKind::NotFound));
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }
    let s = j.stats();
    assert!(!s.healthy);
    assert!(s.last_error.is_some());

    fs::create_dir(&dir).unwrap();
    assert_eq!(j.append(b"two".to_vec()).wait().unwrap(), 2);
    assert!(j.stats().healthy);
    drop(j);
    // Only what was written after the directory came back is there.
    let (_, rec) = Journal::open(&dir, opts(Mode::Fsync, 1)).unwrap();
    assert_eq!(rec.last_seq, 2);
    assert_eq!(
        read_from(&dir, 2)
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        vec![(2, b"two".to_vec())]
    );
}

// -------------------------------------------------------------------- trimming

#[test]
fn delete_segments_before_keeps_what_recovery_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (j, _) = Journal::open(dir, opts(Mode::Fsync, 300)).unwrap();
    for i in 1..=200 {
        j.append(payload(i)).wait().unwrap();
    }
    let before = segments(dir).len();
    let removed = j.delete_segments_before(120).unwrap();
    assert!(removed > 0);
    assert_eq!(segments(dir).len(), before - removed);
    let first_left = orch_journal::segment::list_segments(dir).unwrap()[0].first_seq;
    assert!(
        first_left <= 120 && first_left > 1,
        "first_left {first_left}"
    );
    // Idempotent.
    assert_eq!(j.delete_segments_before(120).unwrap(), 0);
    let got: Vec<_> = read_from(dir, 120).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        got,
        (120..=200).map(|i| (i, payload(i))).collect::<Vec<_>>()
    );
    assert!(matches!(
        read_from(dir, 1),
        Err(JournalError::Missing { from_seq: 1, first_available }) if first_available == first_left
    ));

    // Never the active segment, even when everything is older.
    j.delete_segments_before(u64::MAX).unwrap();
    assert_eq!(segments(dir).len(), 1);
    assert_eq!(j.append(payload(201)).wait().unwrap(), 201);
    let active = j.stats().active_segment_first_seq;
    drop(j);

    let (j, rec) = Journal::open(dir, opts(Mode::Fsync, 300)).unwrap();
    assert_eq!(rec.last_seq, 201);
    assert_eq!(j.append(payload(202)).wait().unwrap(), 202);
    drop(j);
    let got: Vec<_> = read_from(dir, active)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        got,
        (active..=202).map(|i| (i, payload(i))).collect::<Vec<_>>()
    );
}

#[test]
fn retrying_journal_holds_failed_batches_until_the_disk_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let fault = FaultInjector::new();
    let o = JournalOptions {
        fault: Some(fault.clone()),
        retry_failed_batches: true,
        ..opts(Mode::Fsync, 4096)
    };
    let (j, _) = Journal::open(tmp.path(), o.clone()).unwrap();
    assert_eq!(j.append(payload(1)).wait().unwrap(), 1);
    fault.fail_writes(true);
    let (tx, rx) = mpsc::channel();
    j.append_with(payload(2), Box::new(move |r| tx.send(r).unwrap()));
    // Held, not failed, and nothing behind it may pass.
    assert!(rx
        .recv_timeout(std::time::Duration::from_millis(300))
        .is_err());
    let later = j.append(payload(3));
    let s = j.stats();
    assert!(!s.healthy, "{s:?}");
    assert_eq!(s.last_seq, 1);
    fault.fail_writes(false);
    assert_eq!(rx.recv().unwrap().unwrap(), 2);
    assert_eq!(later.wait().unwrap(), 3);
    assert!(j.stats().healthy);
    drop(j);
    let got: Vec<_> = orch_journal::read_from(tmp.path(), 1)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(got, vec![(1, payload(1)), (2, payload(2)), (3, payload(3))]);
}

// ---------------------------------------------------------------- durable log

/// Everything acknowledged is recorded as durable by the time the ticket
/// resolves (a power-loss harness cuts files back to these lengths), and
/// in fsync mode the segment is recorded at open (recovered records are
/// fdatasynced before anything builds on them).
#[test]
fn acknowledged_records_are_recorded_durable_before_the_ack() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let log_path = tmp.path().join("durable.log");
    let log = Arc::new(orch_journal::DurableLog::open(&log_path).unwrap());
    let durable = |file: &std::path::Path| {
        let text = fs::read_to_string(&log_path).unwrap();
        orch_journal::durable_log::last_durable_lengths(&text)
            .get(file)
            .copied()
    };
    let o = JournalOptions {
        durable_log: Some(log.clone()),
        ..opts(Mode::Fsync, 1 << 20)
    };
    let (j, _) = Journal::open(&dir, o.clone()).unwrap();
    let seg = dir.join(segment_file_name(1));
    assert_eq!(
        durable(&seg),
        Some(0),
        "the new segment is recorded at open"
    );
    for i in 1..=200 {
        j.append(payload(i)).wait().unwrap();
        let on_disk = fs::metadata(&seg).unwrap().len();
        assert_eq!(
            durable(&seg),
            Some(on_disk),
            "record {i} was acknowledged before its durable length was recorded"
        );
    }
    drop(j);
    let len = fs::metadata(&seg).unwrap().len();
    fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(b"torn")
        .unwrap();
    let (j, rec) = Journal::open(&dir, o).unwrap();
    assert_eq!(rec.last_seq, 200);
    assert_eq!(
        durable(&seg),
        Some(len),
        "recorded again at open, torn tail cut"
    );
    drop(j);
}

/// The durable hook sees every non-empty record once, with its sequence
/// number, before the ticket that covers it resolves; in every mode.
#[test]
fn durable_hook_sees_each_record_once_before_its_ticket() {
    use std::sync::{Arc, Mutex};
    for mode in [Mode::Fsync, Mode::Os, Mode::None] {
        let dir = tempfile::tempdir().unwrap();
        let seen: Arc<Mutex<orch_journal::DurableRecords>> = Arc::default();
        let sink = seen.clone();
        let o = orch_journal::JournalOptions {
            on_durable: Some(orch_journal::DurableHook(Arc::new(move |records| {
                sink.lock().unwrap().extend(records)
            }))),
            ..opts(mode, 1 << 20)
        };
        let (j, _) = Journal::open(dir.path(), o).unwrap();
        let mut want = Vec::new();
        for i in 1..=20u64 {
            let last = if i % 4 == 0 {
                // A barrier: numbered, but not handed to the hook.
                j.append(Vec::new()).wait().unwrap()
            } else if i % 3 == 0 {
                j.append_batch(vec![payload(i), Vec::new(), payload(i + 100)])
                    .wait()
                    .unwrap()
            } else {
                j.append(payload(i)).wait().unwrap()
            };
            if i % 4 == 0 {
            } else if i % 3 == 0 {
                want.push((last - 2, payload(i)));
                want.push((last, payload(i + 100)));
            } else {
                want.push((last, payload(i)));
            }
            // The ticket resolved: its records were handed over already.
            assert_eq!(*seen.lock().unwrap(), want, "{mode}: after append {i}");
        }
        drop(j);
    }
}
