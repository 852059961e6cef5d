"""A local MLflow tracking server and model registry, pinned in tools/mlflow.

Started by `up` only when the models live in MLflow (LIVELINE_MODEL_STORE=mlflow with no
LIVELINE_MLFLOW_TRACKING_URI), or when a test asks for it; `down` always stops it if it
runs. It gets a virtualenv of its own in the state folder (the full `mlflow` package is
about 1 GB: pyarrow, scipy, pandas, Flask, SQLAlchemy...), installed from the hashed
requirements, so the project's environment never carries the server.

The lean configuration measured in docs/research/issue17-mlflow-registry.md: one uvicorn
worker (the default 4 plus the job runner's huey consumers cost 2 GB and stop slowly),
job execution off (the registry does not need it), 127.0.0.1 only, and telemetry OFF:
by default the server and every client call config.mlflow-telemetry.io at start and
write an installation id to ~/.config/mlflow. SQLite holds the runs and the registry,
and the server itself stores the artifacts (`--serve-artifacts`), so clients need
nothing but HTTP; both live in the state folder and survive restarts.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path

import requests

from devplatform import processes
from devplatform.layout import MLFLOW_REQUIREMENTS, Layout
from devplatform.report import Status, service
from liveline.runlog import run_logged, tail

log = logging.getLogger(__name__)

NAME = "mlflow"
INSTALL_TIMEOUT_S = 1200.0
# Measured 15-20 s to a first answer, 86 s on a loaded machine (load 17); the first
# start also creates the database tables.
START_TIMEOUT_S = 120.0
# The CLI forwards SIGTERM to uvicorn; both had exited 1.5-4.4 s after it.
STOP_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 5.0


def enabled(layout: Layout) -> bool:
    return layout.settings.model_store == "mlflow" and not layout.settings.mlflow_tracking_uri


def _dir(layout: Layout) -> Path:
    return layout.state / "mlflow"


def _venv(layout: Layout) -> Path:
    return _dir(layout) / "venv"


def python(layout: Layout) -> Path:
    """The server venv's python: it has the real mlflow client (and scikit-learn)."""
    return _venv(layout) / "bin" / "python"


def _program(layout: Layout) -> Path:
    return _venv(layout) / "bin" / "mlflow"


def data(layout: Layout) -> Path:
    """The server's database (mlflow.db) and artifacts (artifacts/)."""
    return layout.state / "mlflow-data"


def _backend_uri(layout: Layout) -> str:
    return f"sqlite:///{data(layout) / 'mlflow.db'}"


def _markers(layout: Layout) -> list[str]:
    return [str(_program(layout)), _backend_uri(layout)]


def running(layout: Layout) -> bool:
    return processes.running_pid(layout.pidfile(NAME), _markers(layout)) is not None


def quiet_env(layout: Layout) -> dict[str, str]:
    """What every MLflow process here runs with, server and clients: no telemetry (on by
    default: a call off the machine at start), no writes to ~/.config."""
    return {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "XDG_CONFIG_HOME": str(_dir(layout) / "config"),
    }


# What the stamp covers besides the requirements: how they are installed.
SYNC_OPTIONS = ["--require-hashes", "--compile-bytecode"]


def _requirements_hash() -> str:
    options = " ".join(SYNC_OPTIONS).encode()
    return hashlib.sha256(MLFLOW_REQUIREMENTS.read_bytes() + options).hexdigest()


def _step(cmd: list[str], logfile: Path, venv: Path) -> None:
    """One install command, logged; a PlatformError quoting the log if it fails."""
    rc = run_logged(cmd, logfile, INSTALL_TIMEOUT_S)
    if rc != 0:
        what = " ".join([Path(cmd[0]).name, *cmd[1:3]])
        why = "timed out" if rc == -1 else f"exit {rc}"
        raise processes.PlatformError(
            f"{NAME}: `{what} ...` failed ({why}). Last lines of {logfile}:\n{tail(logfile)}\n"
            "Check access to the Python package index and free disk (about 1 GB), then "
            f"retry; deleting {venv} starts the install afresh."
        )


