"""`up`, `down` and `status` end to end, without disturbing the shared platform.

Others use the running registry, Azurite and engine while tests run, so the down/up cycle
runs on a second, isolated instance: its own state folder and free ports, sharing only
the engine. From that instance the engine is someone else's, which is exactly the case
where `down` must leave it alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import devplatform
from devplatform import azurite, docker_engine, k8s_node
from devplatform.layout import Layout
from devplatform.report import Status
from liveline.settings import env_name

pytestmark = pytest.mark.integration


@dataclasses.dataclass(frozen=True)
class _SharedNpmLayout(Layout):
    """Reuses the main instance's installed Azurite package instead of a new `npm ci`."""

    npm_dir: Path = Path()

    @property
    def azurite_dir(self) -> Path:
        return self.npm_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def isolated(local_platform: Layout, tmp_path: Path) -> Iterator[Layout]:
    settings = dataclasses.replace(
        local_platform.settings,
        state_dir=tmp_path / "state",
        registry_port=_free_port(),
        azurite_port=_free_port(),
        # The shared cluster, seen as an external one: no second build or cluster.
        kubeconfig=str(local_platform.settings.kubeconfig_path),
    )
    lay = _SharedNpmLayout(settings, npm_dir=local_platform.azurite_dir)
    yield lay
    devplatform.down(lay)  # whatever the test left running


def _cli(lay: Layout, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    for field in ("state_dir", "registry_port", "azurite_port"):
        env[env_name(field)] = str(getattr(lay.settings, field))
    return subprocess.run([sys.executable, "-m", "devplatform", *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def _by_name(statuses: list[Status]) -> dict[str, Status]:
    return {s.component: s for s in statuses}


def test_up_down_status_and_a_fast_second_up(isolated: Layout) -> None:
    first = _by_name(devplatform.up(isolated))
    assert all(s.running for s in first.values()), first
    assert first["docker-engine"].note == "external"
    assert first["registry"].note == first["azurite"].note == "started by liveline"

    with azurite.blob_service(isolated) as blobs:
        blobs.create_container("kept").upload_blob("blob", b"survives a restart")

    assert sorted(devplatform.down(isolated)) == ["azurite", "registry"]
    after = _by_name(devplatform.status(isolated))
    assert not after["registry"].running and not after["azurite"].running
    assert after["docker-engine"].running, "down stopped an engine it did not start"
    cli = _cli(isolated, "status")
    assert cli.returncode == 3, cli.stdout + cli.stderr
    assert re.search(r"^registry\s+stopped", cli.stdout, re.M), cli.stdout
    assert re.search(r"^azurite\s+stopped", cli.stdout, re.M), cli.stdout

    started = time.monotonic()
    devplatform.up(isolated)  # restarts the two services, installs nothing
    assert time.monotonic() - started < 10
    started = time.monotonic()
    again = _by_name(devplatform.up(isolated))  # everything already runs
    assert time.monotonic() - started < 10
    assert all(s.running for s in again.values()), again
    with azurite.blob_service(isolated) as blobs:
        kept = blobs.get_blob_client("kept", "blob").download_blob().readall()
    assert kept == b"survives a restart", "Azurite data should live in the state folder"


def test_up_of_the_running_platform_starts_nothing_and_reports_all(local_platform: Layout) -> None:
    pids = {f.stem: f.read_text() for f in local_platform.run.glob("*.pid")}
    cli = subprocess.run([sys.executable, "-m", "devplatform", "up"],
                         capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    # Nothing was started again: every process still the one that ran before.
    assert {f.stem: f.read_text() for f in local_platform.run.glob("*.pid")} == pids
    rows = {line.split()[0]: line.split()[1] for line in cli.stdout.splitlines()[1:] if line}
    # Always these; the real node, SeaweedFS and MLflow where chosen or started by a test.
    required = {"docker-engine", "registry", "azurite", "kubernetes", "base-image"}
    required |= {"k8s-node"} if k8s_node.enabled(local_platform) else set()
    assert required <= set(rows), cli.stdout
    assert set(rows.values()) <= {"running", "present"}, cli.stdout


def test_down_leaves_an_engine_it_did_not_start_alone(
    local_platform: Layout, tmp_path: Path
) -> None:
    stranger_view = Layout(dataclasses.replace(local_platform.settings, state_dir=tmp_path))
    assert docker_engine.status(stranger_view).note == "external"
    assert docker_engine.down(stranger_view) is False
    assert docker_engine.version(local_platform) is not None
