"""protoc hardened: it runs only on regular UTF-8 files and with a timeout, and only its `file:line:col: message`
(or `file: message`) lines are read as diagnostics; anything else it prints is one PROTO_TOOL error with the text.

The committed cases are in tests/cases/ (proto_tool, proto_not_utf8_comment, proto_not_utf8_string,
proto_not_a_file); what git cannot hold (a FIFO) or cannot reproduce on demand (a hang, a crash's log) is here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.loader import protos
from tests.conftest import CASES, DATAHEM, copy_project, invoke_datahem

SCHEMAS = Path("/p/schemas")
FILES = {"shop/v1/click.proto", "shop/v1/order.proto"}


def _report(stderr: str, returncode: int = 1) -> list[str]:
    diags = Diagnostics()
    protos.report(stderr, returncode, SCHEMAS, FILES, diags)
    return [d.render() for d in diags.sorted()]


def test_positioned_and_file_only_lines_are_diagnostics():
    out = _report(
        'shop/v1/click.proto:12:3: "strin" is not defined.\n'
        "shop/v1/order.proto: Input is shadowed in the --proto_path.\n"
        "/p/schemas/shop/v1/click.proto:4:1: warning: Import x is unused.\n"
    )
    assert out == [
        'schemas/shop/v1/click.proto:12:3: error[PROTO_SYNTAX]: "strin" is not defined (protoc); did you mean `string`?',
        "schemas/shop/v1/order.proto:1:1: error[PROTO_SYNTAX]: Input is shadowed in the --proto_path (protoc)",
    ]


def test_log_lines_and_crashes_are_one_tool_error_with_the_text():
    stderr = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "E0000 00:00:1796110168.699493    8573 wire_format_lite.cc:578] String field 'o' contains invalid UTF-8\n"
        "F0000 00:00:1796110168.699576    8573 command_line_interface.cc:1146] Check failed: ParseFromString\n"
        "*** Check failure stack trace: ***\n"
    )
    out = _report(stderr, -6)
    assert len(out) == 1
    assert out[0].startswith("schemas:1:1: error[PROTO_TOOL]: protoc failed (killed by signal 6): WARNING: All")
    assert "Check failed" in out[0] and "*** Check failure stack trace: ***" in out[0]
    assert "E0000 00" not in out[0].split(": error")[0]  # never a file name made of a log line


def test_a_missing_import_is_reported_where_it_is_imported():
    out = _report(
        "shop/v1/missing.proto: File not found.\n"
        'shop/v1/click.proto:5:1: Import "shop/v1/missing.proto" was not found or had errors.\n'
    )
    assert out == [
        'schemas/shop/v1/click.proto:5:1: error[PROTO_SYNTAX]: Import "shop/v1/missing.proto" was not found or '
        "had errors (protoc)"
    ]


def test_a_failure_without_output_is_still_an_error():
    assert _report("", 1) == ["schemas:1:1: error[PROTO_TOOL]: protoc failed (exit 1): (no output)"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_a_fifo_named_proto_is_a_diagnostic_not_a_hang(tmp_path):
    project = copy_project(CASES / "proto_not_utf8_comment", tmp_path / "p")
    (project / "schemas/shop/v1/click.proto").write_bytes(
        (CASES / "proto_syntax/schemas/shop/v1/click.proto").read_bytes().replace(b"  strin x = 4", b"  // x = 4")
    )
    os.mkfifo(project / "schemas/shop/v1/pipe.proto")
    proc = subprocess.run([*DATAHEM, "build"], cwd=project, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == (
        "schemas/shop/v1/pipe.proto:1:1: error[PROTO_FILE_INVALID]: is a FIFO, not a .proto file; rename or remove it\n"
        "sources.yaml:1:1: note[CHECKS_SKIPPED]: checks of tables and columns in schemas/shop/v1/pipe.proto skipped: it "
        "has errors\n"
    )


def test_protoc_runs_with_a_timeout(tmp_path, monkeypatch):
    project = copy_project(CASES / "proto_not_utf8_comment", tmp_path / "p")
    (project / "schemas/shop/v1/click.proto").write_text('syntax = "proto3";\nmessage A {}\n')
    monkeypatch.setattr(protos, "PROTOC_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(protos, "protoc_command", lambda *a: [sys.executable, "-c", "import time; time.sleep(30)"])
    proc = invoke_datahem("build", cwd=project)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == (
        "schemas:1:1: error[PROTO_TOOL]: protoc did not finish within 0.5 s and was stopped\n"
        "sources.yaml:1:1: note[CHECKS_SKIPPED]: checks of tables and columns skipped: protoc failed on schemas/ (the "
        "checks of sources.yaml alone ran)\n"
    )
