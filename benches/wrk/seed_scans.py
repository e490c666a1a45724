#!/usr/bin/env python3
"""Seed a running orchestrator for the POST /v1/scans wrk run.

usage: seed_scans.py BASE_URL ORDERS_JSONL ORDERS OUT_JSONL [EVENTS_PER_BODY]
       seed_scans.py --check BASE_URL SCANS_JSONL

Places ORDERS BF-1 orders (templates from `wrk_bodies`, ids `s-<i>`) in
batches of 1,000, releases every facility's waves until nothing is queued,
then writes the scan bodies: the whole warehouse and carrier life of each
fulfillment (a pick per line, pack, ship, in_transit, out_for_delivery,
delivered), whole fulfillments grouped into bodies of about EVENTS_PER_BODY
events (default 100), one body per line. The first body is posted here as
a check (every event must come back `applied`) and left out of the file.
Prints `bodies=<n> events=<n>` (those in the file) on stdout.
With --check (after the wrk run): posts the file's first body (sent
during the run: expect every event `duplicate`, i.e. applied then) and its
last (expect `applied` if the run did not reach it, else `duplicate`) and
prints the counts: no event of the pool was `rejected`.
Standard library only.
"""

import http.client
import json
import sys
import time
import urllib.parse


def count(results):
    out = {}
    for r in results:
        out[r["result"]] = out.get(r["result"], 0) + 1
    return out


def check_after(base, scans_path):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    with open(scans_path) as f:
        lines = [line for line in f if line.strip()]
    for name, body in (("first", lines[0]), ("last", lines[-1])):
        conn.request("POST", "/v1/scans", body=body.encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        answer = json.loads(r.read())
        print(f"{name} body: {count(answer['results'])}")


def main():
    if sys.argv[1] == "--check":
        check_after(sys.argv[2], sys.argv[3])
        return
    base, templates_path, orders, out_path = sys.argv[1:5]
    per_body = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    orders = int(orders)
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)

    def call(method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        payload = r.read()
        if r.status >= 300:
            sys.exit(f"{method} {path}: {r.status} {payload[:300]!r}")
        return json.loads(payload) if payload else None

    with open(templates_path) as f:
        templates = [line.rstrip("\n") for line in f if line.strip()]

    fulfillments = []  # (order_id, fulfillment_id, facility_id, [(sku, qty)])
    t0 = time.time()
    for start in range(0, orders, 1000):
        batch = []
        for i in range(start, min(start + 1000, orders)):
            o = json.loads(templates[i % len(templates)].replace("@ID@", f"s-{i}"))
            batch.append(o)
        answer = call("POST", "/v1/orders/batch", {"orders": batch})
        for r in answer["results"]:
            for fu in r.get("fulfillments", []):
                lines = [(l["sku"], l["qty"]) for l in fu["lines"]]
                fulfillments.append((r["order_id"], fu["fulfillment_id"], fu["facility_id"], lines))
    placed_s = time.time() - t0

    facilities = [f["facility_id"] for f in call("GET", "/v1/facilities")["facilities"]]
    waves = 0
    for fid in facilities:
        while True:
            w = call("POST", f"/v1/facilities/{fid}/waves/release", {})
            if w.get("wave_id") is None:
                break
            waves += 1
    time.sleep(1.0)  # wave announcements reach the orders fire-and-forget

    bodies, current, events_total = [], [], 0
    for order_id, ful_id, facility, lines in fulfillments:
        n = 0
        tag = ful_id.replace("/", ".")  # ids take no '/'

        def ev(kind, **extra):
            nonlocal n
            n += 1
            e = {"event_id": f"e-{tag}-{n}", "kind": kind, "order_id": order_id,
                 "fulfillment_id": ful_id, "facility_id": facility}
            e.update(extra)
            return e

        life = [ev("pick", sku=sku, qty=qty) for sku, qty in lines]
        life.append(ev("pack"))
        life.append(ev("ship", carrier="GROUND", tracking=f"T-{tag}"))
        life += [ev("in_transit"), ev("out_for_delivery"), ev("delivered")]
        current += life
        if len(current) >= per_body:
            bodies.append(current)
            current = []
    if current:
        bodies.append(current)
    if len(bodies) < 2:
        sys.exit("too few scan bodies; seed more orders")

    check = call("POST", "/v1/scans", {"events": bodies[0]})
    results = count(check["results"])
    if results.get("applied", 0) != len(bodies[0]):
        bad = [r for r in check["results"] if r["result"] != "applied"][:3]
        sys.exit(f"check body not all applied: {results} e.g. {bad}")

    with open(out_path, "w") as f:
        for b in bodies[1:]:
            f.write(json.dumps({"events": b}, separators=(",", ":")) + "\n")
            events_total += len(b)
    print(f"bodies={len(bodies) - 1} events={events_total}")
    print(
        f"seeded {orders} orders in {placed_s:.1f} s, {len(fulfillments)} fulfillments, "
        f"{waves} waves released; check body: {results}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
