"""Process checks of the local platform (psutil): is a pid ours, running, a zombie; stop.

Each test starts a harmless `sleep` (or a shell waiting on one) and cleans it up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from devplatform import k8s_cluster, k8s_node, k8s_node_host, processes
from devplatform.k8s_node_config import NodeLayout
from devplatform.layout import Layout
from liveline.settings import Settings

SLEEP = shutil.which("sleep") or "/bin/sleep"


@pytest.fixture
def started(tmp_path):
    """Start processes the way the platform does; stop whatever is left afterwards."""
    pids: list[int] = []

    def start(*args: str, name: str = "sleeper") -> tuple[int, Path]:
        pidfile = tmp_path / "run" / f"{name}.pid"
        pid = processes.start(name, [SLEEP, *args], pidfile, tmp_path / "logs" / f"{name}.log")
        pids.append(pid)
        return pid, pidfile

    yield start
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_started_process_is_ours_and_running(started):
    pid, pidfile = started("30")
    assert processes.read_pid(pidfile) == pid
    assert processes._argv(pid) == [SLEEP, "30"]
    assert processes._alive(pid)
    # Markers are whole arguments, or an argument's basename.
    assert processes.is_ours(pid, ["sleep", "30"])
    assert processes.is_ours(pid, [SLEEP])
    assert not processes.is_ours(pid, ["sleep", "3"])
    assert not processes.is_ours(pid, ["slee"])
    assert processes.running_pid(pidfile, ["sleep", "30"]) == pid


def test_stop_terminates_reaps_and_removes_the_pidfile(started):
    pid, pidfile = started("30")
    assert processes.stop("sleeper", pidfile, ["sleep", "30"], timeout=10)
    assert not processes._alive(pid)
    assert gone(pid)
    assert not pidfile.exists()
    assert processes.stop("sleeper", pidfile, ["sleep", "30"]) is False  # nothing runs


def test_a_process_that_ignores_sigterm_is_killed(tmp_path):
    pidfile, marker = tmp_path / "stubborn.pid", str(tmp_path / "stubborn")
    cmd = ["sh", "-c", "trap '' TERM; sleep 30 & wait", marker]
    pid = processes.start("stubborn", cmd, pidfile, tmp_path / "stubborn.log")
    try:
        deadline = time.monotonic() + 5
        while not psutil.Process(pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)  # the trap is set once the shell runs its sleep
        assert processes.stop("stubborn", pidfile, ["sh", marker], timeout=0.5)
        assert not processes._alive(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def test_start_adds_env_to_ours(tmp_path):
    pidfile, out = tmp_path / "env.pid", tmp_path / "out"
    cmd = ["sh", "-c", 'printf %s "$LIVELINE_TEST_VALUE" > "$1.tmp" && mv "$1.tmp" "$1"',
           "sh", str(out)]  # fmt: skip
    processes.start("env", cmd, pidfile, tmp_path / "env.log", env={"LIVELINE_TEST_VALUE": "42"})
    deadline = time.monotonic() + 5
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.read_text() == "42"
    assert "LIVELINE_TEST_VALUE" not in os.environ


def test_stop_with_group_waits_for_children_and_kills_what_stays(tmp_path):
    """A leader that exits on SIGTERM but leaves a child ignoring it (as a supervisor
    whose worker is slow to exit would): group=True ends the child too."""
    pidfile, marker = tmp_path / "leader.pid", str(tmp_path / "leader")
    cmd = ["sh", "-c", "(trap '' TERM; exec sleep 30) & wait", marker]
    pid = processes.start("leader", cmd, pidfile, tmp_path / "leader.log")
    try:
        deadline = time.monotonic() + 5
        while not psutil.Process(pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        children = [c.pid for c in psutil.Process(pid).children(recursive=True)]
        assert children
        time.sleep(0.2)  # the child's trap is set before it execs sleep
        assert processes.stop("leader", pidfile, ["sh", marker], timeout=1, group=True)
        for child in children:
            wait_gone(child)
        assert not processes._group(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its parent (init: services are detached)
    has not reaped yet."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(pid)


def test_a_process_that_exited_is_never_ours_and_its_pidfile_is_stale(started):
    pid, pidfile = started("0.3")
    assert processes.is_ours(pid, ["sleep", "0.3"])
    deadline = time.monotonic() + 5
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(pid)
    assert processes._argv(pid) == []
    assert not processes.is_ours(pid, ["sleep", "0.3"])
    assert not processes._alive(pid)
    assert processes.running_pid(pidfile, ["sleep", "0.3"]) is None
    assert not pidfile.exists()  # a stale pidfile is removed


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "99999999999999999999"])
def test_a_corrupt_pidfile_names_no_process(tmp_path, text):
    pidfile = tmp_path / "x.pid"
    pidfile.write_text(text)
    assert processes.running_pid(pidfile, ["sleep"]) is None
    assert not pidfile.exists()


def test_a_stranger_on_the_pid_is_not_ours(tmp_path):
    pidfile = tmp_path / "x.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # this test's interpreter: not a sleep
    assert processes._alive(os.getpid())
    assert not processes.is_ours(os.getpid(), ["sleep"])
    assert processes.running_pid(pidfile, ["sleep"]) is None
    assert not pidfile.exists()


def test_apiserver_pid_from_kwokctls_pidfile(tmp_path, started):
    layout = Layout(Settings(state_dir=tmp_path / "state"))
    pidfile = k8s_cluster.workdir(layout) / "clusters" / "liveline" / "pids" / "kube-apiserver.pid"
    assert k8s_cluster.apiserver_pid(layout) is None  # no pid file
    pidfile.parent.mkdir(parents=True)
    pid, _ = started("30")
    pidfile.write_text(f"{pid}\n")
    assert k8s_cluster.apiserver_pid(layout) == pid
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    assert k8s_cluster.apiserver_pid(layout) is None
    pidfile.write_text("garbage")
    assert k8s_cluster.apiserver_pid(layout) is None


def test_proxy_predates_apiserver_by_start_time(tmp_path, started, monkeypatch):
    older, _ = started("30", name="older")
    time.sleep(0.05)  # start times count in clock ticks (10 ms)
    newer, _ = started("30", name="newer")
    layout = Layout(Settings(state_dir=tmp_path / "state"))
    n = NodeLayout(layout)

    def check(proxy: int | None, api: int | None) -> bool:
        monkeypatch.setattr(k8s_node, "_running", lambda n, component: proxy)
        monkeypatch.setattr(k8s_cluster, "apiserver_pid", lambda layout: api)
        return k8s_node._proxy_predates_apiserver(layout, n)

    assert check(older, newer) is True
    assert check(newer, older) is False
    assert check(None, newer) is False
    os.kill(newer, signal.SIGKILL)
    wait_gone(newer)
    assert check(older, newer) is False  # it just exited


def test_our_processes_are_those_running_from_the_node_folder(tmp_path):
    n = NodeLayout(Layout(Settings(state_dir=tmp_path / "state")))
    # $0 of the shell is a path in the node's folder, as containerd's and the shims' are.
    shell = subprocess.Popen(["sh", "-c", "sleep 30; :", f"{n.root}/bin/fake"])
    try:
        deadline = time.monotonic() + 5
        while not psutil.Process(shell.pid).children() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert k8s_node_host.our_processes(n) == [shell.pid]  # not its child `sleep 30`
        assert f"{n.root}/bin/fake" in k8s_node_host._cmdline(shell.pid)
        for child in psutil.Process(shell.pid).children():
            child.kill()
        deadline = time.monotonic() + 5
        while psutil.Process(shell.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert k8s_node_host.our_processes(n) == []  # a zombie is not left over
        assert k8s_node_host._cmdline(shell.pid) == ""
    finally:
        shell.kill()
        shell.wait()


def test_our_mounts_deepest_first(tmp_path, monkeypatch):
    n = NodeLayout(Layout(Settings(state_dir=tmp_path / "state")))
    part = namedtuple("part", "device mountpoint fstype opts")
    points = ["/", f"{n.root}", f"{n.root}/containerd/run/a", f"{n.root}2/x", f"{n.root}/c"]
    monkeypatch.setattr(
        psutil, "disk_partitions", lambda all: [part("", p, "", "") for p in points]
    )
    assert k8s_node_host._our_mounts(n) == [
        f"{n.root}/containerd/run/a",
        f"{n.root}/c",
        f"{n.root}",
    ]
