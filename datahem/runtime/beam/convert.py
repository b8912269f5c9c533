"""Building blocks for the generated converters (generated/pipelines/converters/*.py).

A generated converter is straight-line code, field by field, for one message type: it reads the proto3 JSON
payload, checks the contract, applies the field options and produces both the BigQuery row and the protobuf
message. What is the same for every field of a kind lives here: type checks with proto3 JSON semantics,
BigQuery representations, and the transforms. Everything raises `Reject` with the stage and a reason of the form
`<field path>: <what is wrong>`; nothing is silently dropped or coerced. A generated `convert()` lets no other
exception out: one that escapes the helpers (a bug) becomes a `Reject` of stage `internal` with its text.

Rules the helpers keep for every field (proto3 JSON semantics, and what BigQuery accepts):
- nesting: JSON nested more than about 1,000 levels is a parse error, whatever the source kind; the message built
  nests at most `MAX_DEPTH` (100, protobuf's default recursion limit) messages deep, counted as protobuf counts them
  when it reads the message again: typed fields are bounded by the schema (and max_recursion_depth), free-form JSON
  (Struct, Value, ListValue, Any, recursion tails) is checked, a JSON level costing three message levels (Struct,
  its map entry, Value);
- numbers: JSON number syntax only (strings too, as proto3 JSON allows); integers exact (64-bit ones are never read
  through a double), floats within their type's range; "NaN", "Infinity", "-Infinity" are the only non-finite
  values. The one rule for them: the row keeps them as Python floats, everything else in the row is valid for
  BigQuery, and the BigQuery writer (io.py) sends them as the strings BigQuery reads as NaN and Infinity;
- text: Unicode scalar values only (a lone surrogate is refused), timestamps RFC 3339 with ASCII digits, upper-case
  `T` and `Z`, offsets up to ±23:59, within 0001-01-01 and 9999-12-31 (UTC);
- NUMERIC and BIGNUMERIC values within BigQuery's precision and scale.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context as DecimalContext
from decimal import Decimal, DivisionByZero, InvalidOperation, Overflow
from zoneinfo import ZoneInfo

import orjson
from google.protobuf import json_format

from datahem.runtime.contracts.localtime import read_local
from datahem.runtime.regex import Regex
from datahem.runtime.regex import compile as compile_re2

PARSE, VALIDATE, TRANSFORM, FILTER, WRITE = "parse", "validate", "transform", "filter", "write"
INTERNAL = "internal"  # an exception no helper expected: a bug in DataHem, with the exception's text
MAX_DEPTH = 100  # protobuf's default recursion limit

INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
FLOAT32_MAX = 3.4028234663852886e38
DOUBLE_MAX = 1.7976931348623157e308
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


class Reject(Exception):  # noqa: N818 - a decision, not an error in the code
    """The event cannot become a row: it goes to the dead-letter table with this stage and reason."""

    def __init__(self, stage: str, path: str, reason: str):
        self.stage = stage
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class Context:
    """Per-event inputs besides the payload: the Pub/Sub attributes and the pseudonymization keys."""

    __slots__ = ("attributes", "keys", "unknown")

    def __init__(self, attributes: Mapping[str, str], keys: Mapping[str, bytes]):
        self.attributes = attributes
        self.keys = keys
        # the fields no column knows, by path from the root (tables whose `unknown_fields` is IGNORE or KEEP)
        self.unknown: dict[str, object] | None = None


def _no_constants(name: str) -> None:
    raise ValueError(f'{name} is not JSON (proto3 JSON writes it as the string "{name}")')


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"number {text} is out of the range of a double")
    return value


_STRICT_DECODE = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite).decode
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# What orjson writes differently from _ENCODE: numbers below 1e-4 (`0.00001`, `1e-7` for `1e-05`, `1e-07`)
_ORJSON_DIFFERS = re.compile(rb"0\.0000|e-[0-9](?![0-9])")


def json_text(value: object) -> str:
    """The JSON text of a parsed JSON value, exactly as `_ENCODE` writes it (compact, UTF-8 kept). orjson writes the
    same text several times faster, except numbers below 1e-4 and integers beyond 64 bits (it refuses them), and
    nests at most 255 levels: then, or when a string merely looks like such a number, the json module writes it."""
    try:
        out = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _ENCODE(value)
    if (b"e-" in out or b"0.0000" in out) and _ORJSON_DIFFERS.search(out) is not None:  # `in`: a fast scan
        return _ENCODE(value)
    return out.decode()


def parse_payload(data: bytes) -> dict:
    """JSON object of the payload. orjson parses the common case several times faster than the json module; when it
    refuses a payload, the json module decides: it names the exact problem, reads integers wider than 64 bits
    (which then fail validation with their field path) and lone surrogates (refused here, with their path). orjson
    refuses nesting deeper than 1,024; the json module's refusal of it is a Reject too."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            value = _STRICT_DECODE(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise Reject(PARSE, "", f"invalid JSON: {exc}") from None
        except RecursionError:
            raise Reject(PARSE, "", "invalid JSON: nested more than 1,000 levels deep") from None
        _no_surrogates(value, "")
    if value.__class__ is not dict:
        raise Reject(PARSE, "", f"expected object, got {_json_kind(value)}")
    return value


