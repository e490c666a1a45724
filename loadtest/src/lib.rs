//! The BF-1 Black Friday simulator (see `shared/WORKLOAD.md`): the seeded
//! order stream and, later, the runner and its report.

pub mod workload;
