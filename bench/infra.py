"""Infrastructure synth benchmark: what does the CDKTF synth of the example project cost, what does the fingerprint
skip save, and is the bare provider import (datahem/deploy/infra/providers.py) equivalent to the full one?

Measured on a temporary copy of the example project:

- `synth`: the infra emitter's subprocess synth alone (`datahem.compiler.emitters.infra.synth`), wall time and peak memory
  of the whole process tree (the Python app and jsii's Node process, sampled every 20 ms with psutil);
- `build`: a full `datahem build` that must synthesize (generated/infra removed), and `skip`: the same build again,
  unchanged, which reuses the synthesized files (nothing of cdktf is imported);
- `full_import` (unless --quick): the generated app run after importing both provider packages in full, as a
  plain `import cdktf_cdktf_provider_google` would; its stacks must be byte-identical to the bare import's.

Run from the repository root: `.venv/bin/python -m bench.infra [--quick]`. The last line is
`RESULT infra synth_seconds=<s> synth_peak_rss_mb=<n> build_seconds=<s> skip_seconds=<s> full_import_seconds=<s>
full_import_identical=<true|false|skipped>`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench import copy_project
from datahem.compiler.build import load_model
from datahem.compiler.emitters import infra

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT  # the project whose copy is synthesized and built
FULL_IMPORT = (
    "import cdktf_cdktf_provider_google, cdktf_cdktf_provider_google_beta, runpy; "
    "runpy.run_path('main.py', run_name='__main__')"
)


class TreeMemory:
    """Peak summed RSS of this process's children and their descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in me.children(recursive=True):
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _project(tmp: Path) -> Path:
    project = copy_project(PROJECT_DIR, tmp / "project")
    shutil.rmtree(project / "generated" / "infra")
    return project


def _build(project: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "datahem.cli", "build"], cwd=project, check=True, capture_output=True)
    return time.perf_counter() - started


def _full_import(project: Path, tmp: Path) -> tuple[float, bool | None]:
    app = tmp / "full" / "generated" / "infra"
    shutil.copytree(project / "generated" / "infra", app, ignore=shutil.ignore_patterns("cdktf.out"))
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FULL_IMPORT], cwd=app, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    ours = sorted((project / "generated" / "infra" / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))
    identical = bool(ours) and all(
        p.read_bytes() == (app / "cdktf.out" / "stacks" / p.parent.name / "cdk.tf.json").read_bytes() for p in ours
    )
    return seconds, identical


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the full-import comparison (about a minute)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="datahem-bench-infra-") as tmp_name:
        tmp = Path(tmp_name)
        project = _project(tmp)
        model = load_model(project)
        inputs = {
            "infra/platform.json": infra.to_json(infra.platform(model)),
            "infra/main.py": (PROJECT_DIR / "generated" / "infra" / "main.py").read_bytes(),
            "infra/cdktf.json": (PROJECT_DIR / "generated" / "infra" / "cdktf.json").read_bytes(),
        }
        envs = [e.name for e in model.environments]
        with TreeMemory() as memory:
            started = time.perf_counter()
            infra.synth(inputs, envs)
            synth_seconds = time.perf_counter() - started
        build_seconds = _build(project)
        skip_seconds = _build(project)
        print(f"synth (subprocess): {synth_seconds:.2f}s, peak RSS of the process tree {memory.peak / 2**20:.0f} MB")
        print(f"datahem build with synth: {build_seconds:.2f}s; unchanged rebuild (skip): {skip_seconds:.2f}s")
        full_seconds, identical = 0.0, None  # not measured with --quick
        if not args.quick:
            full_seconds, identical = _full_import(project, tmp)
            print(f"synth with the full provider import: {full_seconds:.2f}s; identical stacks: {identical}")
    print(
        f"RESULT infra synth_seconds={synth_seconds:.2f} synth_peak_rss_mb={memory.peak / 2**20:.0f} "
        f"build_seconds={build_seconds:.2f} skip_seconds={skip_seconds:.2f} full_import_seconds={full_seconds:.2f} "
        f"full_import_identical={'skipped' if identical is None else str(identical).lower()}"
    )


if __name__ == "__main__":
    main()
