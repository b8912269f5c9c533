"""`--write_method` (the environment's `write_method` in sources.yaml, a template parameter) picks the row writer of
the source and backup pipelines: the Storage Write API by default, legacy streaming inserts with `insert_all`; the
Storage Write writer reads the table's row message from the generated/ folder of the registry the pipeline reads."""

from __future__ import annotations

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from datahem.runtime.beam.io import StorageWriteRowsFn, WriteRowsFn
from datahem.runtime.beam.pipeline import row_writer
from tests.conftest import EXAMPLE, EXAMPLE_REGISTRY


def _options(*flags: str) -> PipelineOptions:
    return PipelineOptions(["--project=demo-project", f"--descriptor_set={EXAMPLE_REGISTRY}", *flags])


def test_storage_write_is_the_default():
    fn = row_writer(_options("--bigquery_storage_endpoint=127.0.0.1:1"), "events.orders", "committed")
    assert type(fn) is StorageWriteRowsFn
    assert (fn.bigquery_dir, fn.storage_endpoint, fn.mode) == (
        str(EXAMPLE / "generated" / "bigquery"),
        "127.0.0.1:1",
        "committed",
    )


def test_insert_all_keeps_streaming_inserts():
    fn = row_writer(_options("--write_method=insert_all", "--bigquery_endpoint=http://127.0.0.1:1"), "events.orders")
    assert type(fn) is WriteRowsFn
    assert fn.endpoint == "http://127.0.0.1:1"


def test_an_unknown_write_method_is_refused():
    with pytest.raises(SystemExit):
        _options("--write_method=insertall").get_all_options()


def test_the_storage_endpoint_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BIGQUERY_STORAGE_EMULATOR_HOST", "127.0.0.1:2")
    assert row_writer(_options(), "events.orders").storage_endpoint == "127.0.0.1:2"
