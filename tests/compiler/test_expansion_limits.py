"""Messages expand into columns in time and stack bounded by BigQuery's limits, whatever their shape: recursive
messages with k recursive fields (2^depth columns if expanded before counting), `max_recursion_depth` up to its
largest value, chains of message types nested far deeper than BigQuery allows, hidden or not. Every build ends within
the timeout with exit 0 or 1 (never 3), and a failed one says which limit and where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from datahem.compiler.emitters import infra
from datahem.compiler.model.resolve import ProtoIndex
from tests.conftest import invoke_datahem

SOURCES = """\
project:
  name: shop
  environments:
    dev:
      gcp_project: shop-data-dev
      region: europe-north1
sources:
  - name: clicks
    kind: http
    message: t.v1.Root
    path: /click
"""
LIMIT_RULES = {"NESTING_TOO_DEEP", "TOO_MANY_COLUMNS", "OPTION_VALUE_INVALID"}


def _project(tmp: Path, k: int, depth: int, chain: int, hidden: bool) -> Path:
    """Root -> Node (k recursive fields, `max_recursion_depth: depth`) and Root -> M0 -> ... -> M<chain>."""
    (tmp / "schemas" / "t" / "v1").mkdir(parents=True)
    (tmp / "sources.yaml").write_text(SOURCES)
    hide = " [(datahem.column) = {hidden: true}]" if hidden else ""
    recursive = "".join(f"  Node c{i} = {i + 2};\n" for i in range(k))
    chained = "".join(f"message M{i} {{\n  string v = 1;\n  M{i + 1} next = 2;\n}}\n" for i in range(chain))
    (tmp / "schemas" / "t" / "v1" / "r.proto").write_text(
        'syntax = "proto3";\npackage t.v1;\nimport "datahem/options.proto";\n'
        f"message Root {{\n  option (datahem.table) = {{max_recursion_depth: {depth}}};\n  string id = 1;\n"
        f"  Node n = 2{hide};\n  M0 m = 3{hide};\n}}\n"
        f"message Node {{\n  string v = 1;\n{recursive}}}\n{chained}message M{chain} {{\n  string v = 1;\n}}\n"
    )
    return tmp


@pytest.mark.slow  # 30 builds, about 30 s
@pytest.mark.timeout(60)
@pytest.mark.parametrize("hidden", [False, True], ids=["shown", "hidden"])
@pytest.mark.parametrize("depth", [3, 15, 16, 17, 4294967295])
@pytest.mark.parametrize("k", [1, 2, 8])
def test_recursive_shapes_end_with_a_diagnostic_or_a_build(tmp_path, monkeypatch, k, depth, hidden):
    monkeypatch.setattr(infra, "synth", lambda inputs, envs: {infra.stack_path(e): b"{}\n" for e in envs})
    project = _project(tmp_path, k, depth, chain=3, hidden=hidden)
    proc = invoke_datahem("build", "--format", "json", cwd=project)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    if not hidden and k > 1 and depth >= 15:
        assert proc.returncode == 1, "a wide recursion built more than BigQuery's 10,000 columns"
    if proc.returncode == 0:
        return
    rules = {d["rule"] for d in json.loads(proc.stdout)}
    assert rules and rules <= LIMIT_RULES, proc.stdout
    assert depth <= 16 or "OPTION_VALUE_INVALID" in rules


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("chain", "hidden", "rule"),
    [(14, False, None), (200, False, "NESTING_TOO_DEEP"), (98, True, None), (2000, True, "NESTING_TOO_DEEP")],
)
def test_message_chains_deeper_than_any_stack(tmp_path, monkeypatch, chain, hidden, rule):
    """200 (or 2,000) message types each holding the next: a diagnostic at the first too deep, never RecursionError."""
    monkeypatch.setattr(infra, "synth", lambda inputs, envs: {infra.stack_path(e): b"{}\n" for e in envs})
    project = _project(tmp_path, 1, 1, chain=chain, hidden=hidden)
    proc = invoke_datahem("build", "--format", "json", cwd=project)
    if rule is None:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert [d["rule"] for d in json.loads(proc.stdout)] == [rule]


def _naive_reaches_recursion(graph: dict[str, list[str]], name: str) -> bool:
    def reachable(root: str) -> set[str]:
        seen, todo = set(), [root]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(graph[n])
        return seen

    return any(m in reachable(c) for m in reachable(name) for c in graph[m])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from("ABCDEFGH"), st.lists(st.sampled_from("ABCDEFGH"), max_size=3), min_size=1))
def test_reaches_recursion_is_the_definition(edges):
    """The linear strongly-connected-components computation agrees with the definition (reaches a type on a cycle)."""
    graph = {n: [c for c in edges.get(n, []) if c in edges] for n in edges}
    f = descriptor_pb2.FileDescriptorProto(name="g.proto", package="g")
    for name, children in graph.items():
        m = f.message_type.add(name=name)
        for i, c in enumerate(children):
            m.field.add(
                name=f"f{i}", number=i + 1, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE, type_name=f".g.{c}"
            )
    index = ProtoIndex(descriptor_pb2.FileDescriptorSet(file=[f]))
    for name in graph:
        assert index.reaches_recursion(f"g.{name}") == _naive_reaches_recursion(graph, name), (graph, name)
