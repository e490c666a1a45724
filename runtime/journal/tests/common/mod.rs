//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use orch_journal::segment::list_segments;
use orch_journal::{read_from, Journal, JournalOptions, Mode};

pub fn opts(mode: Mode, segment_bytes_max: u64) -> JournalOptions {
    JournalOptions {
        mode,
        batch_bytes_max: 256 * 1024,
        batch_wait_us_max: 50,
        segment_bytes_max,
        fault: None,
        retry_failed_batches: false,
        on_batch: None,
        durable_log: None,
        on_durable: None,
    }
}

/// A payload whose content and size depend on `i`.
pub fn payload(i: u64) -> Vec<u8> {
    let mut p = format!("record-{i}:").into_bytes();
    p.extend(std::iter::repeat_n((i % 251) as u8, (i % 41) as usize));
    p
}

pub fn read_all(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    read_from(dir, 1)
        .expect("read_from")
        .collect::<Result<_, _>>()
        .expect("read")
}

pub fn segments(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir)
        .expect("list")
        .into_iter()
        .map(|s| s.path)
        .collect()
}

/// Writes records 1..=n (payload(i)) with the given options and closes.
pub fn write_records(dir: &Path, o: JournalOptions, n: u64) -> Vec<(u64, Vec<u8>)> {
    let (j, rec) = Journal::open(dir, o).expect("open");
    assert_eq!(rec.last_seq, 0);
    let tickets: Vec<_> = (1..=n).map(|i| j.append(payload(i))).collect();
    for (i, t) in tickets.into_iter().enumerate() {
        assert_eq!(t.wait().expect("append"), i as u64 + 1);
    }
    assert_eq!(j.close().expect("close"), n);
    (1..=n).map(|i| (i, payload(i))).collect()
}

/// Copies every file of `from` into a new temporary directory.
pub fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("tempdir");
    for e in fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        fs::copy(e.path(), to.path().join(e.file_name())).expect("copy");
    }
    to
}

/// Blocks on a future without a runtime (a tiny executor for the tests).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
