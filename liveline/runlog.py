"""Running one-shot install/build commands (apt-get, npm, debootstrap, pip) into a log.

They run under `nice -n 19`: the machine is shared with latency benchmarks. Output goes
to a log file, never to the terminal, so a failure can quote the log's last lines.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0


def run_logged(
    cmd: Sequence[str],
    logfile: Path,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run cmd niced, appending its output to logfile; its exit code, -1 on timeout."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    full = ["nice", "-n", "19", *cmd]
    with logfile.open("ab") as out:
        out.write(f"\n=== {time.strftime('%F %T')} {full}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            full,
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        started = time.monotonic()
        while True:
            remaining = timeout - (time.monotonic() - started)
            try:
                return proc.wait(timeout=max(0.0, min(HEARTBEAT_S, remaining)))
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - started
                if elapsed >= timeout:
                    proc.kill()
                    proc.wait()
                    out.write(f"\n=== timed out after {timeout:.0f} s\n".encode())
                    return -1
                # Long installs and builds (Kubernetes: minutes) show they are alive.
                log.info("  ... %s still running (%.0f s, log %s)", Path(cmd[0]).name,
                         elapsed, logfile)  # fmt: skip


def tail(path: Path, lines: int = 20, width: int = 300) -> str:
    """The last lines of a log file's latest run (after run_logged's last "===" marker)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    latest = text[text.rfind("\n=== ") + 1 :]
    return "\n".join(line[:width] for line in latest.splitlines()[-lines:])
