"""Pidfile discipline: we stop what we started, never a stranger, and fail with reasons."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from devplatform import processes

pytestmark = pytest.mark.integration


def test_start_then_stop_removes_process_and_pidfile(tmp_path: Path) -> None:
    pidfile, logfile = tmp_path / "run" / "sleeper.pid", tmp_path / "sleeper.log"
    pid = processes.start("sleeper", ["sleep", "300"], pidfile, logfile)
    assert processes.running_pid(pidfile, ["sleep", "300"]) == pid

    assert processes.stop("sleeper", pidfile, ["sleep", "300"], timeout=10)
    assert not Path(f"/proc/{pid}").exists() or not processes.is_ours(pid, ["sleep"])
    assert not pidfile.exists()
    assert "liveline starts sleeper" in logfile.read_text()


def test_stop_never_kills_a_stranger_behind_a_pidfile(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "301"])
    try:
        pidfile = tmp_path / "dockerd.pid"
        pidfile.write_text(f"{stranger.pid}\n")  # e.g. a pid recycled after a reboot
        assert not processes.stop("docker-engine", pidfile, ["dockerd", str(tmp_path)])
        assert stranger.poll() is None, "the stranger was killed"
        assert not pidfile.exists(), "a stale pidfile should be cleaned up"
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_kills_the_group_when_sigterm_is_ignored(tmp_path: Path) -> None:
    cmd = ["sh", "-c", "trap '' TERM; sleep 302 & wait"]
    markers = ["sh", cmd[2]]
    pidfile = tmp_path / "stubborn.pid"
    pid = processes.start("stubborn", cmd, pidfile, tmp_path / "stubborn.log")
    time.sleep(0.3)  # let the shell install its trap
    started = time.monotonic()
    assert processes.stop("stubborn", pidfile, markers, timeout=1)
    assert time.monotonic() - started < 10
    assert not processes.is_ours(pid, markers)
    assert subprocess.run(["pgrep", "-f", "sleep 302"], check=False).returncode == 1


def test_a_process_that_dies_at_start_fails_with_its_log(tmp_path: Path) -> None:
    logfile = tmp_path / "broken.log"
    cmd = ["sh", "-c", "echo 'cannot bind 127.0.0.1:1: permission denied'; exit 3"]
    pid = processes.start("broken", cmd, tmp_path / "broken.pid", logfile)
    with pytest.raises(processes.PlatformError) as failed:
        processes.wait_for("broken", lambda: False, 20, logfile, pid, hint="Free the port.")
    message = str(failed.value)
    assert "broken exited during start-up" in message
    assert "permission denied" in message and "Free the port." in message


def test_every_wait_has_a_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(processes.PlatformError, match="did not answer within"):
        processes.wait_for("silent", lambda: False, 0.5, tmp_path / "silent.log")
    assert time.monotonic() - started < 5


def test_a_started_service_is_detached_so_no_popen_is_left_behind(tmp_path: Path) -> None:
    """The service is not this interpreter's child (a launcher forked it and exited), so
    exiting leaves no `subprocess N is still running` ResourceWarning."""
    pidfile, logfile = tmp_path / "detached.pid", tmp_path / "detached.log"
    pid = processes.start("detached", ["sleep", "300"], pidfile, logfile)
    try:
        assert psutil.Process(pid).ppid() != os.getpid()
        assert os.getsid(pid) == pid  # a session of its own: stop() can kill its group
        probe = subprocess.run(
            [sys.executable, "-W", "error::ResourceWarning", "-X", "dev", "-c",
             "from pathlib import Path; from devplatform import processes; "
             f"processes.start('x', ['sleep', '300'], Path({str(tmp_path / 'x.pid')!r}), "
             f"Path({str(tmp_path / 'x.log')!r}))"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert probe.returncode == 0 and "ResourceWarning" not in probe.stderr, probe.stderr
    finally:
        processes.stop("detached", pidfile, ["sleep", "300"], timeout=10)
        processes.stop("x", tmp_path / "x.pid", ["sleep", "300"], timeout=10)
