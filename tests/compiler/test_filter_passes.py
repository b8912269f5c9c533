"""A root field's filter is checked once on the payload's value (the early pass) and again on a default the
converter fills in (the main pass), whichever of the two applies."""

from __future__ import annotations

import pytest

from datahem.runtime.beam.convert import FILTER, Reject
from tests.compiler.built import Converters, build

SCHEMA = """syntax = "proto3";

package filtered.v1;

import "datahem/options.proto";

message Hit {
  option (datahem.table) = {name: "hits" description: "Hits."};
  string kind = 1 [(datahem.column) = {
    filter: {pattern: "^(page|event)$" action: KEEP}
    default_policy: {kind: VALUE value: "other"}
  }];
  string label = 2 [(datahem.column) = {filter: {pattern: "^test" action: DROP}}];
}
"""
SOURCES = """project:
  name: filtered
  environments:
    dev:
      gcp_project: filtered-dev
      region: europe-north1
sources:
  - name: hits
    kind: http
    message: filtered.v1.Hit
    path: /hits
"""


@pytest.fixture(scope="module")
def converters(tmp_path_factory):
    project = tmp_path_factory.mktemp("filtered")
    (project / "sources.yaml").write_text(SOURCES)
    (project / "schemas" / "filtered" / "v1").mkdir(parents=True)
    (project / "schemas" / "filtered" / "v1" / "hit.proto").write_text(SCHEMA)
    model, files = build(project)
    return Converters(model, files, tmp_path_factory.mktemp("out"))


def test_the_payloads_value_is_filtered(converters):
    row, _ = converters.convert("filtered.v1.Hit", {"kind": "page", "label": "home"})
    assert row == {"kind": "page", "label": "home"}
    for payload, path in [({"kind": "click"}, "kind"), ({"kind": "page", "label": "test-1"}, "label")]:
        with pytest.raises(Reject) as err:
            converters.convert("filtered.v1.Hit", payload)
        assert (err.value.stage, err.value.path) == (FILTER, path)


def test_a_default_filled_in_is_filtered_too(converters):
    with pytest.raises(Reject) as err:
        converters.convert("filtered.v1.Hit", {"label": "home"})
    assert (err.value.stage, err.value.path) == (FILTER, "kind")
