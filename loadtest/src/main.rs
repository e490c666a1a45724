//! `loadtest`: the BF-1 simulator's command line (see `orch_loadtest::cli`).

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: measured 67-71k -> 80-81k orders/s through the actors
/// (`place_overhead`, 200,000 orders), the allocator being a top cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    orch_loadtest::cli::main_with(orch_loadtest::cli::Cli::parse())
}