def _no_surrogates(value: object, path: str) -> None:
    """Lone surrogates (`"\\ud800"`) are valid JSON escapes but not Unicode text: protobuf strings, BigQuery STRING and
    JSON columns cannot hold them. Only payloads orjson refused can carry them (orjson refuses them)."""
    stack = [(value, path)]
    while stack:
        v, at = stack.pop()
        if v.__class__ is str:
            _text(v, at)
        elif v.__class__ is dict:
            for k, x in v.items():
                _text(k, at)
                stack.append((x, f"{at}.{k}" if at else k))
        elif v.__class__ is list:
            stack.extend((x, f"{at}[{i}]") for i, x in enumerate(v))


def _text(s: str, at: str) -> None:
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Reject(PARSE, at, f"invalid JSON: lone surrogate {s[exc.start]!r} is not Unicode text") from None


def internal(exc: BaseException) -> Reject:
    """The Reject of an exception no helper expected (a bug in DataHem): dead-lettered with its text, never lost."""
    return Reject(INTERNAL, "", f"internal error: {type(exc).__name__}: {exc}")


def depth(value: object, limit: int) -> bool:
    """Whether JSON `value` nests at most `limit` objects and arrays deep (`limit` < 0: never)."""
    if value.__class__ is dict:
        value = value.values()
    elif value.__class__ is not list:
        return True
    if limit <= 0:
        return False
    for x in value:
        if (x.__class__ is dict or x.__class__ is list) and not depth(x, limit - 1):
            return False
    return True


def _room(prefix: str) -> int:
    """How many message levels are left below the field at `prefix` (`a.b[2].c.` is three messages deep)."""
    return MAX_DEPTH - 2 - prefix.count(".")


def _json_kind(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null"
    )


def unknown_fields(d: dict, known: frozenset[str], prefix: str) -> None:
    unknown_keys([key for key in d if key not in known], prefix)


def unknown_keys(keys: list[str], prefix: str) -> None:
    """`unknown_fields: REJECT`: the first of the keys no field knows, in the object's order, is refused."""
    if keys:
        raise Reject(VALIDATE, prefix + keys[0], "unknown field")


# What `gather` made of each key, by (pattern, fields) of a message: real traffic repeats a small vocabulary of
# parameter names (pr1id, pr1nm, cd1), so each is cut once instead of per event; bounded, and forgotten when full
_GATHER_KEYS_MAX = 4096  # keys per message type, each at most _GATHER_KEY_LENGTH characters
_GATHER_KEY_LENGTH = 64
_GATHERED: dict[int, tuple[re.Pattern, Mapping, dict[str, tuple]]] = {}
_NOT_GATHERED: tuple = ()


def _gather_key(key: str, rx: re.Pattern, fields: Mapping[str, tuple[str, str]]) -> tuple:
    """(prefix, index, field, index_field) of an indexed parameter, `_NOT_GATHERED` for a key that is none."""
    m = rx.match(key)
    if m is None:
        return _NOT_GATHERED
    prefix, index, suffix = m.groups()
    index_field, value_field = fields[prefix]
    if suffix is None and not value_field:
        return _NOT_GATHERED
    return prefix, int(index), suffix or value_field, index_field


def gather(d: dict, known: frozenset[str], rx: re.Pattern, fields: Mapping[str, tuple[str, str]]) -> tuple[dict, list]:
    """`indexed`, in one pass over the keys of `d` no field of its message is named (`known`): the parameters `rx`
    matches (prefix, index, suffix) become the elements of the repeated field whose `indexed` prefix they carry, in
    index order, as that field would have been sent: `{"pr2id": "a", "pr1id": "b", "pr1qt": "2"}` ->
    `{"pr": [{"index": 1, "id": "b", "qt": "2"}, {"index": 2, "id": "a"}]}`. `fields` gives each prefix its
    (index_field, value_field); a parameter without a suffix goes to value_field, and is no parameter of a prefix
    without one. Returns the elements by prefix and the keys neither known nor gathered (unknown fields), in the
    object's order. Prefixes are letters only, so a key has at most one: the letters before its index."""
    entry = _GATHERED.get(id(fields))
    if entry is None or entry[0] is not rx or entry[1] is not fields:
        if len(_GATHERED) >= 256:  # converters loaded again and again (tests): forget the old ones
            _GATHERED.clear()
        entry = _GATHERED[id(fields)] = (rx, fields, {})  # holds `fields`, so its id is not reused meanwhile
    seen = entry[2]
    groups: dict[str, dict[int, dict]] = {}
    unknown = []
    for key, value in d.items():
        if key in known:
            continue
        cut = seen.get(key)
        if cut is None:
            cut = _gather_key(key, rx, fields)
            if len(key) <= _GATHER_KEY_LENGTH:
                if len(seen) >= _GATHER_KEYS_MAX:
                    seen.clear()
                seen[key] = cut
        if not cut:
            unknown.append(key)
            continue
        prefix, n, field, index_field = cut
        elements = groups.get(prefix)
        if elements is None:
            elements = groups[prefix] = {}
        element = elements.get(n)
        if element is None:
            element = elements[n] = {index_field: n} if index_field else {}
        element[field] = value
    indexed = {}
    for prefix, elements in groups.items():
        indexed[prefix] = [elements[n] for n in sorted(elements)] if len(elements) > 1 else list(elements.values())
    return indexed, unknown


