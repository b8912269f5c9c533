"""Compile the project's .proto files with protoc (grpcio-tools) into a FileDescriptorSet with imports and
source info, and map protoc's errors onto diagnostics.

The option vocabulary is always the one bundled with the compiler (datahem/compiler/vocabulary/datahem/options.proto),
mapped onto the import path `datahem/options.proto`; a project's own copy must be identical to it.
"""

from __future__ import annotations

import hashlib
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor, descriptor_pb2

from datahem.compiler import rules, suggest, tempdirs
from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.vocabulary import PREVIOUS_VOCABULARIES, VOCABULARY_IMPORT, VOCABULARY_PATH, options_pb2
from datahem.runtime import typemap

PROTOC_TIMEOUT_SECONDS = 120.0  # the example compiles in 0.2 s; a hang (a stuck input, a protoc bug) must end

# protoc's own diagnostics, and nothing else: `file:line:col: message` or `file: message`. Log lines of the protobuf
# runtime (`E0000 00:00:...`, `WARNING: ...`, `*** Check failure stack trace: ***`) are not diagnostics.
_POSITIONED = re.compile(r"^(?P<file>\S.*?\.proto):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*\S.*)\Z")
_FILE_ONLY = re.compile(r"^(?P<file>\S.*?\.proto): (?P<msg>.*\S.*)\Z")
# protoc's words for an unknown name in an option: in the brace form, and in the dotted form (or a wrong extension)
_NO_FIELD = re.compile(r'Message type "(?P<type>[\w.]+)" has no field named "(?P<name>\w+)"')
_UNKNOWN_OPTION = re.compile(r'^Option "(?P<option>[^"]+)" unknown\.')
_NOT_DEFINED = re.compile(r'^"(?P<name>\.?[\w.]+)" is not defined')
_PACKAGE = re.compile(rb"^\s*package\s+(?P<name>[\w.]+)\s*;", re.MULTILINE)
_DECLARED = re.compile(rb"\b(?:message|enum)\s+(?P<name>[A-Za-z_]\w*)\s*\{")
SCALAR_TYPES = (
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
)  # fmt: skip
_UNKNOWN_ENUM_VALUE = re.compile(r'Unknown enumeration value of "(?P<name>\w+)" for field "(?P<field>\w+)"')
# protobuf's own options messages: a bare option name (`deprecated`) is a field of one of them
_BUILTIN_OPTIONS = (descriptor_pb2.FileOptions, descriptor_pb2.MessageOptions, descriptor_pb2.FieldOptions)


def proto_files(schemas_dir: Path) -> list[str]:
    """Every name under schemas/ ending in .proto (files or not: compile_protos reports what is not a file)."""
    return sorted(p.relative_to(schemas_dir).as_posix() for p in schemas_dir.rglob("*.proto"))


def _read_source(schemas_dir: Path, rel: str, diags: Diagnostics) -> bytes | None:
    """The bytes of a .proto if it is a regular file of UTF-8 text, else None and a diagnostic. Never opens what
    is not a regular file: opening a FIFO would block the build for ever."""
    loc = Loc(f"schemas/{rel}", 1, 1)
    path = schemas_dir / rel
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
            diags.error(loc, rules.PROTO_FILE_INVALID, f"is {kind}, not a .proto file; rename or remove it")
            return None
        data = path.read_bytes()
    except OSError as exc:
        diags.error(loc, rules.PROTO_FILE_INVALID, f"cannot be read: {exc.strerror or exc}")
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        diags.error(
            Loc(f"schemas/{rel}", line, exc.start - line_start + 1),
            rules.PROTO_FILE_INVALID,
            f"byte 0x{data[exc.start]:02x} is not UTF-8; .proto files are UTF-8 text (save the file as UTF-8)",
        )
        return None
    return data


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


