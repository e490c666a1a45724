#!/usr/bin/env bash
# The load tester's CI check: a 20-second BF-1 run at scale 0.01 in-process,
# then report.json must exist and every invariant in it must have passed.
# Run from the repository root: bash loadtest/ci-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
report=target/ci-report
rm -rf "$report"
status=0
cargo run --release -p orch-loadtest --bin loadtest -- run --profile bf-1 --scale 0.01 \
    --peak-rate 500 --duration 20s --seed 1 --report "$report" || status=$?
if [ ! -f "$report/report.json" ]; then
    echo "loadtest ci-check: $report/report.json was not written (exit $status)" >&2
    exit 1
fi
python3 - "$report/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
inv = r.get("invariants") or {}
required = ["no_oversell", "inventory_matches_book", "conservation_per_sku", "no_lost_acknowledged_order", "doorbuster_exact"]
missing = [n for n in required if n not in inv]
failed = [n for n, c in inv.items() if not c.get("passed")]
for n, c in sorted(inv.items()):
    print(f"  {n}: {'passed' if c.get('passed') else 'FAILED'} ({c.get('violations')} violations)")
if missing or failed:
    print(f"loadtest ci-check: missing {missing}, failed {failed}", file=sys.stderr)
    sys.exit(1)
print(f"loadtest ci-check: {len(inv)} invariants passed; place p99 "
      f"{r['latency_ms']['place']['p99']} ms at {r['throughput']['orders_placed_per_s']} orders/s "
      f"({r['config']['cores']} cores, durability {r['config']['durability']})")
PY
if [ "$status" -ne 0 ]; then
    echo "loadtest ci-check: loadtest exited $status" >&2
    exit "$status"
fi