def extra_fields(d: dict, known: frozenset[str], prefix: str, ctx: Context) -> None:
    extra_keys(d, [key for key in d if key not in known], prefix, ctx)


def extra_keys(d: dict, keys: list[str], prefix: str, ctx: Context) -> None:
    """`unknown_fields: IGNORE | KEEP`: note the fields no column knows (`keys` of `d`) in `ctx.unknown`, by path
    from the root (`foo`, `items[0].bar`); the converter drops them (IGNORE) or stores them with `kept_fields`
    (KEEP)."""
    if not keys:
        return
    found = ctx.unknown
    if found is None:
        found = ctx.unknown = {}
    for key in keys:
        found[prefix + key] = d[key]


JSON_MAX_DEPTH = 500  # BigQuery's JSON type nests at most this many levels (the `_unknown` object is one of them)


def kept_fields(ctx: Context) -> str | None:
    """`unknown_fields: KEEP`: the `_unknown` column, a JSON object of the unknown fields by path, NULL if none."""
    found = ctx.unknown
    if not found:
        return None
    for path, value in found.items():
        if not depth(value, JSON_MAX_DEPTH - 1):
            raise Reject(VALIDATE, path, f"unknown field nests deeper than BigQuery's JSON allows ({JSON_MAX_DEPTH})")
    return json_text(found)


def expected(what: str, value: object, prefix: str, name: str) -> Reject:
    return Reject(VALIDATE, prefix + name, f"expected {what}, got {_json_kind(value)}")


def only_one(prefix: str, oneof: str, names: list[str]) -> Reject:
    return Reject(VALIDATE, prefix + oneof, f"only one of {', '.join(names)} may be set (oneof {oneof})")


def one_of(prefix: str, oneof: str, names: list[str], count: int) -> Reject:
    """The reject of a required oneof (`(datahem.oneof) = {required: true}`) with `count` (not 1) of its fields set."""
    if count:
        return only_one(prefix, oneof, names)
    return Reject(VALIDATE, prefix + oneof, f"one of {', '.join(names)} is required (oneof {oneof})")


def json_names(d: dict, names: Mapping[str, str], prefix: str) -> dict:
    """The object with the fields sent under their proto names (`names`: proto name -> JSON name) renamed to their
    JSON names, in the same order, so that the converter reads one key per field. A field sent under both names is
    refused (even when one of them is null)."""
    out = {}
    for key, value in d.items():
        json_name = names.get(key)
        if json_name is not None:
            if json_name in d:  # the first field sent under both names, in the order of `names`, is refused
                for one, other in names.items():
                    if one in d and other in d:
                        raise Reject(VALIDATE, prefix + one, f"both {other} and {one} are set (the same field)")
            key = json_name
        out[key] = value
    return out


def required(prefix: str, name: str) -> Reject:
    return Reject(VALIDATE, prefix + name, "required field missing")


# -- proto3 JSON scalars ---------------------------------------------------------------------------


def as_string(v: object, prefix: str, name: str) -> str:
    if v.__class__ is str:
        return v
    raise expected("string", v, prefix, name)


def as_bool(v: object, prefix: str, name: str) -> bool:
    if v is True or v is False:
        return v
    raise expected("boolean", v, prefix, name)


