"""Extract the JSON inputs of protobuf's conformance suite into tests/conformance/suite.json (not run by the tests).

Usage: python tests/conformance/extract.py <protobuf git dir or checkout> [<commit>]

Reads `conformance/binary_json_conformance_suite.cc` of the protobuf repository (with `git show`, so a bare mirror
works) and keeps every call of the JSON tests whose arguments are all literals, from the `RunJsonTests*` methods
that apply to proto3 messages:

- `RunValidJsonTest(name, level, json, text_proto)` and `RunValidJsonTestOrParseFailure`: kind `valid`;
- `RunValidJsonTestWithValidator(name, level, json, validator)`: kind `valid` without an expected message (the
  validator checks the JSON *output*, which DataHem does not write);
- `RunValidJsonIgnoreUnknownTest(name, level, json, text_proto)`: kind `ignore_unknown`;
- `ExpectParseFailureForJson(name, level, json)`: kind `invalid`.

Calls built at run time (`absl::StrCat`, `absl::Substitute`, loops) are listed as `skipped` with their source line.
The output names each test as the suite reports it: `Required.Proto3.JsonInput.<name>`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

SUITE = "conformance/binary_json_conformance_suite.cc"
OUT = Path(__file__).with_name("suite.json")
KINDS = {
    "RunValidJsonTest": "valid",
    "RunValidJsonTestOrParseFailure": "valid_or_invalid",
    "RunValidJsonTestWithValidator": "valid",
    "RunValidJsonIgnoreUnknownTest": "ignore_unknown",
    "ExpectParseFailureForJson": "invalid",
}
PROTO2_ONLY = {"RunJsonTestsForStoresDefaultPrimitive"}
_CALL = re.compile(r"\b(" + "|".join(sorted(KINDS, key=len, reverse=True)) + r")\s*\(")
_METHOD = re.compile(r"MessageType>::\s*(RunJsonTests\w*)\s*\(\s*\)\s*\{")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\", "?": "?", "0": "\0", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}  # fmt: skip


def _string(src: str, i: int) -> tuple[str, int]:
    """The C++ string literal starting at src[i] (plain or raw), and the index after it."""
    if src.startswith('R"', i):
        open_paren = src.index("(", i)
        delim = src[i + 2 : open_paren]
        end = src.index(")" + delim + '"', open_paren)
        return src[open_paren + 1 : end], end + len(delim) + 2
    assert src[i] == '"', src[i : i + 20]
    out, j = [], i + 1
    while src[j] != '"':
        if src[j] == "\\":
            c = src[j + 1]
            if c == "x":
                m = re.match(r"[0-9a-fA-F]+", src[j + 2 :])
                out.append(chr(int(m.group(0), 16)))
                j += 2 + len(m.group(0))
                continue
            if c in "01234567" and re.match(r"[0-7]{1,3}", src[j + 1 :]).group(0) != "0":
                m = re.match(r"[0-7]{1,3}", src[j + 1 :])
                out.append(chr(int(m.group(0), 8)))
                j += 1 + len(m.group(0))
                continue
            if c in "uU":
                n = 4 if c == "u" else 8
                out.append(chr(int(src[j + 2 : j + 2 + n], 16)))
                j += 2 + n
                continue
            out.append(_ESCAPES[c])
            j += 2
        else:
            out.append(src[j])
            j += 1
    return "".join(out), j + 1


def _arguments(src: str, i: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose '(' is at src[i-1], as source text, and the index after ')'."""
    args, depth, start, j = [], 0, i, i
    while True:
        c = src[j]
        if c == '"' or src.startswith('R"', j):
            j = _string(src, j)[1]
            continue
        if src.startswith("//", j):
            j = src.index("\n", j)
            continue
        if c == "'":  # a character literal such as '}'
            j += 4 if src[j + 1] == "\\" else 3
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append(src[start:j])
                return args, j + 1
            depth -= 1
        elif c == "," and depth == 0:
            args.append(src[start:j])
            start = j + 1
        j += 1


TYPE_URL = "type.googleapis.com/protobuf_test_messages.proto3.TestAllTypesProto3"


