#!/usr/bin/env bash
# HTTP figures with wrk against a release build on this machine.
#
#   benches/wrk/run.sh            # every endpoint
#   ONLY="orders scans" benches/wrk/run.sh
#
# For each run: start `orchestrator serve` (embedded BF-1 scale 0.1) on a
# fresh data dir, wait for /readyz, seed if the endpoint needs it, run wrk,
# stop the server. Then print a table (markdown) of requests/s, items/s and
# latency percentiles, with the load average when each run started and the
# durability mode the server logged. Needs wrk (apt-get install wrk), curl
# and python3.
#
# Environment: PORT (18080), DURATION (10s), THREADS (2), CONNS (50; the
# batch1000c4 run uses 4), wrk timeout 30 s so slow batches are counted,
# TEMPLATES (20000 BF-1 orders), SCAN_SEED_ORDERS (60000), ONLY, ENGINE (host;
# shells for the actix shells), KEEP=1 to
# keep the work dir (logs, wrk outputs, bodies).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PORT=${PORT:-18080}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
TEMPLATES=${TEMPLATES:-20000}
SCAN_SEED_ORDERS=${SCAN_SEED_ORDERS:-60000}
ONLY=${ONLY:-"orders batch100 batch1000 batch1000c4 scans availability promise"}
BASE="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }

cd "$ROOT"
cargo build --release -p orch-runtime --bin orchestrator -p orch-benches --bin wrk_bodies
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN="$TARGET/release/orchestrator"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/orch-wrk.XXXXXX")
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

"$TARGET/release/wrk_bodies" "$WORK" "$TEMPLATES" 0.1

start_server() { # name
    "$BIN" serve --engine "${ENGINE:-host}" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data-$1" >"$WORK/server-$1.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if curl -sf "$BASE/readyz" >/dev/null 2>&1; then
            DURABILITY=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/server-$1.log" | grep -o 'durability="\?[a-z]*' | head -1 | sed 's/.*=//; s/"//g')
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$1.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "server did not become ready" >&2; cat "$WORK/server-$1.log" >&2; exit 1
}

stop_server() {
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

ROWS=()
COMMANDS=()

# wrk's "Latency Distribution" percentile, in ms.
pct() { # file percent
    awk -v p="$2%" '$1 == p { v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
        printf "%.2f", v }' "$1"
}
maxlat() { # file
    awk '$1 == "Latency" && NF >= 4 { v = $4; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
        printf "%.2f", v; exit }' "$1"
}

run_wrk() { # name label items_per_request url script [script args...]
    local name=$1 label=$2 per=$3 url=$4 script=$5; shift 5
    local load cmd
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    cmd="wrk -t$THREADS -c${CONNS_RUN:-$CONNS} -d$DURATION --timeout 30s --latency -s $HERE/$script $url -- $*"
    echo "== $label (load $load, durability $DURABILITY)" >&2
    echo "\$ $cmd" >&2
    $cmd | tee "$WORK/wrk-$name.txt" >&2
    local rps non2xx
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk-$name.txt")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$WORK/wrk-$name.txt")
    local items
    items=$(awk -v r="$rps" -v n="$per" 'BEGIN { printf "%.0f", r * n }')
    ROWS+=("| $label | $(printf '%.0f' "$rps") | $items | $(pct "$WORK/wrk-$name.txt" 50) | $(pct "$WORK/wrk-$name.txt" 90) | $(pct "$WORK/wrk-$name.txt" 99) | $(maxlat "$WORK/wrk-$name.txt") | ${non2xx:-0} | $load | ${DURABILITY:-?} (as logged) |")
    COMMANDS+=("$cmd")
}

for what in $ONLY; do
    case $what in
    orders)
        start_server orders
        run_wrk orders "POST /v1/orders (1 order/request)" 1 "$BASE/v1/orders" orders.lua "$WORK/orders.jsonl" o
        stop_server ;;
    batch100 | batch1000)
        n=${what#batch}
        start_server "$what"
        run_wrk "$what" "POST /v1/orders/batch ($n orders/request)" "$n" "$BASE/v1/orders/batch" batch.lua "$WORK/orders.jsonl" "$n" "b$n"
        stop_server ;;
    batch1000c4) # the same with 4 connections: throughput without the queueing
        start_server "$what"
        CONNS_RUN=4 run_wrk "$what" "POST /v1/orders/batch (1000 orders/request, 4 connections)" 1000 "$BASE/v1/orders/batch" batch.lua "$WORK/orders.jsonl" 1000 b1000c4
        stop_server ;;
    scans)
        start_server scans
        seeded=$(python3 "$HERE/seed_scans.py" "$BASE" "$WORK/orders.jsonl" "$SCAN_SEED_ORDERS" "$WORK/scans.jsonl" 100)
        echo "seeded: $seeded" >&2
        pool=$(echo "$seeded" | sed -n 's/.*events=\([0-9]*\).*/\1/p')
        run_wrk scans "POST /v1/scans (100 events/request)" 100 "$BASE/v1/scans" scans.lua "$WORK/scans.jsonl" "$THREADS"
        sent=$(awk -v r="$(awk '/requests in/ { print $1 }' "$WORK/wrk-scans.txt")" 'BEGIN { print r * 100 }')
        echo "scans: $sent events sent, $pool distinct (sent beyond the pool are duplicates)" >&2
        checked=$(python3 "$HERE/seed_scans.py" --check "$BASE" "$WORK/scans.jsonl" | tr '\n' ' ')
        echo "after the run: $checked" >&2
        SCAN_NOTE="scans: ~$sent events sent over a pool of $pool distinct events ($SCAN_SEED_ORDERS seeded orders): $(awk -v s="$sent" -v p="$pool" 'BEGIN { if (s <= p) print "all applied"; else printf "%.0f%% applied, the rest duplicates", 100 * p / s }'); re-posted after the run: $checked"
        stop_server ;;
    availability)
        start_server availability
        run_wrk availability "GET /v1/availability (300 km)" 1 "$BASE/v1/availability" availability.lua "$WORK/reads.txt"
        stop_server ;;
    promise)
        start_server promise
        run_wrk promise "GET /v1/promise (1 unit)" 1 "$BASE/v1/promise" promise.lua "$WORK/reads.txt"
        stop_server ;;
    *) echo "unknown run: $what" >&2; exit 2 ;;
    esac
done

echo
echo "machine: $(nproc) cores, $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'); $(date -u +%Y-%m-%dT%H:%MZ)"
echo "server: $BIN serve --listen 127.0.0.1:$PORT --data-dir <fresh dir> (embedded BF-1 scale 0.1), restarted for each row"
echo
echo "| endpoint | requests/s | items/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | load (1/5/15 min) at start | durability |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
for r in "${ROWS[@]}"; do echo "$r"; done
if [[ -n "${SCAN_NOTE:-}" ]]; then echo; echo "$SCAN_NOTE"; fi
echo
echo "commands:"
for c in "${COMMANDS[@]}"; do echo "    $c"; done
