"""The local MLflow tracking server: it starts, keeps its data in the state folder, and a
model registered the way a user does it (the real mlflow client) shows in the registry."""

from __future__ import annotations

import os
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest
import requests

import devplatform
from devplatform import layout, mlflow
from devplatform.layout import Layout

pytestmark = pytest.mark.integration

# Logs and registers a tiny skops model; pip_requirements skips MLflow's slow inference
# of them (8-16 s in a subprocess).
REGISTER = textwrap.dedent("""
    import sys
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    X = [[float(i), float(i % 3)] for i in range(20)]
    y = [i % 2 for i in range(20)]
    model = LogisticRegression().fit(X, y)
    mlflow.sklearn.log_model(model, name="model", serialization_format="skops",
                             pip_requirements=["scikit-learn"],
                             registered_model_name=sys.argv[1])
""")


@pytest.fixture(scope="module")
def server() -> Layout:
    """The local tracking server, started whatever the settings choose."""
    lay = layout.load()
    try:
        devplatform.control.up_mlflow(lay)
    except devplatform.PlatformError as e:
        pytest.fail(f"the local MLflow server could not come up:\n{e}", pytrace=False)
    return lay


def _get(lay: Layout, path: str, **params: str) -> requests.Response:
    return requests.get(lay.settings.local_mlflow_url + path, params=params, timeout=10)


def test_health_and_status(server: Layout) -> None:
    health = _get(server, "/health")
    assert health.status_code == 200, health.text
    row = mlflow.status(server)
    assert row.running, row
    assert row.version == _get(server, "/version").text.strip()
    assert row.version[0].isdigit(), row.version
    assert row.note == "started by liveline"


def test_registers_a_model_with_the_real_client(server: Layout, tmp_path: Path) -> None:
    name = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        **mlflow.quiet_env(server),
        "MLFLOW_TRACKING_URI": server.settings.local_mlflow_url,
    }
    # cwd: a client that misses the tracking URI would write ./mlflow.db and ./mlruns.
    done = subprocess.run(
        [str(mlflow.python(server)), "-c", REGISTER, name],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(tmp_path.iterdir()), "the client wrote locally instead of to the server"

    got = _get(server, "/api/2.0/mlflow/registered-models/get", name=name)
    assert got.status_code == 200, got.text
    versions = got.json()["registered_model"]["latest_versions"]
    assert [v["version"] for v in versions] == ["1"]

    # The server keeps the registry and the artifacts in the state folder.
    data = mlflow.data(server)
    assert data.is_relative_to(server.state)
    assert (data / "mlflow.db").stat().st_size > 0
    skops_files = list((data / "artifacts").rglob("model.skops"))
    assert skops_files, f"no model.skops under {data / 'artifacts'}"
    source = versions[0]["source"]  # models:/m-<id>: the LoggedModel holding model.skops
    assert any(source.split("/")[-1] in str(p) for p in skops_files), (source, skops_files)
