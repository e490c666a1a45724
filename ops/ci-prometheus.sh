#!/usr/bin/env bash
# Checks the metrics with the real Prometheus tools (called by .ci/run):
#   1. installs Debian's `prometheus` package if `promtool` is missing;
#   2. `promtool check config|rules` and `promtool test rules` on ops/;
#   3. runs the orchestrator on a loopback port, puts a short load on it and
#      runs `promtool check metrics` on the live /metrics (no finding allowed);
#   4. runs a real Prometheus on loopback scraping it every second during a
#      short load, and asserts through the query API that the placement rate
#      is above zero and that the place latency p99 (and the journal batch
#      p99, and the fill-ratio and shipping-cost recording rules) is a number
#      and that the carrier-mix shares add up to 1.
# Needs: bash, curl, cargo. Leaves nothing running; its files go to a temp
# directory removed at exit (kept with KEEP_TMP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { echo "-- ci-prometheus: $*"; }
fail() { echo "ci-prometheus: FAILED: $*" >&2; exit 1; }

# ---- 1. promtool / prometheus ---------------------------------------------
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v curl >/dev/null; then
  log "installing Debian's prometheus package (promtool) and curl"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq prometheus curl >/dev/null
fi
command -v curl >/dev/null || fail "curl is needed"
promtool --version 2>&1 | head -1

# ---- 2. rules and config ----------------------------------------------------
log "promtool check config / rules, test rules"
promtool check config ops/prometheus.yml
promtool check rules ops/alerts.yml
(cd ops && promtool test rules alerts.test.yml)

# ---- 3. the orchestrator under load ------------------------------------------
tmp=$(mktemp -d)
core_pid=""
prom_pid=""
cleanup() {
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null || true
  [ -n "$core_pid" ] && kill "$core_pid" 2>/dev/null && wait "$core_pid" 2>/dev/null || true
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

log "building the orchestrator"
cargo build --quiet --bin orchestrator
bin="${CARGO_TARGET_DIR:-$root/target}/debug/orchestrator"

"$bin" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --json-logs 2>"$tmp/core.log" &
core_pid=$!
addr=""
for _ in $(seq 1 600); do
  addr=$(grep '"HTTP API listening"' "$tmp/core.log" | sed -n 's/.*"addr":"\([0-9.:]*\)".*/\1/p' | head -1) || true
  [ -n "$addr" ] && break
  kill -0 "$core_pid" 2>/dev/null || { cat "$tmp/core.log" >&2; fail "the orchestrator stopped"; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$tmp/core.log" >&2; fail "the orchestrator did not listen"; }
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/readyz")" = 200 ] && break
  sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/readyz")" = 200 ] || fail "not ready"
log "orchestrator ready on $addr"
# A webhook to the loopback discard port (refused at once), so the live
# /metrics holds the webhook series too (deliveries by result, lag, status).
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  -d '{"url": "http://127.0.0.1:9/ci", "secret": "ci"}' "http://$addr/v1/webhooks/ci")" = 201 ] \
  || fail "webhook registration"

facilities=$(curl -s "http://$addr/v1/facilities" | grep -o '"facility_id":"[^"]*"' | cut -d'"' -f4 | sort -u)
[ -n "$facilities" ] || fail "no facilities"
channels=(web web app marketplace store)
levels=(standard standard next_day same_day)
batch_no=0

# One batch of 50 orders (SKUs of the embedded network: SKU-000000..SKU-009999),
# availability reads, then pick+pack scans for what was routed.
load_batch() {
  batch_no=$((batch_no + 1))
  local orders="" i sku lines
  for i in $(seq 1 50); do
    sku=$(printf 'SKU-%06d' $(( (RANDOM * 32768 + RANDOM) % 10000 )))
    lines="{\"sku\":\"$sku\",\"qty\":1}"
    if [ $((RANDOM % 3)) = 0 ]; then
      lines="$lines,{\"sku\":\"$(printf 'SKU-%06d' $((RANDOM % 10000)))\",\"qty\":2}"
    fi
    orders="$orders${orders:+,}{\"order_id\":\"ci-$batch_no-$i\",\"channel\":\"${channels[$((RANDOM % 5))]}\",\"ship_to\":{\"lat\":$((30 + RANDOM % 15)).$((RANDOM % 100)),\"lon\":-$((75 + RANDOM % 45)).$((RANDOM % 100))},\"service_level\":\"${levels[$((RANDOM % 4))]}\",\"lines\":[$lines]}"
  done
  curl -s -H 'Content-Type: application/json' -d "{\"orders\":[$orders]}" \
    "http://$addr/v1/orders/batch" >"$tmp/batch.json"
  curl -s -o /dev/null "http://$addr/v1/availability?sku=SKU-000001&lat=40&lon=-90&radius_km=500"
  # Fulfillment ids and their facility, for pack scans (rejected unless
  # picked: both results are counted).
  local scans="" n=0 pair fid fac
  for pair in $(grep -o '"fulfillment_id":"[^"]*","facility_id":"[^"]*"' "$tmp/batch.json" | head -20); do
    fid=$(echo "$pair" | cut -d'"' -f4)
    fac=$(echo "$pair" | cut -d'"' -f8)
    n=$((n + 1))
    scans="$scans${scans:+,}{\"event_id\":\"ev-$batch_no-$n\",\"kind\":\"pack\",\"order_id\":\"${fid%/*}\",\"fulfillment_id\":\"$fid\",\"facility_id\":\"$fac\"}"
  done
  if [ -n "$scans" ]; then
    curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"events\":[$scans]}" "http://$addr/v1/scans"
  fi
  if [ $((batch_no % 10)) = 0 ]; then
    for f in $facilities; do
      curl -s -o /dev/null -X POST "http://$addr/v1/facilities/$f/waves/release"
    done
  fi
}

