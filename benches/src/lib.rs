//! Criterion benchmarks for the orchestration core; see `benches/README.md`.
