"""Real local stand-ins for cloud services, started by tests and always stopped afterwards.

The Pub/Sub emulator is started from its jar directly (the gcloud wrapper leaves an orphaned java child when
killed) in its own process group. When it is missing the test fails with a clear message: it is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PUBSUB_JAR_GLOB = "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar"
SDK_ROOTS = ("/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def pubsub_emulator_jar() -> Path:
    for root in SDK_ROOTS:
        hits = sorted(Path(root).glob(PUBSUB_JAR_GLOB))
        if hits:
            return hits[-1]
    raise FileNotFoundError(
        "the Pub/Sub emulator is not installed (package google-cloud-cli-pubsub-emulator, looked in "
        f"{', '.join(SDK_ROOTS)}); these tests need it and are not skipped"
    )


def stop_group(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


@contextlib.contextmanager
def pubsub_emulator(port: int | None = None) -> Iterator[str]:
    """Start the Pub/Sub emulator; yields its host:port (the value for PUBSUB_EMULATOR_HOST)."""
    jar = pubsub_emulator_jar()
    java = shutil.which("java")
    if java is None:
        raise FileNotFoundError("java is not installed; the Pub/Sub emulator needs a JDK (17)")
    port = port or free_port()
    data = tempfile.mkdtemp(prefix="pubsub-emulator-")
    log = open(Path(data) / "emulator.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [java, "-jar", str(jar), "--host=127.0.0.1", f"--port={port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=data,
    )
    try:
        wait_for_port(port, 60, proc)
        yield f"127.0.0.1:{port}"
    finally:
        stop_group(proc)
        log.close()
        shutil.rmtree(data, ignore_errors=True)
