"""Compile benchmark: how much slower is a full DataHem build than protoc alone, and how much memory does it need?

Generates a synthetic project of 500 message types x 40 fields (50 .proto files in 5 packages, nested messages
three STRUCT levels deep, enums, timestamps, repeated fields, maps, categories, renames, type overrides, table
options) with one source per root message, then measures in the same process, interleaved and repeated:

- protoc alone, with exactly the command the compiler runs (`datahem.compiler.loader.protos.protoc_command`);
- the build without infrastructure synth (`load_model` + `render_all` with the registry, bigquery, routing and docs
  emitters), which includes that same protoc run;

and the peak RSS of one build in a fresh child process (`ru_maxrss`), so earlier rounds do not inflate it. Then,
on a copy of the example project, `datahem build` in a fresh process after a one-field change (a field added to
`Order.Line`: schema, migration, converter, docs and both Terraform stacks change), each round from the committed
generated/ tree, and once more with nothing changed.

Run from the repository root: `.venv/bin/python -m bench.compile`. The last line is
`RESULT compile ratio_vs_protoc=<x> peak_rss_mb=<n> seconds=<s> one_field_rebuild_s=<s> cpu_ratio_vs_protoc=<x>`
(the last: the same ratio in CPU seconds, this process and protoc's, which other load on the machine moves less
than wall time). Targets (issue 13):
ratio <= 1.5, peak RSS < 300 MB, one-field rebuild <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import copy_project
from datahem.compiler.build import EMITTERS as ALL_EMITTERS
from datahem.compiler.build import Settings, compile_project, render_all
from datahem.compiler.diagnostics import CompileError, format_text
from datahem.compiler.loader.protos import proto_files, protoc_command
from datahem.compiler.model.resolved import Column
from datahem.compiler.vocabulary import VOCABULARY_IMPORT

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT  # the example project of the one-field rebuild (tests/test_bench_compile.py: the tests' copy)

# Only these emitters: the build "without infrastructure synth". Emitters added later (infra, pipelines, ...) are
# deliberately left out so the number stays comparable over time.
EMITTERS = ("registry", "bigquery", "routing", "docs")

# Ten topics per package, one .proto file per topic, ten messages per file: 5 x 10 x 10 = 500 message types.
PACKAGES: dict[str, tuple[str, ...]] = {
    "sales": ("Cart", "Checkout", "Order", "Quote", "Coupon", "Price", "Basket", "Wishlist", "Return", "Loyalty"),
    "logistics": ("Shipment", "Parcel", "Route", "Depot", "Vehicle", "Pallet", "Picking", "Slot", "Driver", "Dock"),
    "marketing": (
        "Campaign",
        "Newsletter",
        "Banner",
        "Referral",
        "Promotion",
        "Audience",
        "Landing",
        "Click",
        "Impression",
        "Affiliate",
    ),
    "finance": (
        "Invoice",
        "Refund",
        "Ledger",
        "Payout",
        "Budget",
        "Tax",
        "Settlement",
        "Chargeback",
        "Subscription",
        "Receipt",
    ),
    "support": ("Ticket", "Chat", "Callback", "Review", "Complaint", "Survey", "Article", "Agent", "Escalation", "Faq"),
}
ROOTS = ("Created", "Updated", "Cancelled", "Viewed")  # roots: one table and one source each (200 in all)
MIDS = ("Summary", "Context", "Batch")  # referenced by roots; reference leaves
LEAVES = ("Item", "Party", "Location")  # scalars only
FIELDS = 40
# The first fields of every root: an id, the partitioning column and the clustering columns.
ROOT_HEAD = (
    ("event_id", "string"),
    ("created_at", "timestamp"),
    ("customer_id", "string"),
    ("status", "enum"),
    ("store_id", "int64"),
)

# 40 fields: the mix of a typical event message. Mid-level and root messages swap some strings for references.
LEAF_KINDS = (
    ["string"] * 14
    + ["int64"] * 5
    + ["int32"] * 3
    + ["double"] * 3
    + ["bool"] * 2
    + ["bytes", "uint64", "float"]
    + ["enum"] * 2
    + ["timestamp"] * 3
    + ["duration", "wrapper", "rep_string", "rep_int64", "map"]
)
assert len(LEAF_KINDS) == FIELDS
STRING_STEMS = ("name", "email", "phone", "city", "street", "sku", "note", "label", "reference", "channel", "locale")
CATEGORY_OF_STEM = {"email": "pii_email", "phone": "pii_phone", "street": "pii_address"}
STEMS = {
    "int64": ("quantity", "amount", "count", "legacy_code", "version"),
    "int32": ("position", "rank", "legacy_rank"),
    "double": ("weight", "price", "score"),
    "bool": ("is_test", "is_gift"),
    "bytes": ("checksum",),
    "uint64": ("sequence",),
    "float": ("ratio",),
    "enum": ("state",),
    "timestamp": ("updated_at", "shipped_at", "seen_at"),
    "duration": ("elapsed",),
    "wrapper": ("coupon_code",),
    "rep_string": ("tags",),
    "rep_int64": ("related_ids",),
    "map": ("attributes",),
    "struct": ("payload",),
}
CATEGORIES = """\
categories:
  pii:
    description: Personal data that identifies a customer.
    readers: [group:privacy@bench.example]
  pii_email:
    parent: pii
    description: E-mail addresses.
    masking: EMAIL_MASK
    readers: [group:customer-service@bench.example]
    masked_readers: [group:analysts@bench.example]
  pii_phone:
    parent: pii
    masking: LAST_FOUR_CHARACTERS
    readers: [group:customer-service@bench.example]
    masked_readers: [group:analysts@bench.example]
  pii_address:
    parent: pii
    masking: ALWAYS_NULL
    readers: [group:logistics@bench.example]
  commercial:
    description: Prices and amounts.
    readers: [group:finance@bench.example]
