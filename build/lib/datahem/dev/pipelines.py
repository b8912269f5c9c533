"""Every source pipeline and the backup pipeline of a project, streaming on the DirectRunner, in one process.

    python -m datahem.dev.pipelines --project-dir DIR --gcp-project P --bigquery-endpoint URL SOURCE...

`datahem dev` starts this in its own process (run from DIR, so `generated.pipelines` is the project's): the
pipelines' threads then cannot slow the supervisor, and stopping the process group stops them all. One pipeline
per subscription (datahem.runtime.beam.local explains why). The message classes come from DIR's own registry
(DIR/generated/registry/descriptor_set.binpb), never from the default next to the datahem package. Prints
`pipelines running N` once every pipeline was started, and runs until SIGTERM/SIGINT; exits 1, saying why, when a
source's message is not in the registry or when a pipeline fails (the supervisor shows that on its display).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m datahem.dev.pipelines", description=__doc__.split("\n")[0])
    parser.add_argument("--project-dir", required=True)
    parser.add_argument("--gcp-project", required=True)
    parser.add_argument("--bigquery-endpoint", required=True)
    parser.add_argument("sources", nargs="+")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.project_dir)
    registry = Path(args.project_dir) / "generated" / "registry" / "descriptor_set.binpb"

    from apache_beam.options.pipeline_options import PipelineOptions

    from datahem.runtime.beam.local import local_pipelines, run_all
    from datahem.runtime.beam.messages import message_class

    options = PipelineOptions(
        [
            f"--project={args.gcp_project}",
            f"--bigquery_endpoint={args.bigquery_endpoint}",
            "--secret_source=env",
            "--runner=DirectRunner",
            f"--descriptor_set={registry}",
        ],
        streaming=True,
        save_main_session=False,
    )
    modules = [importlib.import_module(f"generated.pipelines.source_{name}") for name in args.sources]
    backup = importlib.import_module("generated.pipelines.backup")
    for m in modules:
        try:
            message_class(m.SPEC.message_type, registry)
        except KeyError:
            print(f"pipelines: {m.SPEC.message_type} is not in {registry}; run `datahem build`", flush=True)
            sys.exit(1)
    for secret in sorted({s for m in modules for s in m.SPEC.secrets}):
        # local stand-ins for the Secret Manager keys (e.g. the pseudonymization key); never real secrets
        os.environ.setdefault("DATAHEM_SECRET_" + secret.upper().replace("-", "_"), f"datahem-dev-{secret}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    results = run_all(local_pipelines([(m.SPEC, m.convert) for m in modules], backup.SPEC, options))
    print(f"pipelines running {len(results)}", flush=True)
    names = [m.SPEC.pipeline for m in modules] + [f"backup {s}" for s in backup.SPEC.subscriptions]
    for name, result in zip(names, results, strict=True):
        threading.Thread(target=_watch, args=(name, result, stop), name=f"watch {name}", daemon=True).start()
    stop.wait()
    print("stopping the pipelines", flush=True)
    # The DirectRunner's cancel() can block for many seconds in a streaming pull, and its worker threads are not
    # daemons: give cancelling a moment, then leave without joining them. Nothing outlives the run anyway: the
    # emulators keep their topics and tables in memory and are stopped right after.
    canceller = threading.Thread(target=lambda: [r.cancel() for r in results], daemon=True)
    canceller.start()
    canceller.join(2)
    sys.stdout.flush()
    os._exit(0)


def _watch(name: str, result, stop: threading.Event) -> None:
    """A streaming pipeline only finishes by failing (its bundle retried until the runner gave up): say which one
    and why, and exit, so the supervisor shows it instead of the pipelines silently doing nothing."""
    try:
        result.wait_until_finish()
        why = f"stopped ({result.state})"
    except BaseException as exc:  # noqa: BLE001 - whatever ended it, it is reported and the process exits
        why = f"failed: {type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    if stop.is_set():
        return  # being stopped: cancelling ends it
    print(f"pipelines: pipeline {name} {why}", flush=True)
    os._exit(1)


if __name__ == "__main__":
    main()
