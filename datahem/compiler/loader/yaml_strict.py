"""Strict YAML: sources.yaml is composed into PyYAML nodes (which keep their line and column) and bound
onto the raw dataclasses of `datahem.compiler.model.raw`, reporting unknown, duplicate and missing keys and wrong
types as diagnostics instead of guessing.

An entry of a list or mapping of entries (a source, a category, an environment) that has an error is left out and
noted in `Binder.skipped`, so the rest of the file is still checked; every unknown key or value gets a did-you-mean.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

import yaml

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.suggest import did_you_mean

REQUIRED: Any = dataclasses.MISSING
INVALID: Any = object()  # returned by the binder for a value that produced a diagnostic


def spec(default: Any = REQUIRED, *, choices: tuple[str, ...] = (), kinds: tuple[str, ...] = (), doc: str = "") -> Any:
    """Declare a YAML key on a raw dataclass: its default (absent = required), allowed choices, and for
    kind-specific keys the source kinds that accept it."""
    meta = {"choices": choices, "kinds": kinds, "doc": doc}
    if isinstance(default, (list, dict)):
        factory = lambda d=default: type(d)(d)  # noqa: E731
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# libyaml's parser (10x faster) when PyYAML was built with it; both keep every node's line and column.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _keys(cls: Any) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A raw dataclass's type hints and the fields that YAML keys set, by name: worked out once per class
    (`typing.get_type_hints` compiles the text of every annotation again on each call, for each entry bound)."""
    fields = {
        f.name: f for f in dataclasses.fields(cls) if f.name not in ("loc", "locs") and not f.metadata.get("from_key")
    }
    return typing.get_type_hints(cls), fields


def key_field() -> Any:
    """The name of an entry in a mapping of named entries (e.g. a category), taken from its key."""
    return dataclasses.field(default="", metadata={"from_key": True})


def node_loc(path: str, node: yaml.Node) -> Loc:
    return Loc(path, node.start_mark.line + 1, node.start_mark.column + 1)


