//! `loadtest`: the BF-1 simulator's command line (see `orch_loadtest::cli`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    orch_loadtest::cli::main_with(orch_loadtest::cli::Cli::parse())
}