def install(layout: Layout) -> Path:
    """The server's venv, synced to the hashed requirements unless it already is."""
    venv, stamp = _venv(layout), _venv(layout) / ".requirements-sha256"
    wanted = _requirements_hash()
    if python(layout).exists() and stamp.is_file() and stamp.read_text() == wanted:
        return venv
    uv = layout.settings.venv_dir / "bin" / "uv"
    base = shutil.which("python3.11")
    if base is None or not uv.is_file():
        raise processes.PlatformError(
            f"{NAME}: installing needs python3.11 on PATH (found: {base}) and uv in the "
            f"project's environment ({uv}: run `make venv`)."
        )
    logfile = layout.logfile(f"{NAME}-install")
    started = time.monotonic()
    log.info("%s: installing the server into %s (first time: about 2 minutes; log %s)",
             NAME, venv, logfile)  # fmt: skip
    stamp.unlink(missing_ok=True)  # a failed sync must not look current
    if not python(layout).exists():  # an existing venv is synced in place
        _step([base, "-m", "venv", "--without-pip", str(venv)], logfile, venv)
    # Bytecode compiled once here: uv does not by default, and a process that cannot
    # write its own cache (PYTHONDONTWRITEBYTECODE) would compile every module at start.
    _step([str(uv), "pip", "sync", "--python", str(python(layout)), *SYNC_OPTIONS,
           str(MLFLOW_REQUIREMENTS)], logfile, venv)  # fmt: skip
    stamp.write_text(wanted)
    log.info("%s: installed in %.0f s", NAME, time.monotonic() - started)
    return venv


def _command(layout: Layout) -> list[str]:
    d = data(layout)
    return [
        str(_program(layout)), "server", "--backend-store-uri", _backend_uri(layout),
        "--artifacts-destination", str(d / "artifacts"), "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(layout.settings.mlflow_port), "--workers", "1",
    ]  # fmt: skip


def _get(layout: Layout, path: str) -> requests.Response | None:
    try:
        return requests.get(layout.settings.local_mlflow_url + path, timeout=PROBE_TIMEOUT_S)
    except requests.RequestException:
        return None


def _answers(layout: Layout) -> bool:
    """/health, and a real API call through the registry's database."""
    health = _get(layout, "/health")
    if health is None or health.status_code != 200:
        return False
    api = _get(layout, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default")
    return api is not None and api.status_code == 200


def server_version(layout: Layout) -> str | None:
    """The version the server reports if it answers, else None."""
    resp = _get(layout, "/version")
    return resp.text.strip() if resp is not None and resp.status_code == 200 else None


def up(layout: Layout, force: bool = False) -> None:
    """Install and start it when the settings choose it (or `force`); wait until its API
    answers."""
    if not (force or enabled(layout)):
        return
    install(layout)
    (data(layout) / "artifacts").mkdir(parents=True, exist_ok=True)
    env = {**quiet_env(layout), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    processes.ensure_started(
        NAME, layout.pidfile(NAME), _markers(layout), lambda: _command(layout),
        lambda: _answers(layout), START_TIMEOUT_S, layout.logfile(NAME),
        hint=f"Is its port taken (`ss -ltnp`: {layout.settings.mlflow_port})? Free it or "
        "set LIVELINE_MLFLOW_PORT.",
        env=env,
    )  # fmt: skip
    log.info("%s: the tracking server answers at %s", NAME, layout.settings.local_mlflow_url)


def status(layout: Layout) -> Status:
    ours = running(layout)
    ver = server_version(layout) if ours else None
    return service(
        NAME, layout.logfile(NAME), address=layout.settings.local_mlflow_url, version=ver,
        answers=ver is not None and _answers(layout), ours=ours,
        absent="" if python(layout).exists() else "not installed yet",
    )  # fmt: skip


def down(layout: Layout) -> bool:
    # The CLI is only a supervisor: SIGTERM reaches it, and it forwards the signal to its
    # uvicorn child, which may still be exiting when the CLI is gone. group=True waits
    # for that child too (and kills it at the timeout), so no server outlives `down`.
    return processes.stop(NAME, layout.pidfile(NAME), _markers(layout), STOP_TIMEOUT_S,
                          group=True)  # fmt: skip