load_for() {
  local end=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$end" ]; do load_batch; done
}

log "short load, then promtool check metrics on the live /metrics"
load_for 3
curl -s -o "$tmp/metrics.txt" -w '%{http_code}\n' "http://$addr/metrics" | grep -qx 200 || fail "/metrics did not answer 200"
grep -q '^orchestrator_orders_placed_total{' "$tmp/metrics.txt" || fail "no placements in /metrics"
if grep -q '^# TYPE orchestrator_[a-z_]* summary' "$tmp/metrics.txt"; then fail "a summary in /metrics"; fi
findings=$(promtool check metrics <"$tmp/metrics.txt" 2>&1) || true
if [ -n "$findings" ]; then
  echo "$findings" >&2
  fail "promtool check metrics has findings"
fi
log "promtool check metrics: no findings ($(grep -c '^orchestrator_' "$tmp/metrics.txt") series)"

# ---- 4. a real Prometheus ----------------------------------------------------
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  fail "no free port"
}
prom_port=$(free_port)
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $root/ops/alerts.yml
scrape_configs:
  - job_name: orchestrator
    metrics_path: /metrics
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ["$addr"]
EOF
promtool check config "$tmp/prometheus.yml" >/dev/null
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$tmp/prometheus.log" &
prom_pid=$!
prom="http://127.0.0.1:$prom_port"
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "$prom/-/ready" && break
  kill -0 "$prom_pid" 2>/dev/null || { cat "$tmp/prometheus.log" >&2; fail "prometheus stopped"; }
  sleep 0.1
done
curl -sf -o /dev/null "$prom/-/ready" || fail "prometheus not ready"
log "prometheus on $prom scraping $addr every second; load for 8 s"
load_for 8

# The value of an instant query's first sample ("" when the result is empty).
query() {
  curl -s --data-urlencode "query=$1" "$prom/api/v1/query" >"$tmp/q.json"
  grep -q '"status":"success"' "$tmp/q.json" || { cat "$tmp/q.json" >&2; fail "query failed: $1"; }
  sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p' "$tmp/q.json" | head -1
}
is_number() { [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }

up=$(query 'up{job="orchestrator"}')
[ "$up" = 1 ] || fail "target not up (up=$up)"
rate=$(query 'sum(rate(orchestrator_orders_placed_total{outcome!~"replay|invalid|conflict|error"}[30s]))')
is_number "$rate" || fail "placement rate is not a number: '$rate'"
awk -v r="$rate" 'BEGIN { exit !(r > 0) }' || fail "placement rate is not above zero: $rate"
p99=$(query 'histogram_quantile(0.99, sum by (le) (rate(orchestrator_place_duration_seconds_bucket[30s])))')
is_number "$p99" || fail "place p99 is not a number: '$p99'"
fill=$(query 'orchestrator:fill_ratio:rate5m')
is_number "$fill" || fail "the fill-ratio recording rule gave no number: '$fill'"
cost=$(query 'orchestrator:shipping_cost_per_order:avg1h')
is_number "$cost" || fail "the shipping-cost recording rule gave no number: '$cost'"
mix=$(query 'sum(orchestrator:carrier_mix_share:rate1h)')
is_number "$mix" || fail "the carrier-mix recording rule gave no number: '$mix'"
awk -v m="$mix" 'BEGIN { exit !(m > 0.999 && m < 1.001) }' || fail "carrier shares do not add up to 1: $mix"
# The embedded default journals with fsync: batches are written.
jp99=$(query 'histogram_quantile(0.99, sum by (le) (rate(orchestrator_journal_batch_duration_seconds_bucket[30s])))')
is_number "$jp99" || fail "journal batch p99 is not a number: '$jp99'"
log "placement rate ${rate}/s, place p99 ${p99}s, fill ratio $fill, shipping cost per order $cost, journal batch p99 ${jp99}s (through Prometheus' query API)"
log "OK"
