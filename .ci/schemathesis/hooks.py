"""Schemathesis hooks for the orchestrator's OpenAPI document.

The document states every constraint OpenAPI 3.0 can express. Two rules the
server enforces cannot be written in it, and docs/api.md states both:

- an order names each SKU on at most one line (a repeated SKU is 422
  invalid_order);
- a facility closure's `until` lies in the future (422 invalid_status).

These hooks keep positive (schema-valid) cases within those two rules, so
that `positive_data_acceptance` tests what the document promises. They
never touch negative cases and never change what a check accepts.

One more keeps the run inside schemathesis's response-time limit (10 s):
a `GET /v1/events` long-poll with nothing new answers after its `wait_s`
(up to 30 s, by design; unknown query parameters are ignored, so negative
cases wait too), so every case of that operation keeps `wait_s` <= 5.
"""

from datetime import datetime, timezone

import schemathesis


def _positive(case):
    meta = getattr(case, "meta", None)
    generation = getattr(meta, "generation", None)
    mode = getattr(generation, "mode", None)
    return mode is None or getattr(mode, "is_positive", True)


def _repeats_a_sku(order):
    lines = order.get("lines") if isinstance(order, dict) else None
    if not isinstance(lines, list):
        return False
    skus = [line.get("sku") for line in lines if isinstance(line, dict)]
    return len(skus) != len(set(skus))


def _past(value):
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        return False
    if at.tzinfo is None:
        return False
    return at <= datetime.now(timezone.utc)


def _long_poll(query):
    if not isinstance(query, dict):
        return False
    values = query.get("wait_s", [])
    for v in values if isinstance(values, list) else [values]:
        try:
            if float(v) > 5:
                return True
        except (TypeError, ValueError):
            pass
    return False


@schemathesis.hook("filter_case")
def filter_case(context, case):
    if case.operation.path == "/v1/events" and _long_poll(case.query):
        return False
    if not _positive(case):
        return True
    if not isinstance(case.body, dict):
        return True
    path = case.operation.path
    if path == "/v1/orders" and _repeats_a_sku(case.body):
        return False
    if path.endswith("/status") and isinstance(case.body.get("until"), str):
        return not _past(case.body["until"])
    return True
