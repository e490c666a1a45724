#!/usr/bin/env bash
# The load tester's CI check: a 20-second BF-1 run at scale 0.01 in-process,
# then report.json must exist, carry the rate accounting (offered, achieved,
# goodput, dropped, refused, shed, generator lateness, per-second series) and
# the cart figures (carts on at the default --cart-share: holds created,
# converted, abandoned and expired), the events feed and webhook figures
# (the receiver is on by default: events delivered, events/s, delivery lag,
# repeats, bad signatures, outstanding), and every invariant in it, the
# holds' and the events feed's checks included, must have passed.
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
required = ["no_oversell", "inventory_matches_book", "conservation_per_sku", "no_lost_acknowledged_order", "doorbuster_exact",
            "promises_match_core", "holds_expired_hold_nothing", "conversions_took_held_units",
            "no_hold_oversell", "events_exactly_once", "events_per_order_order", "no_event_for_refused",
            "webhooks_delivered_all"]
missing = [n for n in required if n not in inv]
failed = [n for n, c in inv.items() if not c.get("passed")]
for n, c in sorted(inv.items()):
    print(f"  {n}: {'passed' if c.get('passed') else 'FAILED'} ({c.get('violations')} violations)")
fields = {
    "throughput": ["orders_offered_per_s", "orders_achieved_per_s", "goodput_per_s", "slo_ms"],
    "generator": ["max_ms", "mean_ms", "late_arrivals", "tolerance_ms", "arrivals"],
    "counts": ["orders_offered", "orders_acknowledged", "orders_dropped", "orders_refused",
               "orders_retried", "orders_shed", "orders_within_slo"],
    "memory": ["rss_peak_bytes", "tester_rss_peak_bytes", "core_rss_peak_bytes", "rss_note"],
    "config": ["max_in_flight", "max_tries", "load_average"],
    "shipping": ["orders_placed", "orders_split", "split_ratio", "cost_per_order", "carrier_mix",
                 "promise_by_service_level", "promise_total"],
    "carts": ["created", "converted", "not_converted", "abandoned", "expired", "refused", "shed",
              "conversion_ratio", "hold_create_ms"],
    "events": ["feed_events", "changes_checked", "refused_orders", "webhooks"],
}
absent = [f"{k}.{f}" for k, fs in fields.items() for f in fs if f not in (r.get(k) or {})]
w = (r.get("events") or {}).get("webhooks") or {}
absent += [f"events.webhooks.{f}" for f in ["feed_events", "delivered", "deliveries", "repeats", "bad_signatures",
                                            "outstanding", "events_per_s", "lag_ms", "arrived_before_ack", "early_ms",
                                            "drain_s"] if f not in w]
series = r.get("series") or []
if not series or any(k not in series[0] for k in ("offered", "achieved", "goodput", "dropped", "shed", "place_p99_ms")):
    absent.append("series[].offered/achieved/goodput/dropped/shed/place_p99_ms")
t, n = r.get("throughput") or {}, r.get("counts") or {}
wrong = []
if not absent:
    if sum(p["achieved"] for p in series) != n["orders_acknowledged"]:
        wrong.append("series achieved does not add up to orders_acknowledged")
    if sum(p["offered"] for p in series) != n["orders_offered"]:
        wrong.append("series offered does not add up to orders_offered")
    if not t["goodput_per_s"] <= t["orders_achieved_per_s"]:
        wrong.append("goodput above achieved")
    if n["orders_acknowledged"] + n["orders_dropped"] + n["orders_shed"] + n["orders_failed"] != n["orders_offered"]:
        wrong.append("acknowledged + dropped + shed + failed != offered")
    sh = r["shipping"]
    if sum(p["delivered"] for p in sh["promise_by_service_level"].values()) != sh["promise_total"]["delivered"]:
        wrong.append("shipping: delivered by service level does not add up to promise_total")
    if sh["promise_total"]["delivered"] == 0:
        wrong.append("shipping: no delivery was judged against a promise")
    c = r["carts"]
    if c["converted"] == 0 or c["abandoned"] == 0:
        wrong.append("carts: none converted or none abandoned")
    if c["converted"] + c["not_converted"] + c["abandoned"] != c["created"]:
        wrong.append("carts: converted + not converted + abandoned != created")
    if c["expired"] != c["abandoned"] + c["not_converted"]:
        wrong.append("carts: expired != abandoned + not converted")
    e = r["events"]
    if e["feed_events"] == 0 or e["changes_checked"] == 0:
        wrong.append("events: the feed or the book of changes is empty")
    if w["delivered"] != w["feed_events"] or w["outstanding"] != 0 or w["bad_signatures"] != 0:
        wrong.append("webhooks: not every feed event delivered with a valid signature")
    if not w["events_per_s"] > 0 or not w["lag_ms"]["p99"] > 0:
        wrong.append("webhooks: no events/s or no delivery lag measured")
if missing or failed or absent or wrong:
    print(f"loadtest ci-check: missing {missing}, failed {failed}, absent fields {absent}, wrong {wrong}",
          file=sys.stderr)
    sys.exit(1)
g = r["generator"]
print(f"loadtest ci-check: {len(inv)} invariants passed; offered {t['orders_offered_per_s']}/s, "
      f"achieved {t['orders_achieved_per_s']}/s, goodput {t['goodput_per_s']}/s (within {t['slo_ms']} ms), "
      f"dropped {n['orders_dropped']}, shed {n['orders_shed']}; generator late by {g['max_ms']} ms max, "
      f"{g['mean_ms']} ms mean; place p99 {r['latency_ms']['place']['p99']} ms; "
      f"promise kept {r['shipping']['promise_total']['kept_ratio']}, split ratio {r['shipping']['split_ratio']}, "
      f"shipping cost per order p50 {r['shipping']['cost_per_order']['p50']}; "
      f"carts created {r['carts']['created']}, converted {r['carts']['converted']} "
      f"(ratio {r['carts']['conversion_ratio']}), abandoned {r['carts']['abandoned']}, "
      f"expired {r['carts']['expired']}, refused {r['carts']['refused']}, hold create p50 "
      f"{r['carts']['hold_create_ms']['p50']} ms p99 {r['carts']['hold_create_ms']['p99']} ms; "
      f"events {r['events']['feed_events']} in the feed, webhooks delivered {w['delivered']} at "
      f"{w['events_per_s']}/s, lag p50 {w['lag_ms']['p50']} ms p99 {w['lag_ms']['p99']} ms, "
      f"{w['repeats']} repeats, {w['bad_signatures']} bad signatures "
      f"({r['config']['cores']} cores, durability {r['config']['durability']}, "
      f"load average {r['config']['load_average']})")
PY
if [ "$status" -ne 0 ]; then
    echo "loadtest ci-check: loadtest exited $status" >&2
    exit "$status"
fi
