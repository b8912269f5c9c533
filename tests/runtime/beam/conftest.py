"""Fixtures for the pipeline tests: generated converters, message classes from the committed registry, keys."""

from __future__ import annotations

import importlib

import pytest

from datahem.compiler.emitters.converters import module_name
from datahem.runtime.beam.convert import Context
from datahem.runtime.beam.messages import message_class
from tests.conftest import EXAMPLE_REGISTRY

TEST_KEYS = {"datahem-pseudonymization-key": b"test-pseudonymization-key"}
ATTRIBUTES = {
    "uuid": "0b9d6a52-2f3e-4a59-9d35-1f7c2d1f0a01",
    "timestamp": "2026-11-27T07:00:00.123456Z",
    "source": "test",
    "collector": "http",
}


def converter_module(table):
    return importlib.import_module(f"generated.pipelines.converters.{module_name(table)}")


@pytest.fixture(scope="session")
def convert(example_model):
    """convert(message_type, payload: str, attributes=None) -> (row, proto bytes) via the generated converter."""
    modules = {t.message: converter_module(t) for t in example_model.tables}

    def run(message: str, payload: str, attributes: dict | None = None):
        cls = message_class(message, EXAMPLE_REGISTRY)
        ctx = Context({**ATTRIBUTES, **(attributes or {})}, TEST_KEYS)
        return modules[message].convert(payload.encode(), ctx, cls)

    return run
