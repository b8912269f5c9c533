"""Write the protobuf project's conformance messages as four DataHem projects, one per file, with only the
adaptations DataHem's documented rules require (README.md lists them). Run from the repository root:

    python -m tests.conformance_messages.extract <git dir of github.com/protocolbuffers/protobuf>

Each project gets a source for every top-level message, so every message of the file becomes a table.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = {
    "proto3": "src/google/protobuf/test_messages_proto3.proto",
    "proto2": "src/google/protobuf/test_messages_proto2.proto",
    "proto3_editions": "editions/golden/test_messages_proto3_editions.proto",
    "proto2_editions": "editions/golden/test_messages_proto2_editions.proto",
}
# Recursive messages: a table needs a recursion bound (README: "recursion is an error unless the table sets
# max_recursion_depth").
RECURSIVE = ("TestAllTypesProto3", "TestAllTypesProto2", "TestAllRequiredTypesProto2")
_RESERVED = "  // DataHem: a top-level column may not start with `_` (reserved for metadata columns)"


def adapt(text: str) -> str:
    if 'import "datahem/options.proto";' not in text:
        text = re.sub(
            r"(\npackage [^;]+;\n)", r'\1\nimport "datahem/options.proto";  // DataHem: the adaptations\n', text
        )
    for name in RECURSIVE:
        text = re.sub(
            rf"(\nmessage {name} \{{\n)",
            r"\1  option (datahem.table).max_recursion_depth = 1;  // DataHem: a recursive message needs a bound\n",
            text,
        )
    return re.sub(
        r"(\n  (?:optional )?int32 )(_+)(\w+) = (\d+);",
        lambda m: f'{m[1]}{m[2]}{m[3]} = {m[4]} [(datahem.column).name = "{m[3]}"];{_RESERVED}',
        text,
    )


def sources_yaml(project: str, package: str, messages: list[str]) -> str:
    lines = [
        "project:",
        "  name: conformance",
        "  environments:",
        "    dev:",
        "      gcp_project: conformance-dev",
        "      region: europe-north1",
        "sources:",
    ]
    for m in messages:
        name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", m).lower()
        lines += [f"  - name: {name}", "    kind: http", f"    message: {package}.{m}", f"    path: /{name}"]
    return "\n".join(lines) + "\n"


def main(git_dir: str) -> None:
    commit = subprocess.run(["git", "-C", git_dir, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    for project, path in FILES.items():
        text = subprocess.run(
            ["git", "-C", git_dir, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True
        ).stdout
        package = re.search(r"\npackage ([\w.]+);", text)[1]
        messages = re.findall(r"\nmessage (\w+) \{", text)
        root = HERE / project
        schema = root / "schemas" / path.removeprefix("src/")
        schema.parent.mkdir(parents=True, exist_ok=True)
        schema.write_text(adapt(text))
        (root / "sources.yaml").write_text(sources_yaml(project, package, messages))
    (HERE / "UPSTREAM").write_text(f"github.com/protocolbuffers/protobuf {commit.stdout.strip()}\n")


if __name__ == "__main__":
    main(sys.argv[1])
