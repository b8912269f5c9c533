"""Turn one HTTP request into the JSON payloads of its events, or say why it is malformed (400).

- GET (every format but ga4): the query string is the payload, as a flat JSON object of strings (an analytics
  pixel carries its hit this way). A repeated key keeps its last value.
- POST/PUT `form`: the form-encoded body, the same way.
- POST/PUT `ua`: Universal Analytics v1 hits, form-encoded, one per line (a single hit, or a batch of up to 20
  as the Measurement Protocol's batch endpoint allows); each line is its own event.
- POST/PUT `json`: any JSON object, published byte for byte as received; arrays and scalars are refused.
- POST/PUT `ga4`: a GA4 Measurement Protocol request, published as received as one event; it must be a JSON
  object whose `events` is a list of 1 to 25 objects (the protocol's limit).
On POST/PUT the query string is ignored, so a GA4 `api_secret` in the URL never reaches Pub/Sub. The collector
checks structure only: whether a hit has the fields its message requires is the pipeline's decision (it
dead-letters the event with a reason rather than losing it at the edge).
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import orjson

MAX_UA_BATCH = 20
MAX_GA4_EVENTS = 25
MAX_FIELDS = 1000


class Malformed(ValueError):
    """The request cannot be an event of its route; the message is returned to the client with a 400."""


def _reject_constant(name: str) -> None:
    raise Malformed(f"{name} is not valid JSON")


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(f"{what} is not UTF-8") from None


def form_object(raw: bytes, what: str) -> bytes:
    """A form-encoded string (query string, form body, UA hit line) as a compact JSON object of strings.

    Parsed as `urllib.parse.parse_qsl(..., keep_blank_values=True, errors="strict")` does (pairs split on `&`, name
    and value on the first `=`, `+` and percent-escapes decoded as UTF-8), but decoding only the pairs that carry an
    escape: most hits carry none, and parse_qsl's per-field decoding was the largest cost of a request."""
    text = _text(raw, what)
    if text.count("&") >= MAX_FIELDS:
        raise Malformed(f"{what} has more than {MAX_FIELDS} fields")
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        name, _, value = pair.partition("=")
        if "%" in pair or "+" in pair:
            try:
                name, value = unquote_plus(name, errors="strict"), unquote_plus(value, errors="strict")
            except UnicodeDecodeError:
                raise Malformed(f"{what} has percent-escapes that are not UTF-8") from None
        if name:
            fields[name] = value
    if not fields:
        raise Malformed(f"{what} carries no parameters")
    return orjson.dumps(fields)


def json_object(raw: bytes) -> dict:
    if not raw.strip():
        raise Malformed("the body is empty; expected a JSON object")
    try:
        value = json.loads(_text(raw, "the body"), parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise Malformed(f"the body is not JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    except RecursionError:
        raise Malformed("the body nests too deeply") from None
    if not isinstance(value, dict):
        raise Malformed(f"expected a JSON object, got a JSON {type(value).__name__}")
    return value


def ga4_request(raw: bytes) -> bytes:
    value = json_object(raw)
    events = value.get("events")
    if not isinstance(events, list) or not events:
        raise Malformed("a GA4 Measurement Protocol request needs a non-empty `events` list")
    if len(events) > MAX_GA4_EVENTS:
        raise Malformed(
            f"a GA4 Measurement Protocol request carries at most {MAX_GA4_EVENTS} events, got {len(events)}"
        )
    if not all(isinstance(e, dict) for e in events):
        raise Malformed("every GA4 event must be a JSON object")
    return raw


def ua_batch(raw: bytes) -> list[bytes]:
    lines = [line for line in raw.splitlines() if line.strip()]
    if not lines:
        raise Malformed("the body carries no hit")
    if len(lines) > MAX_UA_BATCH:
        raise Malformed(f"a batch carries at most {MAX_UA_BATCH} hits, got {len(lines)}")
    return [form_object(line.strip(), f"hit {i + 1}") for i, line in enumerate(lines)]


def payloads(fmt: str, method: str, query: bytes, body: bytes) -> list[bytes]:
    """The JSON payload of every event in the request (at least one), or raise Malformed."""
    if method == "GET":
        if fmt == "ga4":
            raise Malformed("GA4 Measurement Protocol requests are POSTed as JSON")
        return [form_object(query, "the query string")]
    if fmt == "json":
        json_object(body)
        return [body]
    if fmt == "ga4":
        return [ga4_request(body)]
    if fmt == "form":
        return [form_object(body, "the form body")]
    return ua_batch(body)