def as_int(v: object, bounds: tuple[int, int], prefix: str, name: str) -> int:
    """Integers as JSON numbers or strings (proto3 JSON writes 64-bit integers as strings; `"1e5"` is 100000). A
    JSON number is read by orjson as a double when it has a fraction or an exponent, or does not fit 64 bits: such a
    double is exact only up to 2**53, beyond that the integer it stood for is unknown and refused."""
    if v.__class__ is int:
        n = v
    elif v.__class__ is str and len(v) > 400:
        raise Reject(VALIDATE, prefix + name, f"integer {_show(v)} out of range [{bounds[0]}, {bounds[1]}]")
    elif v.__class__ is str and v.isascii() and (v.isdigit() or (v[:1] == "-" and v[1:].isdigit())):
        n = int(v)
    elif v.__class__ is float and v.is_integer() and -(2**53) <= v <= 2**53:
        n = int(v)
    elif v.__class__ is float and v.is_integer():
        raise Reject(
            VALIDATE, prefix + name, f"integer {_show(v)} out of range or inexact (write 64-bit integers as strings)"
        )
    elif v.__class__ is str and len(v) <= 400 and _JSON_NUMBER.match(v):
        try:
            d = Decimal(v)
            if d != d.to_integral_value() or abs(d.adjusted()) > 40:
                raise ValueError
            n = int(d)
        except (ValueError, ArithmeticError):
            raise expected("integer", v, prefix, name) from None
    else:
        raise expected("integer", v, prefix, name)
    if not bounds[0] <= n <= bounds[1]:
        raise Reject(VALIDATE, prefix + name, f"integer {_show(n)} out of range [{bounds[0]}, {bounds[1]}]")
    return n


def as_float(v: object, prefix: str, name: str, bound: float = DOUBLE_MAX) -> float:
    """A double (bound DOUBLE_MAX) or float (FLOAT32_MAX) as a JSON number or its string, or one of "NaN",
    "Infinity", "-Infinity". A finite number beyond the type's range is refused, never stored as infinity."""
    if v.__class__ is str:
        if v in _FLOAT_WORDS:
            return _FLOAT_WORDS[v]
        if not v.isascii() or _JSON_NUMBER.match(v) is None:
            raise expected("number", v, prefix, name)
        f = float(v)
    elif v.__class__ is float:
        f = v
    elif v.__class__ is int:
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
    else:
        raise expected("number", v, prefix, name)
    if not -bound <= f <= bound:
        raise Reject(
            VALIDATE, prefix + name, f"number {_show(v)} out of range for {'float' if bound < DOUBLE_MAX else 'double'}"
        )
    return f


def as_bytes(v: object, prefix: str, name: str) -> bytes:
    if v.__class__ is str:
        try:
            text = v.replace("-", "+").replace("_", "/")
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            pass
    raise expected("base64 string", v, prefix, name)


def as_enum(v: object, names: Mapping[str, int], numbers: Mapping[int, str], prefix: str, name: str) -> int:
    if v.__class__ is str:
        number = names.get(v)
        if number is not None:
            return number
    elif v.__class__ is int and v in numbers:
        return v
    raise Reject(VALIDATE, prefix + name, f"unknown enum value {_show(v)}")


def as_object(v: object, prefix: str, name: str) -> dict:
    if v.__class__ is dict:
        return v
    raise expected("object", v, prefix, name)


def as_list(v: object, prefix: str, name: str) -> list:
    if v.__class__ is list:
        return v
    raise expected("array", v, prefix, name)


def item(prefix: str, name: str, i: int) -> str:
    return f"{name}[{i}]"


# -- well-known types -------------------------------------------------------------------------------


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))\Z"
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range of proto3 JSON timestamps and of BigQuery's TIMESTAMP
TIMESTAMP_SECONDS = (
    (date(1, 1, 1).toordinal() - _EPOCH_ORDINAL) * 86400,
    (date(9999, 12, 31).toordinal() - _EPOCH_ORDINAL) * 86400 + 86399,
)


# RFC 3339 timestamps without the groups of the date and time: datetime.fromisoformat checks those in C
_RFC3339_TAIL = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]{1,9}))?(?:Z|([+-])([0-9]{2}):([0-9]{2}))\Z"
)
_from_iso = datetime.fromisoformat


def set_timestamp(msg, v: object, prefix: str, name: str) -> str:
    """Parse an RFC 3339 timestamp into a Timestamp message; return its UTC text for the row (microseconds, the
    precision of BigQuery's TIMESTAMP; the message keeps nanoseconds). The date and time are read by
    datetime.fromisoformat (a valid date, hour, minute and second, as `set_any_timestamp` checks them); whatever
    this path refuses, `set_any_timestamp` reads again and refuses with the reason."""
    m = _RFC3339_TAIL.match(v) if v.__class__ is str else None
    if m is None:
        return set_any_timestamp(msg, v, prefix, name)
    try:
        t = _from_iso(v[:19])  # type: ignore[index]
    except ValueError:
        return set_any_timestamp(msg, v, prefix, name)
    seconds = (t.toordinal() - _EPOCH_ORDINAL) * 86400 + t.hour * 3600 + t.minute * 60 + t.second
    frac, sign, oh, om = m.groups()
    nanos = int(frac.ljust(9, "0")) if frac else 0
    if sign is not None:
        hours, minutes = int(oh), int(om)
        seconds += (-1 if sign == "+" else 1) * (hours * 3600 + minutes * 60)
        if hours > 23 or minutes > 59 or not TIMESTAMP_SECONDS[0] <= seconds <= TIMESTAMP_SECONDS[1]:
            return set_any_timestamp(msg, v, prefix, name)
        msg.seconds = seconds
        msg.nanos = nanos
        return timestamp_text(seconds, nanos)
    msg.seconds = seconds
    msg.nanos = nanos
    if not frac:
        return v  # type: ignore[return-value]  # `YYYY-MM-DDTHH:MM:SSZ`, the row's text already
    micro = frac[:6].ljust(6, "0")
    return f"{v[:19]}.{micro}Z" if micro != "000000" else f"{v[:19]}Z"  # type: ignore[index]


