"""Background processes that the platform starts: pidfiles, start, wait, stop.

Each service runs in its own session (so a Ctrl-C in the terminal that ran `up` does not
reach it), writes stdout/stderr to a log file and has a pidfile in `<state>/run/NAME.pid`.
Before signalling a pid we check its command line (psutil) still names our program, so a
recycled pid never makes us kill a stranger.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from liveline.runlog import tail

log = logging.getLogger(__name__)

# Popen objects of processes this interpreter started: kept so that stop() can reap them
# (otherwise they linger as zombies, which the process table still lists, until we exit).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class PlatformError(RuntimeError):
    """A component could not be brought up or down; the message says why and what to do."""


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """True if pid runs and is not a zombie (a dead child we have not reaped yet)."""
    try:
        zombie = psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, ValueError):  # ValueError: pid < 0 (a corrupt pidfile)
        return False
    except psutil.AccessDenied:  # its state is not readable here, but it exists
        return True
    if zombie:
        # Reap it if it is our child. A multi-threaded process shows Z for its leader
        # while its other threads still exit; waitpid cannot reap it yet, so keep the
        # Popen until it can (dropping it early makes Python warn "still running").
        child = _CHILDREN.get(pid)
        if child is not None and child.poll() is not None:
            del _CHILDREN[pid]
        return False
    return True


def _argv(pid: int) -> list[str]:
    """The process's arguments; empty when it is gone, a zombie or not readable."""
    try:
        return psutil.Process(pid).cmdline()
    except (psutil.Error, ValueError):  # gone (or a zombie), not readable, pid < 0
        return []


def is_ours(pid: int, markers: Sequence[str]) -> bool:
    """True if pid is alive and every marker is one of its arguments (or an argument's
    basename): whole arguments, so /state/run never matches /state/run2."""
    argv = _argv(pid)
    words = set(argv) | {Path(arg).name for arg in argv}
    return bool(argv) and _alive(pid) and all(m in words for m in markers)


def running_pid(pidfile: Path, markers: Sequence[str]) -> int | None:
    """The pid from pidfile if that process is still ours; a stale pidfile is removed."""
    pid = read_pid(pidfile)
    if pid is not None and is_ours(pid, markers):
        return pid
    pidfile.unlink(missing_ok=True)
    return None


def start(name: str, cmd: Sequence[str], pidfile: Path, logfile: Path) -> int:
    """Start cmd in a new session with output appended to logfile; write its pidfile."""
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as out:
        out.write(f"\n=== {time.strftime('%F %T')} liveline starts {name}: {cmd}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    # Right after exec, /proc/PID/cmdline can still read empty: wait for it, so an
    # is_ours() check straight after start does not take our process for a stranger.
    deadline = time.monotonic() + 2
    while not _argv(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    pidfile.write_text(f"{proc.pid}\n")
    log.info("%s: started pid %d, log %s", name, proc.pid, logfile)
    return proc.pid


def wait_for(
    name: str,
    ready: Callable[[], bool],
    timeout: float,
    logfile: Path,
    pid: int | None = None,
    hint: str = "",
) -> None:
    """Poll ready() until it is true; fail early if pid dies, and at timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if pid is not None and not _alive(pid):
            raise PlatformError(
                f"{name} exited during start-up. Last lines of {logfile}:\n{tail(logfile)}\n{hint}"
            )
        time.sleep(0.3)
    raise PlatformError(
        f"{name} did not answer within {timeout:.0f} s. Last lines of {logfile}:\n"
        f"{tail(logfile)}\n{hint}"
    )


def stop(name: str, pidfile: Path, markers: Sequence[str], timeout: float = 30.0) -> bool:
    """SIGTERM the process we started, wait, then SIGKILL its group. False if none ran."""
    pid = running_pid(pidfile, markers)
    if pid is None:
        return False
    log.info("%s: stopping pid %d", name, pid)
    with contextlib.suppress(ProcessLookupError):  # it may have just exited
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid) and is_ours(pid, markers):
        log.warning("%s: pid %d ignored SIGTERM for %.0f s, killing it", name, pid, timeout)
        # We started it as a session leader, so its group holds its helpers too.
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    pidfile.unlink(missing_ok=True)
    return True
