//! Journal append in each durability mode (fsync, os, none), and the
//! journal's share of recovery (opening a journal of 100,000 records).
//!
//! `cargo bench -p orch-benches --bench journal`
//!
//! Records are 64 bytes (about one compact event). Default options (1 MiB
//! batches, no batch wait, 64 MiB segments); the journal lives in a fresh
//! directory under `$TMPDIR` (default `/tmp`, which must be a real disk
//! for the fsync figures to mean anything; `df /tmp`).
//!
//! - `append_wait_each`: one thread, one record, wait for its ticket: the
//!   latency of an acknowledgement that waits for its own event.
//! - `append_1000_in_flight`: one thread appends 1,000 records, then waits
//!   for all tickets (group commit forms the batches).
//! - `append_batch_100`: one `append_batch` of 100 records, wait.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use orch_benches::load_note;
use orch_journal::{Journal, JournalOptions, Mode, Ticket};

const RECORD_BYTES: usize = 64;
const IN_FLIGHT: usize = 1_000;
const BATCH: usize = 100;
const RECOVER_RECORDS: usize = 100_000;

fn open(dir: &std::path::Path, mode: Mode) -> Journal {
    let opts = JournalOptions {
        mode,
        ..JournalOptions::default()
    };
    Journal::open(dir, opts).expect("open journal").0
}

fn append(c: &mut Criterion) {
    eprintln!("journal: {}", load_note());
    let payload = vec![7u8; RECORD_BYTES];
    for mode in [Mode::Fsync, Mode::Os, Mode::None] {
        let mut g = c.benchmark_group(format!("journal/{mode}"));
        let tmp = tempfile::tempdir().expect("temporary directory");
        let journal = open(tmp.path(), mode);

        g.throughput(Throughput::Elements(1));
        g.bench_function("append_wait_each", |b| {
            b.iter(|| journal.append(payload.clone()).wait().expect("append"))
        });

        g.throughput(Throughput::Elements(IN_FLIGHT as u64));
        g.bench_function(BenchmarkId::new("append_in_flight", IN_FLIGHT), |b| {
            b.iter(|| {
                let tickets: Vec<Ticket> = (0..IN_FLIGHT)
                    .map(|_| journal.append(payload.clone()))
                    .collect();
                for t in tickets {
                    t.wait().expect("append");
                }
            })
        });

        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_function(BenchmarkId::new("append_batch", BATCH), |b| {
            b.iter(|| {
                journal
                    .append_batch(vec![payload.clone(); BATCH])
                    .wait()
                    .expect("append")
            })
        });
        g.finish();
        let s = journal.stats();
        eprintln!(
            "journal/{mode}: {} records, {} batches, {} fsyncs (mean batch {:.1})",
            s.records,
            s.batches,
            s.fsyncs,
            s.records as f64 / s.batches.max(1) as f64
        );
    }
}

fn recover(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    {
        let journal = open(tmp.path(), Mode::Os);
        let payload = vec![7u8; RECORD_BYTES];
        for _ in 0..RECOVER_RECORDS / 1_000 {
            journal
                .append_batch(vec![payload.clone(); 1_000])
                .wait()
                .expect("append");
        }
        journal.close().expect("close");
    }
    let mut g = c.benchmark_group("journal/recover");
    g.throughput(Throughput::Elements(RECOVER_RECORDS as u64));
    g.bench_function(BenchmarkId::new("open_scan", RECOVER_RECORDS), |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let (journal, recovery) =
                    Journal::open(tmp.path(), JournalOptions::default()).expect("open");
                timed += t.elapsed();
                assert_eq!(recovery.records_scanned, RECOVER_RECORDS as u64);
                drop(journal);
            }
            timed
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = append, recover
}
criterion_main!(benches);
