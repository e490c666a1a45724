//! Journal throughput on this machine, per durability mode.
//!
//! ```text
//! cargo run --release -p orch-journal --example journal_throughput -- \
//!     [mode: fsync|os|none] [record bytes: 64] [threads: 4] [seconds: 5] \
//!     [in flight per thread: 128] [batch wait µs: the default, 0]
//! ```
//!
//! Each thread appends records of the given size as fast as it can, keeping
//! at most `in flight` unacknowledged tickets (1 = wait for every append,
//! like a caller that replies only once its event is durable). The journal
//! lives in a fresh temporary directory (under `$TMPDIR`, default `/tmp`)
//! that is removed at the end. Default options otherwise (1 MiB batches,
//! 64 MiB segments).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orch_journal::{Journal, JournalOptions, Mode, Ticket};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T, what: &str) -> T {
    match args.get(i) {
        None => default,
        Some(s) => s.parse().unwrap_or_else(|_| {
            eprintln!("bad {what}: {s}");
            std::process::exit(2)
        }),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        None => Mode::Fsync,
        Some(s) => Mode::parse(s).unwrap_or_else(|| {
            eprintln!("mode must be fsync, os or none, not {s}");
            std::process::exit(2)
        }),
    };
    let record_bytes: usize = arg(&args, 1, 64, "record size");
    let threads: usize = arg(&args, 2, 4, "thread count");
    let seconds: f64 = arg(&args, 3, 5.0, "seconds");
    let in_flight: usize = arg::<usize>(&args, 4, 128, "in-flight count").max(1);

    let defaults = JournalOptions::default();
    let batch_wait_us_max: u64 = arg(&args, 5, defaults.batch_wait_us_max, "batch wait");

    let tmp = tempfile::tempdir().expect("temporary directory");
    let opts = JournalOptions {
        mode,
        batch_wait_us_max,
        ..defaults
    };
    let (journal, _) = Journal::open(tmp.path(), opts.clone()).expect("open journal");
    let journal = Arc::new(journal);
    let stop = Arc::new(AtomicBool::new(false));

    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (journal, stop) = (journal.clone(), stop.clone());
            std::thread::spawn(move || {
                let payload = vec![t as u8; record_bytes];
                let mut window: VecDeque<Ticket> = VecDeque::with_capacity(in_flight);
                let mut acked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    window.push_back(journal.append(payload.clone()));
                    if window.len() >= in_flight {
                        window.pop_front().unwrap().wait().expect("append");
                        acked += 1;
                    }
                }
                for t in window {
                    t.wait().expect("append");
                    acked += 1;
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let acked: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let elapsed = started.elapsed().as_secs_f64();
    let s = journal.stats();
    assert_eq!(s.records, acked);
    drop(journal);

    let mb = s.bytes as f64 / 1e6;
    let mean_batch = if s.batches > 0 {
        s.records as f64 / s.batches as f64
    } else {
        0.0
    };
    let commit_us = if s.batches > 0 {
        s.commit_ns_total as f64 / s.batches as f64 / 1e3
    } else {
        0.0
    };
    println!(
        "mode={mode} record_bytes={record_bytes} threads={threads} in_flight={in_flight} \
         seconds={elapsed:.2} batch_bytes_max={} batch_wait_us_max={}",
        opts.batch_bytes_max, opts.batch_wait_us_max
    );
    println!(
        "events/s={:.0} MB/s={:.1} fsyncs/s={:.0} mean_batch={mean_batch:.1} \
         mean_commit_us={commit_us:.1} records={} batches={} fsyncs={}",
        s.records as f64 / elapsed,
        mb / elapsed,
        s.fsyncs as f64 / elapsed,
        s.records,
        s.batches,
        s.fsyncs
    );
}
