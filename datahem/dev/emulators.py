"""Real local stand-ins for cloud services, started by `datahem dev` and by tests, and always stopped afterwards.

Every stand-in runs in its own process group (session), so stopping it stops its children too (the gcloud wrapper
of the Pub/Sub emulator would leave an orphaned java child, so the jar is started directly). A missing emulator is a
clear error: tests that need one fail, they are never skipped. tests/emulators.py re-exports this module.
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

from datahem.compiler.tempdirs import child_command

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
        child_command([java, "-jar", str(jar), "--host=127.0.0.1", f"--port={port}"]),
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


# --- BigQuery API emulator -----------------------------------------------------------------------------------------
# bqemulator runs in its own venv (its pins clash with .venv's), built from datahem/dev/bqemulator/requirements-bq.lock
# (package data, so an installed datahem has it too) and started through datahem/dev/bqemulator/launch.py, which skips
# the DuckDB extension downloads that would otherwise make it fail offline. See datahem/dev/bqemulator/README.md.
# In a source checkout the venv is .venv-bq/ at its root (`make .venv-bq/.installed` builds the same one); an installed
# datahem keeps it in the user's cache, one per lock file.

PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # the folder holding the datahem package
BQ_LOCK = Path(__file__).resolve().parent / "bqemulator" / "requirements-bq.lock"
BQ_LAUNCHER = Path(__file__).resolve().parent / "bqemulator" / "launch.py"


def _bq_venv_dir() -> Path:
    if os.environ.get("DATAHEM_BQ_VENV"):
        return Path(os.environ["DATAHEM_BQ_VENV"])
    if (PACKAGE_PARENT / "pyproject.toml").is_file() and (PACKAGE_PARENT / "Makefile").is_file():
        return PACKAGE_PARENT / ".venv-bq"  # a source checkout
    import hashlib

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "datahem" / f"venv-bq-{hashlib.sha256(BQ_LOCK.read_bytes()).hexdigest()[:12]}"


BQ_VENV_PYTHON = _bq_venv_dir() / "bin" / "python"


def bigquery_emulator_python() -> Path:
    """The interpreter of the emulator's venv; a clear error (never a skip) when that venv has not been built."""
    if not BQ_VENV_PYTHON.is_file():
        raise FileNotFoundError(
            f"the BigQuery emulator's venv is missing ({BQ_VENV_PYTHON}); build it with `make .venv-bq/.installed` "
            "(`make test` does it first) or let `datahem dev` create it; these tests need it and are not skipped"
        )
    return BQ_VENV_PYTHON


def ensure_bigquery_emulator_python(progress=lambda line: None) -> Path:
    """The emulator venv's interpreter, creating the venv from the lock first when it is missing (about a minute,
    once); `progress` gets one line before that work starts."""
    venv = BQ_VENV_PYTHON.parent.parent
    stamp = venv / ".installed"
    if BQ_VENV_PYTHON.is_file() and stamp.is_file():
        return BQ_VENV_PYTHON
    import sys

    progress(f"creating the BigQuery emulator's environment in {venv} (once; about a minute)")
    venv.parent.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")

    def run(command: list[str]) -> None:
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(
                f"could not create the BigQuery emulator's environment ({' '.join(command)}):\n{proc.stderr[-2000:]}"
            )

    if uv:
        run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        run([uv, "pip", "install", "--quiet", "--python", str(BQ_VENV_PYTHON), "-r", str(BQ_LOCK)])
    else:
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(BQ_VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(BQ_LOCK)])
    stamp.touch()
    return BQ_VENV_PYTHON


def wait_for_http(url: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    """Poll url until it answers 200; fail early, with the server's log, if the process exits first."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the BigQuery emulator exited with {proc.returncode} before answering:\n{_tail(log)}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"the BigQuery emulator did not answer {url} within {timeout}s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


class EmulatorUrl(str):
    """The emulator's REST endpoint (the string itself), with its gRPC endpoint (Storage Read/Write API) as `.grpc`
    ("127.0.0.1:PORT"), so callers that take the URL as a string keep working."""

    grpc: str

    def __new__(cls, url: str, grpc: str) -> EmulatorUrl:
        self = super().__new__(cls, url)
        self.grpc = grpc
        return self

    def __reduce__(self) -> tuple:
        return (EmulatorUrl, (str(self), self.grpc))  # picklable: Beam pickles the DoFns that hold an endpoint


@contextlib.contextmanager
def bigquery_emulator(
    project: str = "demo-project",
    data_dir: Path | None = None,
    port: int | None = None,
    timeout: float = 60,
    location: str = "US",
    grpc_port: int | None = None,
) -> Iterator[EmulatorUrl]:
    """Start the BigQuery API emulator; yields its REST endpoint, e.g. "http://127.0.0.1:PORT", whose `.grpc` is the
    Storage Write/Read API's gRPC endpoint ("127.0.0.1:PORT", the value for BIGQUERY_STORAGE_EMULATOR_HOST).

    Use the URL as `client_options={"api_endpoint": url}` (or as BIGQUERY_EMULATOR_HOST) with
    `google.auth.credentials.AnonymousCredentials()`. `data_dir` keeps the tables across restarts; without it they
    live in memory. The whole process group is stopped afterwards. Start-up takes about 2-4 s.
    """
    python = bigquery_emulator_python()
    port = port or free_port()
    work = Path(tempfile.mkdtemp(prefix="bq-emulator-"))
    log_path = work / "emulator.log"
    log = open(log_path, "wb")  # noqa: SIM115
    # by file path, from a scratch folder: launch.py needs only the standard library and bqemulator, and the
    # emulator's venv must see nothing of the main venv (an installed datahem lives in its site-packages)
    grpc_port = grpc_port or free_port()
    command = [str(python), str(BQ_LAUNCHER), "--port", str(port), "--project", project, "--location", location]
    command += ["--grpc-port", str(grpc_port)]
    # Stops the emulator even if this process is killed before the finally below runs (e.g. a CI time-out).
    command += ["--parent-pid", str(os.getpid())]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    # The child must see only .venv-bq: drop what would point it at the main venv's packages.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    proc = subprocess.Popen(
        child_command(command),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=work,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/healthz", timeout, proc, log_path)
        wait_for_port(grpc_port, timeout, proc)
        yield EmulatorUrl(url, f"127.0.0.1:{grpc_port}")
    finally:
        stop_group(proc)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


# --- Any local process, and moto --------------------------------------------------------------------------------


@contextlib.contextmanager
def child_process(
    command: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Run command in a session of its own, output to log_path; the whole group is stopped when the block ends.

    A session of its own: a Ctrl-C in the terminal reaches only the supervisor, which then stops each group in
    order (collectors before Pub/Sub, so they can flush), and a child's own children are stopped with it.
    """
    log = open(log_path, "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        child_command(command),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=cwd,
        env=env,
    )
    try:
        yield proc
    finally:
        stop_group(proc)
        log.close()


@contextlib.contextmanager
def moto_server(log_path: Path, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """moto in server mode (Kinesis, STS, SNS...) as a process; yields its endpoint URL and the process."""
    import sys

    port = port or free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with child_process(command, log_path) as proc:
        wait_for_port(port, 60, proc)
        yield f"http://127.0.0.1:{port}", proc
