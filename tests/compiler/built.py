"""Build a project in memory with the emitters a schema test needs, check its DDL, and import its converters."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from datahem.compiler.build import Settings, compile_project, render_all
from datahem.compiler.emitters.converters import module_name
from datahem.compiler.model.resolved import Model
from datahem.runtime.beam.convert import Context
from datahem.runtime.beam.messages import message_class
from tests.bq_schema import ddl_fields, strip_json_fields

EMITTERS = ("registry", "bigquery", "pipelines")
ATTRIBUTES = {"uuid": "u-1", "timestamp": "2026-11-27T07:00:00Z", "source": "test", "collector": "http"}


def build(project: Path) -> tuple[Model, dict[str, bytes]]:
    """The model and the files of registry/, bigquery/ and pipelines/ (a CompileError on diagnostics)."""
    compiled = compile_project(project)
    return compiled.model, render_all(compiled, Settings(project, emitters=EMITTERS))


def check_ddl(files: dict[str, bytes]) -> None:
    """Every DDL parses (sqlglot, BigQuery dialect) and says what its schema JSON says."""
    ddl = [p for p in files if p.startswith("bigquery/") and p.endswith(".sql")]
    assert ddl
    for path in ddl:
        schema = json.loads(files[path[:-4] + ".schema.json"])
        assert ddl_fields(files[path].decode()) == strip_json_fields(schema["fields"]), path


class Converters:
    """The generated converter of every table, importable from a copy of the files in `out`."""

    def __init__(self, model: Model, files: dict[str, bytes], out: Path):
        for path, content in files.items():
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_bytes(content)
        self.descriptor_set = str(out / "registry" / "descriptor_set.binpb")
        self.modules = {}
        for t in model.tables:
            path = out / "pipelines" / "converters" / f"{module_name(t)}.py"
            spec = importlib.util.spec_from_file_location(f"_built_{id(self)}_{module_name(t)}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.modules[t.message] = module

    def message_class(self, message: str):
        return message_class(message, self.descriptor_set)

    def convert(self, message: str, payload: dict | str) -> tuple[dict, bytes]:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        ctx = Context(dict(ATTRIBUTES), {})
        return self.modules[message].convert(data.encode(), ctx, self.message_class(message))
