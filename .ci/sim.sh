#!/usr/bin/env bash
# The deterministic simulator: the fixed CI seed set and the deliberate
# bugs it must catch (feature `bugs`, never enabled by releases), then 1,000
# seeds of the release binary. Needs nothing beyond the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -p orch-sim --features bugs --test sim
cargo run --release -p orch-sim --bin sim -- --seeds 0..1000
