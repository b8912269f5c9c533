"""Compile the project's .proto files with protoc (grpcio-tools) into a FileDescriptorSet with imports and
source info, and map protoc's errors onto diagnostics.

The option vocabulary is always the one bundled with the compiler (datahem/compiler/vocabulary/datahem/options.proto),
mapped onto the import path `datahem/options.proto`; a project's own copy must be identical to it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.vocabulary import VOCABULARY_IMPORT, VOCABULARY_PATH

_PROTOC_LINE = re.compile(r"^(?P<file>[^:\n]+?):(?:(?P<line>\d+):(?P<col>\d+):)?\s*(?P<msg>.*)$")


def proto_files(schemas_dir: Path) -> list[str]:
    return sorted(p.relative_to(schemas_dir).as_posix() for p in schemas_dir.rglob("*.proto"))


def protoc_command(schemas_dir: Path, files: list[str], out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={VOCABULARY_IMPORT}={VOCABULARY_PATH}",
        f"--proto_path={schemas_dir}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={out}",
        *files,
    ]


def compile_protos(project_dir: Path, diags: Diagnostics) -> tuple[descriptor_pb2.FileDescriptorSet, bytes] | None:
    schemas_dir = (project_dir / "schemas").resolve()
    files = proto_files(schemas_dir) if schemas_dir.is_dir() else []
    if VOCABULARY_IMPORT in files:
        files.remove(VOCABULARY_IMPORT)
        own = (schemas_dir / VOCABULARY_IMPORT).read_bytes()
        if own != VOCABULARY_PATH.read_bytes():
            diags.error(
                Loc(f"schemas/{VOCABULARY_IMPORT}", 1, 1),
                rules.OPTIONS_VOCABULARY_DRIFT,
                "this copy of the option vocabulary differs from the compiler's; replace it with "
                f"{VOCABULARY_PATH.name} from the datahem compiler (or delete it)",
            )
            return None
    if not files:
        return descriptor_pb2.FileDescriptorSet(), b""
    with tempfile.TemporaryDirectory(prefix="datahem-protoc-") as tmp:
        out = Path(tmp) / "descriptor_set.binpb"
        proc = subprocess.run(protoc_command(schemas_dir, files, out), capture_output=True, text=True)
        if proc.returncode != 0:
            _report(proc.stderr or proc.stdout, schemas_dir, diags)
            if not diags:
                diags.error(Loc("schemas", 1, 1), rules.PROTO_SYNTAX, f"protoc failed: {proc.stderr.strip()}")
            return None
        data = out.read_bytes()
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    return fds, data


def _report(stderr: str, schemas_dir: Path, diags: Diagnostics) -> None:
    for raw in stderr.splitlines():
        m = _PROTOC_LINE.match(raw.strip())
        if not m:
            continue
        msg = m.group("msg").strip()
        if msg.startswith("warning:"):
            continue
        file = m.group("file")
        prefix = f"{schemas_dir}/"
        if file.startswith(prefix):
            file = file[len(prefix) :]
        elif file.startswith("/"):
            continue
        line = int(m.group("line") or 1)
        col = int(m.group("col") or 1)
        diags.error(Loc(f"schemas/{file}", line, col), rules.PROTO_SYNTAX, f"{msg.rstrip('.')} (protoc)")
