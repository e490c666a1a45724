//! `loadtest`: the BF-1 simulator's command line. The runner and its report
//! are the load tester issue's work; until then this binary only says so.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "loadtest: the BF-1 runner is not built yet (see the load tester issue); \
         the order stream lives in orch_loadtest::workload"
    );
    ExitCode::from(2)
}
