"""`pseudonymize: {key_secret: "datahem-pseudonymization-key"}`: replace a string value with its HMAC-SHA256 (hex)
under a key from Secret Manager; the option names the secret, never holds the key."""

from __future__ import annotations

import re

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, invalid, not_applicable
from datahem.compiler.secretlike import looks_like_secret


class Pseudonymize(ColumnOption[object]):
    name = "pseudonymize"
    proto_types = ("string",)
    helpers = ("pseudonymize",)

    def resolve(self, o: ColumnOptions) -> object | None:
        """The Secret Manager secret id of the HMAC key."""
        return o.pseudonymize.key_secret if o.HasField("pseudonymize") else None

    def check(self, c: Column, value: object, where: Where, d: Diagnostics) -> None:
        shape = looks_like_secret(str(value))
        if shape:
            d.error(
                c.option_at("pseudonymize"),
                rules.SECRET_VALUE,
                f"`pseudonymize.key_secret` on `{c.field_name}` looks like a key, not a secret's name: {shape}; put "
                "the key in Secret Manager and write the secret's id here (e.g. datahem-pseudonymization-key)",
            )
        elif not re.match(r"^[A-Za-z0-9_-]{1,255}\Z", str(value)):
            invalid(
                c,
                f"`pseudonymize.key_secret` `{value}` must be a Secret Manager secret id (letters, "
                "digits, `_`, `-`), never the key itself",
                d,
            )
        if c.bq_type != "STRING":
            not_applicable(c, "pseudonymize", f"the keyed hash is a hex STRING but the column is {c.bq_type}", d)

    def transform(self, w: Writer, c: Column, value: object, var: str, p: str, name: str) -> list[str]:
        return [f"{var} = pseudonymize({var}, ctx.keys[{value!r}])"] if value else []


SPEC = Pseudonymize()
