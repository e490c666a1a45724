//! `sim`: run the deterministic simulator over seeds.
//!
//! `sim --seeds 0..1000` runs each seed and prints one line per failure
//! (with its trace) and a summary; `sim --seed N --trace` replays one seed
//! and prints its options, trace and hash.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use orch_sim::checkpoint::Step;
use orch_sim::{run_seed, Bug};

/// Deterministic simulation of the shard engine with disk faults and
/// power loss.
#[derive(Parser, Debug)]
struct Args {
    /// A range of seeds, `A..B` (B excluded).
    #[arg(long)]
    seeds: Option<String>,
    /// One seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the whole trace.
    #[arg(long)]
    trace: bool,
    /// Plant a deliberate bug (ack-before-durable, receipt-twice-on-replay,
    /// drop-message, serve-twice, skip-release, forget-hold-expiry,
    /// delete-journal-early, mark-before-fsync; the last six need the
    /// `bugs` feature).
    #[arg(long)]
    bug: Option<String>,
}

fn parse_range(s: &str) -> Result<std::ops::Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("seeds: expected A..B, got {s:?}"))?;
    let a: u64 = a.parse().map_err(|e| format!("seeds: start {a:?}: {e}"))?;
    let b: u64 = b.parse().map_err(|e| format!("seeds: end {b:?}: {e}"))?;
    if a >= b {
        return Err(format!("seeds: empty range {s:?}"));
    }
    Ok(a..b)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seeds = match (&args.seeds, args.seed) {
        (Some(s), None) => match parse_range(s) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        (None, Some(n)) => n..n + 1,
        _ => {
            eprintln!("give exactly one of --seeds A..B or --seed N");
            return ExitCode::from(2);
        }
    };
    let bug = match args.bug.as_deref().map(Bug::parse).transpose() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(b) = bug.filter(|b| !b.available()) {
        eprintln!("bug: {} needs the `bugs` feature", b.name());
        return ExitCode::from(2);
    }
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let (mut failed, mut crashes, mut acked, mut runs) = (0u64, 0u64, 0u64, 0u64);
    let (mut snapshots, mut from_snapshot) = (0u64, 0u64);
    let mut cut = [0u64; 5];
    let (mut events, mut restored, mut not_emitted) = (0u64, 0u64, 0u64);
    for seed in seeds {
        let out = run_seed(seed, bug);
        runs += 1;
        crashes += u64::from(out.crashes);
        acked += out.acked;
        snapshots += u64::from(out.snapshots);
        from_snapshot += u64::from(out.snapshot_restarts);
        events += out.events.derived;
        restored += out.events.restored;
        not_emitted += out.events.not_emitted;
        for (all, n) in cut.iter_mut().zip(out.checkpoint_cuts) {
            *all += u64::from(n);
        }
        if args.trace || out.failure.is_some() {
            for line in &out.trace {
                println!("{line}");
            }
        }
        if let Some(f) = &out.failure {
            failed += 1;
            println!("seed {seed} FAILED (trace hash {:016x}): {f}", out.hash);
            println!("replay: sim --seed {seed} --trace");
        } else if args.trace || args.seed.is_some() {
            println!("{}", out.options.describe());
            println!("seed {seed} ok, trace hash {:016x}", out.hash);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{runs} seeds, {failed} failed, {crashes} power losses, {acked} acknowledged requests, \
         {snapshots} snapshots taken, {from_snapshot} restarts from a snapshot, \
         checkpoints cut by a power loss before fsync/mark/fsync of the mark/journal delete \
         {}/{}/{}/{}, {events} events derived ({restored} brought back from the event store at \
         restarts, {not_emitted} replayed without emitting again), {secs:.1} s, \
         {:.1} seeds/s",
        cut[Step::Fsync as usize],
        cut[Step::Mark as usize],
        cut[Step::FsyncMark as usize],
        cut[Step::DeleteJournal as usize],
        runs as f64 / secs
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