def set_any_timestamp(msg, v: object, prefix: str, name: str) -> str:
    """set_timestamp for every RFC 3339 timestamp, with an offset or not."""
    m = _RFC3339.match(v) if v.__class__ is str else None
    if m is None:
        if v.__class__ is not str:
            raise expected("RFC 3339 timestamp string", v, prefix, name)
        raise Reject(VALIDATE, prefix + name, f"expected RFC 3339 timestamp, got {_show(v)}")
    y, mo, d, h, mi, sec, frac, sign, oh, om = m.groups()
    try:
        day = date(int(y), int(mo), int(d)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise Reject(VALIDATE, prefix + name, f"expected RFC 3339 timestamp, got {_show(v)}") from None
    h, mi, sec = int(h), int(mi), int(sec)
    if h > 23 or mi > 59 or sec > 59 or (sign is not None and (int(oh) > 23 or int(om) > 59)):
        raise Reject(VALIDATE, prefix + name, f"expected RFC 3339 timestamp, got {_show(v)}")
    seconds = day * 86400 + h * 3600 + mi * 60 + sec
    if sign is not None:
        offset = int(oh) * 3600 + int(om) * 60
        seconds += -offset if sign == "+" else offset
        if not TIMESTAMP_SECONDS[0] <= seconds <= TIMESTAMP_SECONDS[1]:
            raise Reject(VALIDATE, prefix + name, f"timestamp {_show(v)} is outside 0001-01-01 to 9999-12-31 UTC")
    nanos = int(frac.ljust(9, "0")) if frac else 0
    msg.seconds = seconds
    msg.nanos = nanos
    if sign is None and v[10] == "T":  # already UTC: the text is the row value, truncated to microseconds
        micro = frac[:6].ljust(6, "0") if frac else "000000"
        return f"{v[:19]}.{micro}Z" if micro != "000000" else f"{v[:19]}Z"
    return timestamp_text(seconds, nanos)


_EPOCH = datetime(1970, 1, 1)


def timestamp_text(seconds: int, nanos: int) -> str:
    text = (_EPOCH + timedelta(seconds=seconds)).isoformat()
    micros = nanos // 1000
    return f"{text}.{micros:06d}Z" if micros else f"{text}Z"


_WHOLE_SECONDS = re.compile(r"[0-9]{1,11}s\Z")  # within a Duration's range (315,576,000,000 s)


def set_duration(msg, v: object, prefix: str, name: str) -> str:
    """Parse a proto3 JSON duration ("3600s") into a Duration message; return a BigQuery INTERVAL literal. Whole
    seconds are read here, the rest by `set_any_duration` (protobuf's own parser)."""
    if v.__class__ is str and _WHOLE_SECONDS.match(v):  # type: ignore[arg-type]
        seconds = int(v[:-1])  # type: ignore[index]
        msg.seconds = seconds
        msg.nanos = 0
        return interval(seconds, 0)
    return set_any_duration(msg, v, prefix, name)


def set_any_duration(msg, v: object, prefix: str, name: str) -> str:
    """set_duration for every duration."""
    if v.__class__ is not str:
        raise expected('duration string like "3600s"', v, prefix, name)
    try:
        if not v.isascii() or len(v) > 40:
            raise ValueError
        msg.FromJsonString(v)
    except (ValueError, ArithmeticError):
        raise Reject(VALIDATE, prefix + name, f'expected duration like "3600s", got {_show(v)}') from None
    return interval(msg.seconds, msg.nanos)


def interval(seconds: int, nanos: int) -> str:
    """BigQuery canonical INTERVAL text `Y-M D H:M:S.F` for a duration (days stay in hours)."""
    sign = "-" if seconds < 0 or nanos < 0 else ""
    total = abs(seconds) * 1_000_000 + abs(nanos) // 1000
    hours, rest = divmod(total, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    secs, micros = divmod(rest, 1_000_000)
    frac = f".{micros:06d}" if micros else ""
    return f"0-0 0 {sign}{hours}:{minutes}:{secs}{frac}"


def _free_json(fill, msg, v: object, prefix: str, name: str) -> str:
    """A Struct, Value or ListValue filled by `fill` (several times faster than protobuf's JSON parser) and its JSON
    text for the row. Each level of JSON nesting costs protobuf up to three message levels
    (Struct, map entry, Value), all counted against the recursion limit protobuf enforces when it reads the message."""
    if not depth(v, _room(prefix) // 3):
        raise Reject(VALIDATE, prefix + name, f"nested deeper than protobuf's limit of {MAX_DEPTH} messages")
    try:
        fill(msg, v)
    except (ValueError, TypeError, OverflowError) as exc:  # numbers beyond a double (a 400-digit integer)
        raise Reject(VALIDATE, prefix + name, f"not a JSON value protobuf can hold: {exc}") from None
    return json_text(v)


def _fill_value(msg, v: object) -> None:
    """Set a google.protobuf.Value to a JSON value: what protobuf's own Struct.update does per value (the same
    assignments, so the same errors), without its chain of isinstance checks (JSON values have exact types)."""
    c = v.__class__
    if c is str:
        msg.string_value = v
    elif c is dict:
        struct = msg.struct_value
        struct.Clear()  # present even when empty
        _fill_struct(struct, v)
    elif c is list:
        values = msg.list_value
        values.Clear()
        _fill_list(values, v)
    elif c is int or c is float:
        msg.number_value = v
    elif v is None:
        msg.null_value = 0
    elif c is bool:
        msg.bool_value = v
    else:
        raise ValueError("Unexpected type")


def _fill_struct(msg, v: dict) -> None:
    fields = msg.fields
    for key, value in v.items():
        _fill_value(fields[key], value)


def _fill_list(msg, v: list) -> None:
    add = msg.values.add
    for value in v:
        _fill_value(add(), value)


def set_struct(msg, v: object, prefix: str, name: str) -> str:
    if v.__class__ is not dict:
        raise expected("object", v, prefix, name)
    return _free_json(_fill_struct, msg, v, prefix, name)


def set_value(msg, v: object, prefix: str, name: str) -> str:
    """Any JSON value; `null` is the Value's null_value (present, not absent)."""
    return _free_json(_fill_value, msg, v, prefix, name)


def set_list_value(msg, v: object, prefix: str, name: str) -> str:
    if v.__class__ is not list:
        raise expected("array", v, prefix, name)
    return _free_json(_fill_list, msg, v, prefix, name)


def set_any(msg, v: object, prefix: str, name: str) -> str:
    """An Any: `{"@type": url, ...fields}` (or `"value"` for well-known types), read with the registry's own
    descriptor pool, so a message of the project inside an Any is understood; `{}` is an empty Any, present."""
    if v.__class__ is not dict:
        raise expected("object", v, prefix, name)
    if not v:
        msg.SetInParent()
        return "{}"
    if not depth(v, _room(prefix)):
        raise Reject(VALIDATE, prefix + name, f"nested deeper than protobuf's limit of {MAX_DEPTH} messages")
    try:
        json_format.ParseDict(v, msg, descriptor_pool=msg.DESCRIPTOR.file.pool, max_recursion_depth=_room(prefix))
    except json_format.ParseError as exc:
        raise Reject(VALIDATE, prefix + name, str(exc)) from None
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        raise Reject(VALIDATE, prefix + name, f"not a valid Any: {exc}") from None
    return json_text(v)


def set_field_mask(msg, v: object, prefix: str, name: str) -> str:
    """A FieldMask in its proto3 JSON form, `"foo,barBaz"`; the row holds that form."""
    if v.__class__ is not str:
        raise expected('field mask string like "foo,barBaz"', v, prefix, name)
    try:
        if not v.isascii():
            raise ValueError
        msg.FromJsonString(v)
    except ValueError:
        raise Reject(VALIDATE, prefix + name, f'expected field mask like "foo,barBaz", got {_show(v)}') from None
    return msg.ToJsonString()


def set_empty(msg, v: object, prefix: str, name: str) -> bool:
    """A google.protobuf.Empty (`{}` in JSON): only its presence is data, TRUE in the row."""
    if v.__class__ is not dict or v:
        raise expected("empty object", v, prefix, name)
    msg.SetInParent()
    return True


def set_json_tail(msg, v: object, prefix: str, name: str) -> str:
    """A recursive message below max_recursion_depth: the message parsed generically, the row column is JSON."""
    try:
        json_format.ParseDict(
            v, msg, descriptor_pool=msg.DESCRIPTOR.file.pool, max_recursion_depth=max(_room(prefix), 0)
        )
    except json_format.ParseError as exc:
        raise Reject(VALIDATE, prefix + name, str(exc)) from None
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        raise Reject(VALIDATE, prefix + name, f"not a valid {msg.DESCRIPTOR.name}: {exc}") from None
    return json_text(v)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- transforms ---------------------------------------------------------------------------------------


def lookup(root: dict, path: tuple[tuple[str, str], ...]) -> object:
    """Value at a field path (json name, field name per step) in the raw payload, None when absent."""
    node: object = root
    for json_name, field_name in path:
        if node.__class__ is not dict:
            return None
        value = node.get(json_name)
        node = value if value is not None else node.get(field_name)
    return node


def local_to_utc(value: str, zone: ZoneInfo, fmt: str, prefix: str, name: str) -> str:
    """A local date-time in `zone` (written in strptime `fmt`, or ISO 8601) as RFC 3339 UTC text."""
    try:
        local = read_local(value, fmt)
    except ValueError:
        raise Reject(
            TRANSFORM, prefix + name, f"cannot read {_show(value)} as a local time ({fmt or 'ISO 8601'})"
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    try:
        return local.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        raise Reject(
            TRANSFORM, prefix + name, f"{_show(value)} in {zone} is outside 0001-01-01 to 9999-12-31 UTC"
        ) from None


def regex(pattern: str) -> Regex:
    """A column option's pattern compiled by RE2 (datahem.runtime.regex): BigQuery's syntax, linear-time matching."""
    return compile_re2(pattern)


def regex_extract(rx: Regex, group: int, value: str) -> str | None:
    return rx.extract(value, group)


_PADS: dict[bytes, tuple] = {}


def pseudonymize(value: str, key: bytes) -> str:
    """HMAC-SHA256 of the value under the key, as hex (RFC 2104). The padded inner and outer hash states of each
    key are computed once and copied per value: 3-4x faster than `hmac.new` for short values."""
    pads = _PADS.get(key)
    if pads is None:
        k = hashlib.sha256(key).digest() if len(key) > 64 else key
        k = k.ljust(64, b"\0")
        pads = _PADS[key] = (hashlib.sha256(bytes(b ^ 0x36 for b in k)), hashlib.sha256(bytes(b ^ 0x5C for b in k)))
    inner = pads[0].copy()
    inner.update(value.encode())
    outer = pads[1].copy()
    outer.update(inner.digest())
    return outer.hexdigest()


_TENS = {Decimal(10**k): k for k in range(1, 10)}  # divisors whose quotient of an integer is the integer's digits


def divide(value: object, divisor: Decimal, bq_type: str, prefix: str, name: str) -> object:
    """The value divided, for the row: a double for FLOAT64, else exact decimal text rounded (half to even) to the
    scale of the column's type. An integer over a power of ten up to 10^9 (cents to kronor) is its digits with a
    point, as `divide_any` writes it."""
    k = _TENS.get(divisor) if value.__class__ is int and bq_type != "FLOAT64" else None
    if k is None:
        return divide_any(value, divisor, bq_type, prefix, name)
    digits = str(abs(value)).rjust(k + 1, "0")  # type: ignore[call-overload]
    whole, fraction = digits[:-k], digits[-k:].rstrip("0")
    if len(whole) > NUMERIC_DIGITS["NUMERIC"][0]:
        return divide_any(value, divisor, bq_type, prefix, name)
    text = f"{whole}.{fraction}" if fraction else whole
    return "-" + text if value < 0 else text  # type: ignore[operator]


def divide_any(value: object, divisor: Decimal, bq_type: str, prefix: str, name: str) -> object:
    """divide for every value and divisor."""
    try:
        if bq_type == "FLOAT64":
            q = float(value) / float(divisor)
            if not math.isfinite(q):  # e.g. a large value over a tiny divisor: BigQuery takes no inf
                raise OverflowError
            return q
        whole, scale = NUMERIC_DIGITS.get(bq_type, NUMERIC_DIGITS["BIGNUMERIC"])
        q = _EXACT.divide(Decimal(str(value)), divisor)
        if q and q.adjusted() >= whole:
            raise OverflowError
        text = _decimal_text(q)
        if "." in text and len(text) - text.index(".") - 1 > scale:
            text = _decimal_text(q.quantize(_SCALE[scale], context=_EXACT))
        return text
    except (ValueError, ArithmeticError):
        raise Reject(TRANSFORM, prefix + name, f"cannot divide {_show(value)} by {divisor} as {bq_type}") from None


_EXACT = DecimalContext(prec=100, Emax=10_000, Emin=-10_000, traps=[InvalidOperation, DivisionByZero, Overflow])
_SCALE = {9: Decimal("1e-9"), 38: Decimal("1e-38")}


def _decimal_text(d: Decimal) -> str:
    """Plain decimal text without trailing zeros, exact at any precision (`normalize` would round to 28 digits)."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


class Filtered(Reject):  # noqa: N818
    def __init__(self, path: str, value: object, pattern: str, action: str):
        verb = "does not match" if action == "KEEP" else "matches"
        super().__init__(FILTER, path, f"filtered: value {_show(value)} {verb} {pattern!r} ({action})")


def keep(rx: Regex, action: str, value: object, prefix: str, name: str) -> None:
    matched = value is not None and rx.found(value if value.__class__ is str else str(value))
    if matched != (action == "KEEP"):
        raise Filtered(prefix + name, value, rx.pattern, action)


# -- BigQuery representations of overridden types ------------------------------------------------------


def to_bq(value: object, bq_type: str, prefix: str, name: str) -> object:
    """Convert a (transformed) proto value to the row value of a `type`-overridden column."""
    try:
        return _TO_BQ[bq_type](value)
    except (ValueError, TypeError, ArithmeticError, RecursionError, OSError):  # OSError: fromtimestamp's range
        raise Reject(TRANSFORM, prefix + name, f"cannot store {_show(value)} as {bq_type}") from None


def _show(value: object) -> str:
    """A value for a reason: JSON, at most 100 characters (integers of thousands of digits have no text in Python)."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (ValueError, RecursionError):
        text = f"<{value.bit_length()}-bit integer>" if isinstance(value, int) else f"<{type(value).__name__}>"
    return text if len(text) <= 100 else text[:100] + "…"


def _int(value: object) -> int:
    if value.__class__ is str:  # what the checks below let through to int() unchanged
        n = int(value)
    else:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        n = int(value)  # type: ignore[call-overload]
    if not -9223372036854775808 <= n <= 9223372036854775807:  # INT64
        raise OverflowError
    return n


# BigQuery's NUMERIC: 29 digits before the point, 9 after; BIGNUMERIC: 38 and 38 (both a little more, not all of it)
NUMERIC_DIGITS = {"NUMERIC": (29, 9), "BIGNUMERIC": (38, 38)}


def _numeric(value: object, bq_type: str = "NUMERIC") -> str:
    """NUMERIC/BIGNUMERIC text of a value; plain decimal text (`120.50`) is cut to its digits as `_numeric_any`
    writes them, without a Decimal."""
    if value.__class__ is str and value.isascii() and len(value) <= 200:
        # `-?[0-9]+(\.[0-9]+)?` read with string methods (ASCII: isdigit is [0-9]), faster than the pattern
        sign = value[:1] == "-"
        whole, dot, fraction = (value[1:] if sign else value).partition(".")
        if whole.isdigit() and (fraction.isdigit() if dot else True):
            whole = whole.lstrip("0") or "0"
            fraction = fraction.rstrip("0")
            digits, scale = NUMERIC_DIGITS[bq_type]
            if len(whole) <= digits and len(fraction) <= scale:
                text = f"{whole}.{fraction}" if fraction else whole
                return "-" + text if sign and text != "0" else text
    return _numeric_any(value, bq_type)


def _numeric_any(value: object, bq_type: str = "NUMERIC") -> str:
    if isinstance(value, bool):
        raise TypeError
    text = str(value)
    if len(text) > 200:
        raise ValueError
    d = Decimal(text)
    if not d.is_finite():
        raise ValueError
    whole, scale = NUMERIC_DIGITS[bq_type]
    if d and d.adjusted() >= whole:
        raise OverflowError
    text = _decimal_text(d)
    if "." in text and len(text) - text.index(".") - 1 > scale:
        raise ValueError  # more decimals than the type holds: refused, not rounded
    return text


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError


def _timestamp(value: object) -> str:
    if value.__class__ is str and value[-1:] == "Z" and _RFC3339_TAIL.match(value):  # type: ignore[index]
        # what _any_timestamp makes of it (fromisoformat of the same date and time, then UTC), without the time zone;
        # without a fraction of a second the text is already what isoformat writes
        try:
            t = _from_iso(value[:-1])  # type: ignore[index]
        except ValueError:
            pass
        else:
            return value if len(value) == 20 else t.isoformat() + "Z"  # type: ignore[return-value,arg-type]
    return _any_timestamp(value)


def _any_timestamp(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1_000_000, UTC).isoformat().replace("+00:00", "Z")
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(value: object) -> str:
    if isinstance(value, str):
        json.loads(value)
        return value
    return json.dumps(value, separators=(",", ":"))


_TO_BQ = {
    "STRING": lambda v: v if isinstance(v, str) else json.dumps(v) if isinstance(v, bool) else str(v),
    "INT64": _int,
    "NUMERIC": _numeric,
    "BIGNUMERIC": lambda v: _numeric(v, "BIGNUMERIC"),
    "FLOAT64": lambda v: float(v) if not isinstance(v, bool) else _raise(TypeError),
    "BOOL": _bool,
    "BYTES": lambda v: b64(v.encode() if isinstance(v, str) else v),
    "DATE": lambda v: date.fromisoformat(str(v)).isoformat(),
    "DATETIME": lambda v: datetime.fromisoformat(str(v)).replace(tzinfo=None).isoformat(),
    "TIME": lambda v: time.fromisoformat(str(v)).isoformat(),
    "TIMESTAMP": _timestamp,
    "JSON": _json,
    "GEOGRAPHY": str,
    "INTERVAL": str,
}


def _raise(exc: type[Exception]):
    raise exc