def compile_protos(
    project_dir: Path, diags: Diagnostics, exclude: frozenset[str] = frozenset()
) -> tuple[descriptor_pb2.FileDescriptorSet, bytes] | None:
    """The project's protos (but `exclude`, paths under schemas/) compiled, or None and diagnostics."""
    schemas_dir = (project_dir / "schemas").resolve()
    files = [f for f in (proto_files(schemas_dir) if schemas_dir.is_dir() else []) if f not in exclude]
    sources = {rel: _read_source(schemas_dir, rel, diags) for rel in files}
    if None in sources.values():
        return None
    if VOCABULARY_IMPORT in files:
        files.remove(VOCABULARY_IMPORT)
        copy = sources[VOCABULARY_IMPORT]
        if (
            copy != VOCABULARY_PATH.read_bytes()
            and hashlib.sha256(copy or b"").hexdigest() not in PREVIOUS_VOCABULARIES
        ):
            diags.error(
                Loc(f"schemas/{VOCABULARY_IMPORT}", 1, 1),
                rules.OPTIONS_VOCABULARY_DRIFT,
                "this copy of the option vocabulary differs from the compiler's; replace it with "
                f"{VOCABULARY_PATH.name} from the datahem compiler (or delete it)",
            )
            return None
    if not files:
        return descriptor_pb2.FileDescriptorSet(), b""
    with tempdirs.owned("protoc") as tmp:
        out = Path(tmp) / "descriptor_set.binpb"
        try:
            proc = subprocess.run(
                tempdirs.child_command(protoc_command(schemas_dir, files, out)),
                capture_output=True,
                timeout=PROTOC_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            diags.error(
                Loc("schemas", 1, 1),
                rules.PROTO_TOOL,
                f"protoc did not finish within {PROTOC_TIMEOUT_SECONDS:g} s and was stopped",
            )
            return None
        if proc.returncode != 0:
            stderr = (proc.stderr or proc.stdout).decode("utf-8", errors="replace")
            report(stderr, proc.returncode, schemas_dir, set(files), diags)
            return None
        data = out.read_bytes()
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    return fds, data


_IMPORT = re.compile(rb'^\s*import\s+(?:public\s+|weak\s+|option\s+)?"(?P<path>[^"]+)"\s*;', re.MULTILINE)
_MESSAGE = re.compile(rb"\bmessage\s+(?P<name>[A-Za-z_]\w*)\s*\{")


@dataclass(frozen=True)
class Partial:
    """What compiles of a project whose schemas have errors: the files without errors that import none with errors."""

    fds: descriptor_pb2.FileDescriptorSet
    data: bytes
    left_out: tuple[str, ...]  # paths under schemas/: the files with errors, then those importing them
    names: frozenset[str]  # names of the messages declared in the files left out (nested ones too)


def compile_without(project_dir: Path, broken: set[str]) -> Partial | None:
    """Compile again without the files with errors (`broken`, paths under schemas/) and every file importing one of
    them, so that the checks still run on the rest; None when that fails too (its errors are not reported: the
    first run's are the ones to fix)."""
    schemas_dir = (project_dir / "schemas").resolve()
    if not broken or not schemas_dir.is_dir():
        return None
    texts: dict[str, bytes] = {}
    for rel in proto_files(schemas_dir):
        path = schemas_dir / rel
        try:
            texts[rel] = path.read_bytes() if stat.S_ISREG(path.stat().st_mode) else b""
        except OSError:
            texts[rel] = b""
    imports = {rel: {m.group("path").decode(errors="replace") for m in _IMPORT.finditer(t)} for rel, t in texts.items()}
    left_out = [f for f in sorted(broken) if f in texts]
    out = set(left_out)
    grew = True
    while grew:  # every file importing a file left out, transitively (the bundled vocabulary is never left out)
        importers = sorted(f for f, imp in imports.items() if f not in out and (imp - {VOCABULARY_IMPORT}) & out)
        left_out += importers
        out.update(importers)
        grew = bool(importers)
    if len(out) == len(texts):
        return None
    scratch = Diagnostics()
    compiled = compile_protos(project_dir, scratch, exclude=frozenset(out))
    if compiled is None or scratch:
        return None
    names = frozenset(m.group("name").decode() for f in out for m in _MESSAGE.finditer(texts[f]))
    return Partial(compiled[0], compiled[1], tuple(left_out), names)


def report(stderr: str, returncode: int, schemas_dir: Path, files: set[str], diags: Diagnostics) -> None:
    """Map the output of a failed protoc run onto diagnostics: its `file:line:col: message` and `file: message`
    lines about project files become PROTO_SYNTAX at their position; all the rest of the text (log lines, a crash's
    stack trace, usage errors) becomes one PROTO_TOOL error that shows it. Always reports at least one error."""
    prefix = f"{schemas_dir}/"
    other: list[str] = []
    located = 0
    for raw in stderr.splitlines():
        text = raw.strip()
        if not text:
            continue
        m = _POSITIONED.match(text) or _FILE_ONLY.match(text)
        file = m.group("file").removeprefix(prefix) if m else ""
        if m is None or (file not in files and file != VOCABULARY_IMPORT):
            other.append(text)  # not a diagnostic, or about a file that is not in the project (a missing import)
            continue
        msg = m.group("msg").strip()
        if msg.startswith("warning:"):
            continue
        line = int(m.groupdict().get("line") or 1)
        col = int(m.groupdict().get("col") or 1)
        msg, hint = option_hint(msg)
        if not hint:
            hint = _type_hint(msg, schemas_dir, files)
        diags.error(Loc(f"schemas/{file}", line, col), rules.PROTO_SYNTAX, f"{msg.rstrip('.')} (protoc){hint}")
        located += 1
    if located and all(_FILE_ONLY.match(t) for t in other):
        return  # `missing.proto: File not found.`: the importing file's error above says where
    if other or not located:
        status = f"exit {returncode}" if returncode >= 0 else f"killed by signal {-returncode}"
        text = " | ".join(other[:20]) or "(no output)"  # one line: diagnostics are one line each
        diags.error(Loc("schemas", 1, 1), rules.PROTO_TOOL, f"protoc failed ({status}): {text}")


def option_hint(msg: str) -> tuple[str, str]:
    """protoc's message about an unknown name in an option, and a did-you-mean from the option vocabulary (and
    protobuf's own options); the message without protoc's advice to import a file when the import is not the
    problem (the name is misspelt)."""
    m = _NO_FIELD.search(msg)
    if m:
        fields = _fields_of(m.group("type"))
        return msg, suggest.did_you_mean(m.group("name"), fields) if fields else ""
    m = _UNKNOWN_ENUM_VALUE.search(msg)
    if m:
        values = [v.name for e in _vocabulary_enums() for v in e.values]
        return msg, suggest.did_you_mean(m.group("name"), values)
    m = _UNKNOWN_OPTION.match(msg)
    if not m:
        return msg, ""
    hint = _option_path_hint(m.group("option"))
    return (m.group(0) if hint else msg), hint


def _type_hint(msg: str, schemas_dir: Path, files: set[str]) -> str:
    """`"strin" is not defined` -> `; did you mean `string`?`: among the scalar types, protobuf's well-known types and
    the messages and enums the project's files declare (read as text: they did not compile)."""
    m = _NOT_DEFINED.match(msg)
    if not m:
        return ""
    name = m.group("name").lstrip(".")
    known = set(SCALAR_TYPES) | set(typemap.WELL_KNOWN)
    for rel in sorted(files):
        try:
            text = (schemas_dir / rel).read_bytes()
        except OSError:
            continue
        package = _PACKAGE.search(text)
        prefix = f"{package.group('name').decode()}." if package else ""
        for d in _DECLARED.finditer(text):
            known.update({d.group("name").decode(), prefix + d.group("name").decode()})
    return suggest.did_you_mean(name, known if "." in name else {k for k in known if "." not in k})


def _fields_of(full_name: str) -> list[str]:
    try:
        message = options_pb2.DESCRIPTOR.pool.FindMessageTypeByName(full_name)
    except KeyError:
        return []
    return [f.name for f in message.fields]


def _vocabulary_enums() -> list[descriptor.EnumDescriptor]:
    todo = list(options_pb2.DESCRIPTOR.message_types_by_name.values())
    enums: list[descriptor.EnumDescriptor] = []
    while todo:
        message = todo.pop()
        enums.extend(message.enum_types)
        todo.extend(message.nested_types)
    return enums


def _option_path_hint(option: str) -> str:
    """`(datahem.column).categroy` -> `; did you mean `(datahem.column).category`?`; `(datahem.colum)` ->
    `(datahem.column)`; `deprecatd` -> `deprecated`."""
    extensions = {f"({e.full_name})": e for e in options_pb2.DESCRIPTOR.extensions_by_name.values()}
    head, _, rest = option.partition(")") if option.startswith("(") else ("", "", option)
    if not head:  # a bare name: one of protobuf's own options, or the vocabulary's written without parentheses
        names = {f.name for o in _BUILTIN_OPTIONS for f in o.DESCRIPTOR.fields} | set(extensions)
        first, dot, tail = option.partition(".")
        hit = suggest.closest(first, names)
        return f"; did you mean `{hit}{dot}{tail}`?" if hit else ""
    head += ")"
    ext = extensions.get(head)
    if ext is None:
        hit = suggest.closest(head, extensions)
        return f"; did you mean `{hit}{rest}`?" if hit else ""
    message: descriptor.Descriptor | None = ext.message_type
    done = [head]
    for part in rest.lstrip(".").split(".") if rest else []:
        if message is None:
            return ""
        field = message.fields_by_name.get(part)
        if field is None:
            hit = suggest.closest(part, message.fields_by_name)
            return f"; did you mean `{'.'.join([*done, hit])}`?" if hit else ""
        done.append(part)
        message = field.message_type
    return ""
