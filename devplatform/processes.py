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
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from liveline.runlog import tail

log = logging.getLogger(__name__)


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
    # A zombie has exited (its parent, init, has not reaped it yet).
    return not zombie


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


# Services are started by a short-lived launcher that forks the service into a session
# of its own and exits at once: the service is then not our child (init reaps it), so no
# Popen object is left for Python to warn "subprocess N is still running" about when the
# interpreter that ran `make up` or the tests exits. Hand-written: subprocess has no
# detached start, and the pid is needed for the pidfile.
# The launcher prints the pid only once the exec has happened (or failed): the child holds
# a close-on-exec pipe that the launcher reads to its end, so the caller never sees the
# pid while it still runs the launcher's own Python.
_LAUNCHER = """import os, sys
r, w = os.pipe()  # close-on-exec (PEP 446)
pid = os.fork()
if pid:
    os.close(w)
    os.read(r, 1)  # end of file at the child's exec (or its exit)
    print(pid, flush=True)
    os._exit(0)
os.close(r)
os.setsid()
os.dup2(2, 1)  # stdout to the log too (fd 1 was the pipe the pid went through)
try:
    os.execvp(sys.argv[1], sys.argv[1:])
except OSError as e:
    print(f"cannot run {sys.argv[1]}: {e}", file=sys.stderr, flush=True)
    os._exit(127)
"""
LAUNCH_TIMEOUT_S = 30.0


def start(
    name: str,
    cmd: Sequence[str],
    pidfile: Path,
    logfile: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start cmd detached, in a new session, with output appended to logfile; write its
    pidfile. env: variables added to ours."""
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as out:
        out.write(f"\n=== {time.strftime('%F %T')} liveline starts {name}: {cmd}\n".encode())
        out.flush()
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *cmd],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=out,
            timeout=LAUNCH_TIMEOUT_S,
            check=True,
            env=None if env is None else {**os.environ, **env},
        )
    pid = int(launched.stdout.split()[0])
    # Right after exec, /proc/PID/cmdline can still read empty: wait for it, so an
    # is_ours() check straight after start does not take our process for a stranger.
    deadline = time.monotonic() + 2
    while not _argv(pid) and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    pidfile.write_text(f"{pid}\n")
    log.info("%s: started pid %d, log %s", name, pid, logfile)
    return pid


def ensure_started(
    name: str,
    pidfile: Path,
    markers: Sequence[str],
    command: Callable[[], Sequence[str]],
    ready: Callable[[], bool],
    timeout: float,
    logfile: Path,
    hint: str = "",
    env: Mapping[str, str] | None = None,
) -> int:
    """Start command() (with env added to ours) unless our process already runs from
    pidfile, then wait until ready(); the pid."""
    pid = running_pid(pidfile, markers)
    if pid is None:
        pid = start(name, command(), pidfile, logfile, env)
    wait_for(name, ready, timeout, logfile, pid, hint=hint)
    return pid


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


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group pgid."""
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(proc.pid) == pgid and _alive(proc.pid):
                members.append(proc.pid)
    return members


def stop(
    name: str,
    pidfile: Path,
    markers: Sequence[str],
    timeout: float = 30.0,
    group: bool = False,
) -> bool:
    """SIGTERM the process we started, wait, then SIGKILL its group. False if none ran.
    group: also wait for the rest of its process group (its children), which a leader
    that forwards SIGTERM may leave still exiting, and SIGKILL what remains at timeout."""
    pid = running_pid(pidfile, markers)
    if pid is None:
        return False
    log.info("%s: stopping pid %d", name, pid)
    with contextlib.suppress(ProcessLookupError):  # it may have just exited
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout

    def waiting() -> bool:
        return _alive(pid) or (group and bool(_group(pid)))

    while waiting() and time.monotonic() < deadline:
        time.sleep(0.2)
    # The group id stays reserved while any member lives, so it still names our group.
    if (_alive(pid) and is_ours(pid, markers)) or (group and _group(pid)):
        log.warning("%s: pid %d ignored SIGTERM for %.0f s, killing it", name, pid, timeout)
        # We started it as a session leader, so its group holds its helpers too.
        with contextlib.suppress(ProcessLookupError):  # the group emptied meanwhile
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while waiting() and time.monotonic() < deadline:
            time.sleep(0.2)
    pidfile.unlink(missing_ok=True)
    return True