def compose(text: str, path: str, diags: Diagnostics) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(path, mark.line + 1, mark.column + 1) if mark else Loc(path, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        diags.error(loc, rules.YAML_SYNTAX, f"{problem}; fix the YAML syntax at this position")
    except yaml.YAMLError as exc:  # pragma: no cover - other YAML errors carry no mark
        diags.error(Loc(path, 1, 1), rules.YAML_SYNTAX, str(exc))
    return None


def child(where: str, key: str | int) -> str:
    """`categories.pii.masking`, `sources[2].path`: how a key is named in messages."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


class Binder:
    """Binds composed YAML nodes onto dataclasses, collecting every problem."""

    def __init__(self, path: str, diags: Diagnostics):
        self.path = path
        self.diags = diags
        # entries left out because they have errors: (where, key or index, position), e.g. ("categories", "pii", ...)
        self.skipped: list[tuple[str, str, Loc]] = []

    def loc(self, node: yaml.Node) -> Loc:
        return node_loc(self.path, node)

    def bind(self, tp: Any, node: yaml.Node, where: str, discriminator: str | None = None) -> Any:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                return None
            return self.bind(args[0], node, where)
        if origin is list:
            (item_tp,) = typing.get_args(tp)
            if not isinstance(node, yaml.SequenceNode):
                self._type_error(node, where, "a list")
                return INVALID
            items = [self.bind(item_tp, item, child(where, i)) for i, item in enumerate(node.value)]
            if not dataclasses.is_dataclass(item_tp):
                return INVALID if any(i is INVALID for i in items) else items
            # entries (sources, accepted breaks): those with errors are left out, the others still checked
            for i, (item, item_node) in enumerate(zip(items, node.value, strict=True)):
                if item is INVALID:
                    self.skipped.append((where, str(i), self.loc(item_node)))
            return [i for i in items if i is not INVALID]
        if origin is dict:
            _, val_tp = typing.get_args(tp)
            pairs = self._mapping(node, where)
            if pairs is None:
                return INVALID
            out = {}
            for key_node, val_node in pairs:
                value = self.bind(val_tp, val_node, child(where, key_node.value))
                if value is INVALID:
                    if dataclasses.is_dataclass(val_tp):
                        self.skipped.append((where, key_node.value, self.loc(key_node)))
                    continue
                if dataclasses.is_dataclass(value) and not isinstance(value, type):
                    value = dataclasses.replace(value, loc=self.loc(key_node), name=key_node.value)
                out[key_node.value] = value
            return out
        if dataclasses.is_dataclass(tp):
            return self._bind_dataclass(tp, node, where)
        return self._scalar(tp, node, where)

    def _type_error(self, node: yaml.Node, where: str, expected: str) -> None:
        names: dict[type[yaml.Node], str] = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}
        got = names.get(type(node), "a scalar")
        self.diags.error(self.loc(node), rules.YAML_TYPE, f"`{where}` must be {expected}, not {got}")

    def _mapping(self, node: yaml.Node, where: str) -> list[tuple[yaml.ScalarNode, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self._type_error(node, where, "a mapping")
            return None
        seen: dict[str, yaml.Node] = {}
        pairs = []
        for key_node, val_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._type_error(key_node, child(where, "<key>"), "a string")
                continue
            key = key_node.value
            if key in seen:
                first = self.loc(seen[key])
                self.diags.error(
                    self.loc(key_node),
                    rules.YAML_DUPLICATE_KEY,
                    f"duplicate key `{key}` in `{where}` (first defined at line {first.line}); remove one of them",
                )
                continue
            seen[key] = key_node
            pairs.append((key_node, val_node))
        return pairs

    def _bind_dataclass(self, cls: Any, node: yaml.Node, where: str) -> Any:
        pairs = self._mapping(node, where)
        if pairs is None:
            return INVALID
        hints, fields = _keys(cls)
        kind = None
        for key_node, val_node in pairs:
            if key_node.value == "kind" and isinstance(val_node, yaml.ScalarNode):
                kind = val_node.value
        kind_field = fields.get("kind")
        if kind_field is not None and kind not in kind_field.metadata.get("choices", ()):
            kind = None  # absent, misspelt or not a kind: every kind's keys are possible
        values: dict[str, Any] = {}
        locs: dict[str, Loc] = {}
        ok = True
        for key_node, val_node in pairs:
            key = key_node.value
            f = fields.get(key)
            if f is None:
                allowed = sorted(
                    n
                    for n, f2 in fields.items()
                    if not f2.metadata.get("kinds") or kind is None or kind in f2.metadata["kinds"]
                )
                hint = did_you_mean(key, allowed, sep="", end=" ")
                self.diags.error(
                    self.loc(key_node),
                    rules.YAML_UNKNOWN_KEY,
                    f"unknown key `{key}` in `{where or 'the top level'}`; {hint}allowed keys: {', '.join(allowed)}",
                )
                continue
            kinds = f.metadata.get("kinds", ())
            if kinds and kind is not None and kind not in kinds:
                self.diags.error(
                    self.loc(key_node),
                    rules.YAML_UNKNOWN_KEY,
                    f"key `{key}` is only valid for sources of kind {', '.join(kinds)}, not `{kind}`; remove it",
                )
                continue
            value = self.bind(hints[key], val_node, child(where, key))
            if value is INVALID:
                ok = False
                continue
            choices = f.metadata.get("choices", ())
            if choices and value is not None:
                bad = [v for v in (value if isinstance(value, list) else [value]) if v not in choices]
                for v in bad:
                    hint = did_you_mean(str(v), choices, sep="", end=" ")
                    self.diags.error(
                        self.loc(val_node),
                        rules.YAML_VALUE,
                        f"`{child(where, key)}` is `{v}`; {hint}allowed values: {', '.join(choices)}",
                    )
                if bad:
                    ok = False
                    continue
            values[key] = value
            locs[key] = self.loc(val_node)
            if isinstance(val_node, yaml.SequenceNode):
                for i, item in enumerate(val_node.value):
                    locs[f"{key}[{i}]"] = self.loc(item)
        given = {k.value for k, _ in pairs}
        for name, f in fields.items():
            kinds = f.metadata.get("kinds", ())
            applies = not kinds or kind in kinds
            present = name in given
            if not present and f.default is REQUIRED and f.default_factory is REQUIRED and applies:
                self.diags.error(
                    self.loc(node),
                    rules.YAML_MISSING_KEY,
                    f"`{where or 'the top level'}` is missing the required key `{name}`"
                    + (f" ({f.metadata['doc']})" if f.metadata.get("doc") else ""),
                )
                ok = False
        if not ok:
            return INVALID
        for name, f in fields.items():
            if name not in values:
                if f.default is not REQUIRED:
                    values[name] = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    values[name] = f.default_factory()
                else:
                    values[name] = None
        return cls(loc=self.loc(node), locs=locs, **values)

    def _scalar(self, tp: Any, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self._type_error(node, where, _TYPE_NAMES.get(tp, str(tp)))
            return INVALID
        tag = node.tag
        if tp is str:
            if tag in ("tag:yaml.org,2002:str",):
                return node.value
            if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
                # a bare number where text is expected (e.g. a numeric project id) is still meant as text
                return node.value
        elif tp is bool and tag == "tag:yaml.org,2002:bool":
            return node.value.lower() in ("true", "yes", "on")
        elif tp is int and tag == "tag:yaml.org,2002:int":
            return int(node.value.replace("_", ""), 0)
        elif tp is float and tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
            return float(node.value)
        self.diags.error(
            self.loc(node),
            rules.YAML_TYPE,
            f"`{where}` must be {_TYPE_NAMES.get(tp, str(tp))}, got `{node.value}`",
        )
        return INVALID
