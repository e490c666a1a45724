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

And one keeps the server from POSTing to hosts on the internet: a
`PUT /v1/webhooks/{id}` whose `url` keeps the document's URL pattern (a
valid one, in positive and negative cases alike) gets a valid loopback URL
instead, on the discard port nobody listens on, so every delivery the run
causes is refused at once (never a real host, never a 5 s timeout).
Swapping one valid URL for another changes no case's validity.
"""

import re
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


# The server's URL rule (runtime/src/webhooks/target.rs, URL_PATTERN).
_URL = re.compile(
    r"[Hh][Tt][Tt][Pp]://[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*"
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
    r"(/[!-~]*)?"
)
LOOPBACK_DISCARD = "http://127.0.0.1:9/schemathesis"


@schemathesis.hook("map_case")
def map_case(context, case):
    if not case.operation.path.startswith("/v1/webhooks/"):
        return case
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        url = body["url"]
        if len(url) <= 2048 and _URL.fullmatch(url):
            body["url"] = LOOPBACK_DISCARD
    return case
