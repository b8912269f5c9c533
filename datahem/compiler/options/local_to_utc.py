"""`local_to_utc: {time_zone: "Europe/Stockholm" format: "%Y-%m-%d %H:%M"}`: a local date-time string, read in an
IANA time zone, stored as UTC."""

from __future__ import annotations

import zoneinfo

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, invalid, not_applicable
from datahem.runtime.contracts.localtime import format_problem


class LocalToUtc(ColumnOption[tuple[str, str]]):
    name = "local_to_utc"
    proto_types = ("string",)
    helpers = ("local_to_utc",)
    imports = ("from zoneinfo import ZoneInfo",)

    def resolve(self, o: ColumnOptions) -> tuple[str, str] | None:
        """(time zone, strptime format or "")."""
        return (o.local_to_utc.time_zone, o.local_to_utc.format) if o.HasField("local_to_utc") else None

    def check(self, c: Column, value: tuple[str, str], where: Where, d: Diagnostics) -> None:
        tz = value[0]
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            invalid(
                c,
                f"`local_to_utc` time zone `{tz}` on `{c.field_name}` is not an IANA time zone (e.g. Europe/Stockholm)",
                d,
            )
        problem = format_problem(value[1]) if value[1] else None
        if problem:
            d.error(
                c.option_at("local_to_utc"),
                rules.TIME_FORMAT_INVALID,
                f"`local_to_utc` format `{value[1]}` on `{c.field_name}`: {problem}; or leave `format` empty to read "
                "ISO 8601",
            )
        if c.bq_type not in ("TIMESTAMP", "DATETIME", "STRING"):
            not_applicable(c, "local_to_utc", f"the column is {c.bq_type}; type it TIMESTAMP", d)

    def transform(self, w: Writer, c: Column, value: tuple[str, str], var: str, p: str, name: str) -> list[str]:
        zone = w.const("tz", f"ZoneInfo({value[0]!r})")
        return [f"{var} = local_to_utc({var}, {zone}, {value[1]!r}, {p}, {name})"]


SPEC = LocalToUtc()
