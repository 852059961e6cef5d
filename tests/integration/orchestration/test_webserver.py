"""The Dagster webserver loads the code location and serves the graph with its lineage."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from liveline import settings
from tests.unit.orchestration.test_definitions import EDGES

pytestmark = pytest.mark.integration

QUERY = """{
  workspaceOrError { __typename ... on Workspace { locationEntries { name
      locationOrLoadError { __typename ... on PythonError { message } } } } }
  assetNodes { assetKey { path } dependencyKeys { path } groupName description }
}"""


@pytest.fixture(scope="module")
def webserver(tmp_path_factory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copyfile(settings.REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("dagster-webserver")
    log = (home / "webserver.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=settings.REPO_ROOT, env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (home / "webserver.log").read_text()
            try:
                if requests.get(f"{base}/server_info", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "webserver not up in 120 s"
            time.sleep(0.5)
        yield base
    finally:
        # The webserver handles SIGINT; it runs in its own group so the signal reaches it.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_webserver_loads_the_location_and_shows_the_lineage(webserver):
    r = requests.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=60)
    r.raise_for_status()
    data = r.json()["data"]
    entries = data["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in entries] == ["liveline"]
    assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries
    graph = {
        node["assetKey"]["path"][-1]: {d["path"][-1] for d in node["dependencyKeys"]}
        for node in data["assetNodes"]
    }
    assert graph == EDGES
    assert all(node["description"] for node in data["assetNodes"])