def _literal(text: str) -> str | None:
    """The value of an argument made of string literals and the few helpers the suite builds inputs with
    (`absl::StrCat`, `absl::Substitute`, `str_repeat`, `std::string(n, 'c')`, the message's type URL); None for
    anything else (loop variables)."""
    try:
        value, rest = _expr(text, 0)
    except (ValueError, KeyError, IndexError):
        return None
    return value if value is not None and _skip_space(text, rest) == len(text) else None


def _skip_space(text: str, j: int) -> int:
    """Past white space and // comments (outside string literals)."""
    while j < len(text) and (text[j].isspace() or text.startswith("//", j)):
        j = text.find("\n", j) if text[j] == "/" else j + 1
        j = len(text) if j < 0 else j
    return j


def _expr(text: str, j: int) -> tuple[object, int]:
    j = _skip_space(text, j)
    if text[j] == '"' or text.startswith('R"', j):
        out = []
        while j < len(text) and (text[j] == '"' or text.startswith('R"', j)):
            value, j = _string(text, j)
            out.append(value)
            j = _skip_space(text, j)
        return "".join(out), j
    if text[j] == "'":
        return text[j + 1], j + 3
    m = re.match(r"[0-9]+", text[j:])
    if m:
        return int(m.group(0)), j + len(m.group(0))
    m = re.match(r"[A-Za-z_:]+(<\w+>)?", text[j:])
    if not m:
        raise ValueError(text[j:])
    name, j = m.group(0), j + len(m.group(0))
    if name == "type_url":
        return TYPE_URL, j
    j = _skip_space(text, j)
    if j >= len(text) or text[j] != "(":
        raise ValueError(name)
    args, j = _arguments(text, j + 1)
    if name == "GetTypeUrl":
        return TYPE_URL, j
    values = [_literal(a) if name != "std::string" else _expr(a, 0)[0] for a in args]
    if any(v is None for v in values):
        raise ValueError(name)
    if name == "absl::StrCat":
        return "".join(values), j
    if name == "absl::Substitute":
        return re.sub(r"\$([0-9])", lambda g: values[1 + int(g.group(1))], values[0]), j
    if name == "str_repeat":
        return values[0] * int(values[1]), j
    if name == "std::string":
        return values[1] * values[0], j
    raise ValueError(name)


def extract(src: str) -> dict:
    methods = [(m.start(), m.group(1)) for m in _METHOD.finditer(src)]
    tests, skipped = [], []
    for m in _CALL.finditer(src):
        owner = next((name for start, name in reversed(methods) if start < m.start()), None)
        if owner is None or owner in PROTO2_ONLY or src[m.start() - 1 : m.start()] in ":":
            continue  # a definition, or a test outside the JSON methods
        line = src.count("\n", 0, m.start()) + 1
        args, _ = _arguments(src, m.end())
        function = m.group(1)
        name, level = _literal(args[0]), args[1].strip()
        payload = _literal(args[2])
        if name is None or payload is None or level not in ("REQUIRED", "RECOMMENDED"):
            skipped.append({"function": function, "line": line, "method": owner})
            continue
        expected = None
        validator = function == "RunValidJsonTestWithValidator"
        if not validator and len(args) > 3:
            expected = _literal(args[3])
            if expected is None:
                skipped.append({"function": function, "line": line, "method": owner})
                continue
        tests.append(
            {
                "name": f"{level.title()}.Proto3.JsonInput.{name}" + (".Validator" if validator else ""),
                "kind": KINDS[function],
                "level": level,
                "input": payload,
                "expected": expected,
                "method": owner,
            }
        )
    return {"tests": tests, "skipped": skipped}


def main() -> None:
    repo = sys.argv[1]
    commit = sys.argv[2] if len(sys.argv) > 2 else "HEAD"
    src = subprocess.run(
        ["git", "-C", repo, "show", f"{commit}:{SUITE}"], check=True, capture_output=True, text=True
    ).stdout
    sha = subprocess.run(["git", "-C", repo, "rev-parse", commit], check=True, capture_output=True, text=True)
    data = {"source": f"protocolbuffers/protobuf@{sha.stdout.strip()}:{SUITE}", **extract(src)}
    names = [t["name"] for t in data["tests"]]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(data['tests'])} tests, {len(data['skipped'])} skipped -> {OUT}")


if __name__ == "__main__":
    main()