"""


@dataclass
class Stats:
    files: int = 0
    messages: int = 0
    fields: int = 0
    categorized: int = 0
    renamed: int = 0
    overridden: int = 0
    roots: list[str] = field(default_factory=list)


def _snake(name: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name).lstrip("_")


def _field_line(kind: str, j: int, ref: str, enum: str, stats: Stats, rng: random.Random) -> list[str]:
    """One field (with its leading comment) of kind `kind` and number j; names are unique by their number."""
    if kind == "string":
        stem = STRING_STEMS[(j * 7) % len(STRING_STEMS)]
    elif kind.startswith(("msg", "rep_msg")):
        stem = _snake(ref.rpartition(".")[2])
    else:
        stems = STEMS[kind]
        stem = stems[j % len(stems)]
    name = f"{stem}_{j}"
    opts: list[str] = []
    if kind == "string" and stem in CATEGORY_OF_STEM:
        opts.append(f'category: "{CATEGORY_OF_STEM[stem]}"')
    elif kind == "double" and stem == "price":
        opts.append('category: "commercial"')
    elif kind == "string" and stem == "note" and rng.random() < 0.5:
        opts.append('type: "DATE"')  # a "2024-05-31" string
    elif kind == "int64" and stem == "amount":
        opts.append('type: "NUMERIC" divide: 100')  # cents to currency units
    if stem.startswith("legacy_"):
        opts.append(f'name: "{stem[len("legacy_") :]}_{j}"')
    stats.categorized += any(o.startswith("category") for o in opts)
    stats.renamed += any(o.startswith("name") for o in opts)
    stats.overridden += any(o.startswith("type") for o in opts)
    proto_type = {
        "timestamp": "google.protobuf.Timestamp",
        "duration": "google.protobuf.Duration",
        "wrapper": "google.protobuf.StringValue",
        "struct": "google.protobuf.Struct",
        "rep_string": "repeated string",
        "rep_int64": "repeated int64",
        "map": "map<string, string>",
        "enum": enum,
        "msg": ref,
        "rep_msg": f"repeated {ref}",
    }.get(kind, kind)
    suffix = f" [(datahem.column) = {{{' '.join(opts)}}}]" if opts else ""
    return [f"  // {stem.replace('_', ' ').capitalize()} number {j}.", f"  {proto_type} {name} = {j}{suffix};"]


def _message(
    name: str,
    kinds: list[str],
    refs: dict[str, str],
    enum: str,
    stats: Stats,
    rng: random.Random,
    head: tuple[tuple[str, str], ...] = (),
    table: str | None = None,
) -> list[str]:
    """A message of len(kinds) fields: the fixed `head` fields first, then the other kinds in random order."""
    lines = [f"// {name}: a synthetic event type of the benchmark.", f"message {name} {{"]
    if table:
        lines += [f"  option (datahem.table) = {{{table}}};", ""]
    pool = list(kinds)
    for _, kind in head:
        pool.remove(kind)
    rng.shuffle(pool)
    j = 0
    for fixed, kind in head:
        j += 1
        opts = " [(datahem.column) = {required: true}]" if fixed == "event_id" else ""
        proto_type = {"timestamp": "google.protobuf.Timestamp", "enum": enum}.get(kind, kind)
        lines += [f"  // The {fixed.replace('_', ' ')}.", f"  {proto_type} {fixed} = {j}{opts};"]
    for kind in pool:
        j += 1
        lines += _field_line(kind, j, refs.get(kind, ""), enum, stats, rng)
    stats.messages += 1
    stats.fields += j
    return [*lines, "}", ""]


def _table_option(package: str, r: int) -> str:
    clustering = (
        '["customer_id", "status"]',
        '["status"]',
        '["customer_id", "status", "store_id"]',
        '["store_id"]',
    )[r % 4]
    partitioning = (
        'partitioning: {field: "created_at" granularity: DAY require_filter: true} ',
        'partitioning: {field: "created_at" granularity: HOUR expiration_days: 90} ',
        'partitioning: {field: "created_at" granularity: MONTH} ',
        "",  # default: by day on _received_at
    )[r % 4]
    return (
        f'dataset: "{package}" {partitioning}clustering: {clustering} '
        f'labels: [{{key: "domain" value: "{package}"}}, {{key: "tier" value: "t{r % 3}"}}]'
    )


def generate(project: Path, seed: int = 1) -> Stats:
    """Write sources.yaml and schemas/bench/<package>/v1/<topic>.proto under `project`."""
    rng = random.Random(seed)
    stats = Stats()
    sources: list[str] = []
    r = 0
    for package, topics in PACKAGES.items():
        pkg = f"bench.{package}.v1"
        folder = project / "schemas" / "bench" / package / "v1"
        folder.mkdir(parents=True, exist_ok=True)
        for t, topic in enumerate(topics):
            prev = topics[t - 1] if t else topic  # leaves of the previous file: a cross-file import
            imports = ["datahem/options.proto"] + [
                f"google/protobuf/{n}.proto" for n in ("duration", "struct", "timestamp", "wrappers")
            ]
            if t:
                imports.append(f"bench/{package}/v1/{_snake(prev)}.proto")
            enum = f"{topic}State"
            lines = [f"// Events about {topic.lower()}s.", 'syntax = "proto3";', "", f"package {pkg};", ""]
            lines += [f'import "{i}";' for i in sorted(imports)] + [""]
            lines += [f"// The state of a {topic.lower()}.", f"enum {enum} {{"]
            lines += [f"  {_snake(enum).upper()}_{v} = {i};" for i, v in enumerate(("UNSPECIFIED", "OPEN", "DONE"))]
            lines += ["}", ""]
            for leaf in LEAVES:
                lines += _message(f"{topic}{leaf}", LEAF_KINDS, {}, enum, stats, rng)
            for k, mid in enumerate(MIDS):
                kinds = LEAF_KINDS[:]
                kinds[kinds.index("string")] = "msg"
                kinds[kinds.index("string")] = "rep_msg"
                refs = {"msg": f"{topic}{LEAVES[k]}", "rep_msg": f"{prev}{LEAVES[(k + 1) % 3]}"}
                lines += _message(f"{topic}{mid}", kinds, refs, enum, stats, rng)
            for k, event in enumerate(ROOTS):
                kinds = LEAF_KINDS[:]
                for kind in ("msg", "rep_msg", "struct"):
                    kinds[kinds.index("string")] = kind
                refs = {"msg": f"{topic}{MIDS[k % 3]}", "rep_msg": f"{prev}{LEAVES[k % 3]}"}
                name = f"{topic}{event}"
                lines += _message(name, kinds, refs, enum, stats, rng, ROOT_HEAD, _table_option(package, r))
                stats.roots.append(f"{pkg}.{name}")
                sources += _source(_snake(name), f"{pkg}.{name}", r)
                r += 1
            (folder / f"{_snake(topic)}.proto").write_text("\n".join(lines))
            stats.files += 1
    head = [
        "# Synthetic benchmark project (bench/compile.py).",
        "project:",
        "  name: bench",
        "  environments:",
        "    dev: {gcp_project: bench-data-dev, region: europe-north1}",
        "    prod: {gcp_project: bench-data-prod, region: europe-north1}",
    ]
    (project / "sources.yaml").write_text("\n".join([*head, CATEGORIES.rstrip(), "sources:", *sources, ""]))
    return stats


def _source(name: str, message: str, r: int) -> list[str]:
    kind = ("http", "sns", "kinesis")[r % 3]
    out = [f"  - name: {name}", f"    kind: {kind}", f"    message: {message}", f"    description: {name} events."]
    if kind == "http":
        out += [f"    path: /events/{name}", "    methods: [POST]"]
        if r % 2:
            out += [f"    auth: {{type: hmac, header: x-signature, secret_env: {name.upper()}_SECRET}}"]
    elif kind == "sns":
        out += [f"    route: {name}", f"    topic_arns: [arn:aws:sns:eu-west-1:123456789012:{name}]"]
    else:
        out += [
            f"    stream_arn: arn:aws:kinesis:eu-west-1:123456789012:stream/{name}",
            "    region: eu-west-1",
            "    role_arn: arn:aws:iam::123456789012:role/datahem-kinesis-reader",
        ]
    return out


# -- measurement ---------------------------------------------------------------------------------------------------


def run_protoc(project: Path) -> float:
    """protoc alone, with the very command `compile_protos` runs, on the same files; seconds."""
    schemas = (project / "schemas").resolve()
    files = [f for f in proto_files(schemas) if f != VOCABULARY_IMPORT]
    with tempfile.TemporaryDirectory(prefix="bench-protoc-") as tmp:
        cmd = protoc_command(schemas, files, Path(tmp) / "descriptor_set.binpb")
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"protoc failed on the synthetic project:\n{proc.stderr}")
    return elapsed


def run_build(project: Path) -> tuple[float, dict[str, bytes], object]:
    """The build without infrastructure synth, in memory (what `datahem build` does before writing); seconds."""
    start = time.perf_counter()
    try:
        compiled = compile_project(project)
    except CompileError as exc:
        raise SystemExit("the synthetic project does not compile:\n" + format_text(exc.diagnostics[:50])) from exc
    model = compiled.model
    files = render_all(compiled, Settings(project, emitters=EMITTERS))
    return time.perf_counter() - start, files, model


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (protoc)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _count(columns: tuple[Column, ...]) -> int:
    return sum(1 + _count(c.fields) for c in columns)


def child_build(project: Path) -> None:
    """Run one build in this (fresh) process and print its peak RSS as JSON: ru_maxrss of this process alone
    (the Python side) and of its waited-for children (protoc)."""
    seconds, files, _ = run_build(project)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": own, "protoc_rss_mb": children, "files": len(files)}))


def measure_rss(project: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.compile", "--child-build", str(project)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child build failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# The one-field change of the example project: a field added to the order lines (a column of `events.orders`).
EDIT_FILE = "schemas/grocer/commerce/v1/order.proto"
EDIT_AFTER = "  string substituted_by_sku = 9;\n"
EDIT_FIELD = "  // Note from the picker.\n  string picker_note = 10;\n"


# As installed for a user: modules load from their bytecode caches (this sandbox sets PYTHONDONTWRITEBYTECODE, which
# would make every run compile the compiler's and its libraries' sources again, a second of CPU).
CLI_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_cli_build(project: Path, *extra: str) -> float:
    """`datahem build` of `project` in a fresh process, as a user runs it (interpreter start and imports included);
    seconds."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "datahem.cli", "build", "--project", str(project), *extra],
        capture_output=True,
        text=True,
        env=CLI_ENV,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"datahem build failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def one_field_rebuild(rounds: int) -> tuple[float, float]:
    """Median seconds of `datahem build` of the example project after a one-field change (the stacks included),
    each round from the committed generated/ tree, and of a build with nothing changed (the floor)."""
    changed, unchanged = [], []
    with tempfile.TemporaryDirectory(prefix="datahem-bench-example-") as tmp:
        project = copy_project(PROJECT_DIR, Path(tmp))
        run_cli_build(project, "--check")  # warm-up: bytecode caches, page cache
        text = (PROJECT_DIR / EDIT_FILE).read_text()
        if EDIT_AFTER not in text:
            raise SystemExit(f"{EDIT_FILE} changed; update bench.compile.EDIT_AFTER")
        (project / EDIT_FILE).write_text(text.replace(EDIT_AFTER, EDIT_AFTER + EDIT_FIELD, 1))
        for i in range(rounds):
            shutil.rmtree(project / "generated", ignore_errors=True)
            shutil.copytree(PROJECT_DIR / "generated", project / "generated")
            changed.append(run_cli_build(project))
            unchanged.append(run_cli_build(project))
            print(f"example round {i + 1}: one-field change {changed[-1]:.2f} s, unchanged {unchanged[-1]:.2f} s")
    return statistics.median(changed), statistics.median(unchanged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median reported); default 5")
    parser.add_argument("--keep", type=Path, help="generate the project into this directory and keep it")
    parser.add_argument("--child-build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_build:
        child_build(args.child_build)
        return 0
    known = {name for name, _ in ALL_EMITTERS}
    missing = set(EMITTERS) - known
    if missing:
        raise SystemExit(f"emitters {sorted(missing)} no longer exist; update bench.compile.EMITTERS")

    with tempfile.TemporaryDirectory(prefix="datahem-bench-") as tmp:
        project = args.keep or Path(tmp)
        project.mkdir(parents=True, exist_ok=True)
        stats = generate(project)
        print(
            f"project: {stats.files} .proto files, {stats.messages} message types, {stats.fields} fields "
            f"({stats.categorized} categorized, {stats.renamed} renamed, {stats.overridden} type overrides), "
            f"{len(stats.roots)} sources"
        )
        # warm-up (imports, Jinja template compilation, page cache), not timed
        run_protoc(project)
        _, files, model = run_build(project)
        columns = sum(_count(t.bq_columns) for t in model.tables)
        size = sum(len(v) for v in files.values())
        print(f"output: {len(files)} files, {size / 1e6:.1f} MB, {len(model.tables)} tables, {columns} columns")
        del model, files

        protoc_times, build_times, protoc_cpu, build_cpu = [], [], [], []
        for i in range(args.rounds):
            before = cpu_seconds()
            protoc_times.append(run_protoc(project))
            middle = cpu_seconds()
            build_times.append(run_build(project)[0])
            protoc_cpu.append(middle - before)
            build_cpu.append(cpu_seconds() - middle)
            print(
                f"round {i + 1}: protoc {protoc_times[-1]:.3f} s ({protoc_cpu[-1]:.3f} s CPU), "
                f"build {build_times[-1]:.3f} s ({build_cpu[-1]:.3f} s CPU)"
            )
        rss = measure_rss(project)
    rebuild_s, noop_s = one_field_rebuild(args.rounds)

    protoc_s = statistics.median(protoc_times)
    build_s = statistics.median(build_times)
    ratio = build_s / protoc_s
    cpu_ratio = statistics.median(build_cpu) / statistics.median(protoc_cpu)
    print(f"protoc alone: median {protoc_s:.3f} s over {args.rounds} rounds")
    print(f"build ({', '.join(EMITTERS)}): median {build_s:.3f} s over {args.rounds} rounds (includes protoc)")
    print(
        f"CPU (this process and its children): protoc {statistics.median(protoc_cpu):.3f} s, build "
        f"{statistics.median(build_cpu):.3f} s, ratio {cpu_ratio:.2f} (less sensitive to other load on the machine)"
    )
    print(
        f"peak RSS of one build in a fresh process: {rss['rss_mb']:.0f} MB "
        f"(protoc child: {rss['protoc_rss_mb']:.0f} MB; that build took {rss['seconds']:.3f} s)"
    )
    print(
        f"example project, `datahem build` in a fresh process: one-field change {rebuild_s:.2f} s (stacks included), "
        f"nothing changed {noop_s:.2f} s (medians of {args.rounds})"
    )
    print(f"targets: ratio <= 1.5 ({'ok' if ratio <= 1.5 else 'MISSED'}), RSS < 300 MB "
          f"({'ok' if rss['rss_mb'] < 300 else 'MISSED'}), one-field rebuild <= 2 s "
          f"({'ok' if rebuild_s <= 2 else 'MISSED'})")  # fmt: skip
    print(
        f"RESULT compile ratio_vs_protoc={ratio:.2f} peak_rss_mb={rss['rss_mb']:.0f} seconds={build_s:.2f} "
        f"one_field_rebuild_s={rebuild_s:.2f} cpu_ratio_vs_protoc={cpu_ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
