"""`make dev`: the Dagster UI and daemon (sensors, schedules, run queue) for the Liveline
code location, and the receiver of push notifications (liveline_cli.receiver), on
127.0.0.1.

The instance lives in settings.dagster_home with the repository's dagster.yaml (run
queue, the k8s_cluster pool). `dagster dev` handles SIGINT, and a process started from a
non-interactive shell ignores it, so it runs in a session of its own and gets SIGINT
there, then SIGKILL if it lingers. The end-to-end tests and the release benchmark start
both the same way (tests.support.scenario).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from liveline import settings

log = logging.getLogger("liveline_cli.dev")
START_TIMEOUT_S = 180  # loading the code location takes ~15 s on 2 busy cores
STOP_TIMEOUT_S = 30


class DevError(RuntimeError):
    """dagster dev did not start; the message says why and where its log is."""


def ensure_home(s: settings.Settings) -> Path:
    """DAGSTER_HOME with the repository's dagster.yaml."""
    s.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.REPO_ROOT / "dagster.yaml", s.dagster_home / "dagster.yaml")
    return s.dagster_home


def command(s: settings.Settings) -> list[str]:
    dagster = Path(sys.executable).with_name("dagster")
    return [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
            "-p", str(s.dagster_port)]  # fmt: skip


def start(s: settings.Settings, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """dagster dev for settings s; env: more variables for it (e.g. the LIVELINE_* that
    s was loaded with)."""
    env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(ensure_home(s))}
    return subprocess.Popen(
        command(s), cwd=settings.REPO_ROOT, env=env, start_new_session=True, **popen
    )


def start_receiver(
    s: settings.Settings, env: dict[str, str] | None = None, **popen
) -> subprocess.Popen:
    """The receiver of push notifications for the dagster dev of settings s (stopped,
    like it, by stop())."""
    env = {**os.environ, **(env or {})}
    command = [sys.executable, "-m", "liveline_cli.receiver"]
    return subprocess.Popen(
        command, cwd=settings.REPO_ROOT, env=env, start_new_session=True, **popen
    )


def wait_answering(proc: subprocess.Popen, name: str, url: str, timeout: float,
                   log_file: Path | None = None) -> None:  # fmt: skip
    """Until GET url answers 200; a DevError naming `name` (and its log) if proc exits
    first or timeout passes."""
    where = f"; see {log_file}" if log_file else ""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DevError(f"{name} exited with {proc.returncode}{where}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise DevError(f"{name} did not answer at {url} in {timeout:.0f} s{where}")
        time.sleep(0.2)


def health_urls(s: settings.Settings) -> tuple[str, str]:
    """Where dagster dev and the receiver answer once they are ready."""
    return (f"http://127.0.0.1:{s.dagster_port}/server_info",
            f"http://127.0.0.1:{s.webhook_port}/healthz")  # fmt: skip


def stop(proc: subprocess.Popen) -> int:
    """SIGINT to dagster dev's session (it stops the UI, daemon and code servers), then
    SIGKILL for whatever is left after STOP_TIMEOUT_S."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        code = proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        code = None
    with contextlib.suppress(ProcessLookupError):  # children that outlived dagster dev
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait() if code is None else code


def wait_ready(proc: subprocess.Popen, url: str, log_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DevError(f"dagster dev exited with {proc.returncode}; see {log_file}")
        try:
            if requests.get(f"{url}/server_info", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise DevError(
                f"dagster dev did not answer at {url} in {timeout:.0f} s; see {log_file}"
            )
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    s = settings.load()
    proc, receiver = start(s), start_receiver(s)
    try:  # the UI takes its time to load the code location; the receiver must be up
        wait_answering(receiver, "the receiver", health_urls(s)[1], START_TIMEOUT_S)
    except DevError as e:
        log.error("make dev: %s; stopping dagster dev. Is port %d free (LIVELINE_WEBHOOK_PORT)?",
                  e, s.webhook_port)  # fmt: skip
        stop(receiver)
        stop(proc)
        return 1
    log.info("Dagster UI: http://127.0.0.1:%d  (instance %s; sensors on; Ctrl-C stops it)\n"
             "Push notifications: http://127.0.0.1:%d/hooks/{github,azure-repos,local} "
             "(`liveline hooks install` adds the git hook)",
             s.dagster_port, s.dagster_home, s.webhook_port)  # fmt: skip
    # `make dev` stopped by SIGTERM (e.g. by a supervisor) stops dagster dev the same way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return stop(proc)
    finally:
        stop(receiver)


if __name__ == "__main__":
    sys.exit(main())
