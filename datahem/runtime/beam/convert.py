"""Building blocks for the generated converters (generated/pipelines/converters/*.py).

A generated converter is straight-line code, field by field, for one message type: it reads the proto3 JSON
payload, checks the contract, applies the field options and produces both the BigQuery row and the protobuf
message. What is the same for every field of a kind lives here: type checks with proto3 JSON semantics,
BigQuery representations, and the transforms. Everything raises `Reject` with the stage and a reason of the form
`<field path>: <what is wrong>`; nothing is silently dropped or coerced.
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
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import orjson
from google.protobuf import json_format

PARSE, VALIDATE, TRANSFORM, FILTER, WRITE = "parse", "validate", "transform", "filter", "write"

INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Reject(Exception):  # noqa: N818 - a decision, not an error in the code
    """The event cannot become a row: it goes to the dead-letter table with this stage and reason."""

    def __init__(self, stage: str, path: str, reason: str):
        self.stage = stage
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class Context:
    """Per-event inputs besides the payload: the Pub/Sub attributes and the pseudonymization keys."""

    __slots__ = ("attributes", "keys")

    def __init__(self, attributes: Mapping[str, str], keys: Mapping[str, bytes]):
        self.attributes = attributes
        self.keys = keys


def _no_constants(name: str) -> None:
    raise ValueError(f'{name} is not JSON (proto3 JSON writes it as the string "{name}")')


_STRICT_DECODE = json.JSONDecoder(parse_constant=_no_constants).decode
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def parse_payload(data: bytes) -> dict:
    """JSON object of the payload. orjson parses the common case several times faster than the json module; when it
    refuses a payload, the json module decides (it names the exact problem, and reads integers wider than 64 bits,
    which then fail validation with their field path)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            value = _STRICT_DECODE(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise Reject(PARSE, "", f"invalid JSON: {exc}") from None
    if value.__class__ is not dict:
        raise Reject(PARSE, "", f"expected object, got {_json_kind(value)}")
    return value


def _json_kind(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null"
    )


def unknown_fields(d: dict, known: frozenset[str], prefix: str) -> None:
    for key in d:
        if key not in known:
            raise Reject(VALIDATE, prefix + key, "unknown field")


def expected(what: str, value: object, prefix: str, name: str) -> Reject:
    return Reject(VALIDATE, prefix + name, f"expected {what}, got {_json_kind(value)}")


def only_one(prefix: str, oneof: str, names: list[str]) -> Reject:
    return Reject(VALIDATE, prefix + oneof, f"only one of {', '.join(names)} may be set (oneof {oneof})")


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
    """Integers as JSON numbers or strings (proto3 JSON writes 64-bit integers as strings)."""
    if v.__class__ is int:
        n = v
    elif v.__class__ is str and v.isascii() and (v.isdigit() or (v[:1] == "-" and v[1:].isdigit())):
        n = int(v)
    elif v.__class__ is float and v.is_integer():
        n = int(v)
    else:
        raise expected("integer", v, prefix, name)
    if not bounds[0] <= n <= bounds[1]:
        raise Reject(VALIDATE, prefix + name, f"integer {n} out of range [{bounds[0]}, {bounds[1]}]")
    return n


def as_float(v: object, prefix: str, name: str) -> float:
    if v.__class__ is float or v.__class__ is int:
        return float(v)
    if v.__class__ is str:
        if v in _FLOAT_WORDS:
            return _FLOAT_WORDS[v]
        try:
            return float(v)
        except ValueError:
            pass
    raise expected("number", v, prefix, name)


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
    raise Reject(VALIDATE, prefix + name, f"unknown enum value {json.dumps(v)}")


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
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def set_timestamp(msg, v: object, prefix: str, name: str) -> str:
    """Parse an RFC 3339 timestamp into a Timestamp message; return its UTC text for the row (microseconds, the
    precision of BigQuery's TIMESTAMP; the message keeps nanoseconds)."""
    m = _RFC3339.match(v) if v.__class__ is str else None
    if m is None:
        if v.__class__ is not str:
            raise expected("RFC 3339 timestamp string", v, prefix, name)
        raise Reject(VALIDATE, prefix + name, f"expected RFC 3339 timestamp, got {json.dumps(v)}")
    y, mo, d, h, mi, sec, frac, sign, oh, om = m.groups()
    try:
        day = date(int(y), int(mo), int(d)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise Reject(VALIDATE, prefix + name, f"expected RFC 3339 timestamp, got {json.dumps(v)}") from None
    h, mi, sec = int(h), int(mi), int(sec)
    if h > 23 or mi > 59 or sec > 59:
        raise Reject(VALIDATE, prefix + name, f"expected RFC 3339 timestamp, got {json.dumps(v)}")
    seconds = day * 86400 + h * 3600 + mi * 60 + sec
    if sign is not None:
        offset = int(oh) * 3600 + int(om) * 60
        seconds += -offset if sign == "+" else offset
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


def set_duration(msg, v: object, prefix: str, name: str) -> str:
    """Parse a proto3 JSON duration ("3600s") into a Duration message; return a BigQuery INTERVAL literal."""
    if v.__class__ is not str:
        raise expected('duration string like "3600s"', v, prefix, name)
    try:
        msg.FromJsonString(v)
    except ValueError:
        raise Reject(VALIDATE, prefix + name, f'expected duration like "3600s", got {json.dumps(v)}') from None
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


def set_struct(msg, v: object, prefix: str, name: str) -> str:
    if v.__class__ is not dict:
        raise expected("object", v, prefix, name)
    msg.update(v)
    return _ENCODE(v)


def set_value(msg, v: object, prefix: str, name: str) -> str:
    json_format.ParseDict(v, msg)
    return _ENCODE(v)


def set_list_value(msg, v: object, prefix: str, name: str) -> str:
    if v.__class__ is not list:
        raise expected("array", v, prefix, name)
    msg.extend(v)
    return _ENCODE(v)


def set_field_mask(msg, v: object, prefix: str, name: str) -> str:
    """A FieldMask in its proto3 JSON form (`"foo,barBaz"`); the row holds that form."""
    if v.__class__ is not str:
        raise expected("string", v, prefix, name)
    try:
        msg.FromJsonString(v)
    except ValueError as exc:
        raise Reject(VALIDATE, prefix + name, str(exc)) from None
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
        json_format.ParseDict(v, msg)
    except json_format.ParseError as exc:
        raise Reject(VALIDATE, prefix + name, str(exc)) from None
    return _ENCODE(v)


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


_DIRECTIVES = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{2})", "d": r"(?P<d>\d{2})", "H": r"(?P<H>\d{2})",
               "M": r"(?P<M>\d{2})", "S": r"(?P<S>\d{2})", "f": r"(?P<f>\d{1,6})"}  # fmt: skip
