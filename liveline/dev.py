"""`make dev`: the Dagster UI and daemon for the Liveline code location, on 127.0.0.1.

The instance lives in <state>/dagster with the repository's dagster.yaml (run queue,
the k8s_cluster pool). Stops cleanly on Ctrl-C: `dagster dev` handles SIGINT, so it runs
in its own process group and gets SIGINT there, then SIGKILL if it lingers.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from liveline import settings

log = logging.getLogger("liveline.dev")
STOP_TIMEOUT_S = 30


def ensure_home(s: settings.Settings) -> Path:
    """DAGSTER_HOME with the repository's dagster.yaml."""
    s.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.REPO_ROOT / "dagster.yaml", s.dagster_home / "dagster.yaml")
    return s.dagster_home


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    s = settings.load()
    env = {**os.environ, "DAGSTER_HOME": str(ensure_home(s))}
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [
        str(dagster),
        "dev",
        "-w",
        "workspace.yaml",
        "-h",
        "127.0.0.1",
        "-p",
        str(s.dagster_port),
    ]
    log.info("Dagster UI: http://127.0.0.1:%d  (instance %s; Ctrl-C stops it)",
             s.dagster_port, env["DAGSTER_HOME"])  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=settings.REPO_ROOT, env=env, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            return proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
