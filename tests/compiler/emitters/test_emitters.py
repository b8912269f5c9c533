"""Shared emitter helpers."""

from __future__ import annotations

import json

from datahem.compiler.emitters import to_json


def test_to_json_is_byte_identical_to_the_json_module(example_files):
    samples = [json.loads(data) for path, data in example_files.items() if path.endswith(".json")]
    samples += [{"ü": ["å", {"b": 1, "a": [], "c": {}}], "big": 2**70, "f": 0.1, "none": None}]
    for data in samples:
        assert to_json(data) == (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