_FORMATS: dict[str, re.Pattern | None] = {}


def _format_regex(fmt: str) -> re.Pattern | None:
    """A regex for strptime formats made only of %Y %m %d %H %M %S %f and literals (strptime itself is slow
    pure Python); None for anything else, which then goes through strptime."""
    if fmt not in _FORMATS:
        parts, i, ok = [], 0, True
        while i < len(fmt):
            if fmt[i] == "%" and i + 1 < len(fmt):
                directive = _DIRECTIVES.get(fmt[i + 1])
                ok = ok and directive is not None and directive not in parts
                parts.append(directive or "")
                i += 2
            else:
                parts.append(re.escape(fmt[i]))
                i += 1
        _FORMATS[fmt] = (
            re.compile("^" + "".join(parts) + "$")
            if ok and {"(?P<Y>", "(?P<m>", "(?P<d>"} <= {p[:6] for p in parts}
            else None
        )
    return _FORMATS[fmt]


def local_to_utc(value: str, zone: ZoneInfo, fmt: str, prefix: str, name: str) -> str:
    """A local date-time in `zone` (written in strptime `fmt`, or ISO 8601) as RFC 3339 UTC text."""
    try:
        rx = _format_regex(fmt) if fmt else None
        if rx is not None:
            m = rx.match(value)
            if m is None:
                raise ValueError
            g = m.groupdict()
            local = datetime(int(g["Y"]), int(g["m"]), int(g["d"]), int(g.get("H") or 0), int(g.get("M") or 0),
                             int(g.get("S") or 0), int((g.get("f") or "0").ljust(6, "0")))  # fmt: skip
        else:
            local = datetime.strptime(value, fmt) if fmt else datetime.fromisoformat(value)
    except ValueError:
        raise Reject(
            TRANSFORM, prefix + name, f"cannot read {json.dumps(value)} as a local time ({fmt or 'ISO 8601'})"
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return local.astimezone(UTC).isoformat().replace("+00:00", "Z")


def regex_extract(rx: re.Pattern, group: int, value: str) -> str | None:
    m = rx.search(value)
    return m.group(group) if m else None


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


def divide(value: object, divisor: Decimal, bq_type: str, prefix: str, name: str) -> object:
    if bq_type == "FLOAT64":
        return float(value) / float(divisor)
    try:
        return _decimal_text(Decimal(str(value)) / divisor)
    except InvalidOperation:
        raise Reject(TRANSFORM, prefix + name, f"cannot divide {json.dumps(value)}") from None


def _decimal_text(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text if text != "-0" else "0"


class Filtered(Reject):  # noqa: N818
    def __init__(self, path: str, value: object, pattern: str, action: str):
        verb = "does not match" if action == "KEEP" else "matches"
        super().__init__(FILTER, path, f"filtered: value {json.dumps(value)} {verb} {pattern!r} ({action})")


def keep(rx: re.Pattern, action: str, value: object, prefix: str, name: str) -> None:
    matched = value is not None and rx.search(str(value)) is not None
    if matched != (action == "KEEP"):
        raise Filtered(prefix + name, value, rx.pattern, action)


# -- BigQuery representations of overridden types ------------------------------------------------------


def to_bq(value: object, bq_type: str, prefix: str, name: str) -> object:
    """Convert a (transformed) proto value to the row value of a `type`-overridden column."""
    try:
        return _TO_BQ[bq_type](value)
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        raise Reject(TRANSFORM, prefix + name, f"cannot store {json.dumps(value, default=str)} as {bq_type}") from None


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    n = int(value)
    if not INT64[0] <= n <= INT64[1]:
        raise OverflowError
    return n


def _numeric(value: object) -> str:
    if isinstance(value, bool):
        raise TypeError
    d = Decimal(str(value))
    if not d.is_finite():
        raise ValueError
    return _decimal_text(d)


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
    "BIGNUMERIC": _numeric,
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
