"""Models trained outside Liveline, with plain scikit-learn, go live by themselves.

With the Dagster daemon (`dagster dev`) watching a clone of this repository and a models
container of its own: a multiclass classifier with string labels published through the
Python API, then a regressor published through `liveline publish --estimator`, are each
picked up by the release sensor, built, smoke-tested, pushed and rolled out to the real
node; the Service then answers exactly what the estimator's own predict (and
predict_proba) answers on the same rows.
"""

from __future__ import annotations

import logging
import time

import kubernetes
import numpy as np
import pytest
import requests
import skops.io
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import liveline
from liveline import modelstore
from liveline.images import smoke
from liveline.modelstore import AzureBucket
from liveline_cli import publish
from tests.support import served
from tests.support.scenario import release_runs, scenario

pytestmark = pytest.mark.integration

LIVE_TIMEOUT_S = 240
TICK_S, SETTLE_S = 2, 2
SERVICE_SWITCH_S = 60


@pytest.fixture(scope="module")
def world(tmp_path_factory, local_platform):
    root = tmp_path_factory.mktemp("byom")
    with scenario(root, TICK_S, SETTLE_S) as sc, sc.instance() as sc.dagster:
        yield sc


def service_url(sc) -> str:
    service = kubernetes.client.CoreV1Api(sc.api).read_namespaced_service(
        sc.s.k8s_deployment, sc.s.k8s_namespace
    )
    return f"http://127.0.0.1:{service.spec.ports[0].node_port}"


def score(url: str, version: str, rows) -> dict:
    """/score's answer from the given model version: the pods of the previous one leave
    the Service's endpoints a moment after the rollout completes (their preStop pause)."""
    smoke.wait_url_ready(url, timeout=60)
    deadline = time.monotonic() + SERVICE_SWITCH_S
    while True:
        r = requests.post(f"{url}/score", json={"instances": rows}, timeout=10)
        if r.headers.get("X-Model-Version") == version:
            assert r.status_code == 200, r.text
            return r.json()
        assert time.monotonic() < deadline, f"{url} still serves {r.headers.get('X-Model-Version')}"
        time.sleep(0.5)


def test_a_multiclass_classifier_published_from_a_notebook_goes_live(world):
    data = load_wine(as_frame=True)
    labels = data.target.map(dict(enumerate(["barolo", "grignolino", "barbera"])))
    x_train, x_eval, y_train, y_eval = train_test_split(
        data.data, labels, test_size=0.3, random_state=0, stratify=labels
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x_train, y_train)
    published = liveline.publish_model(model, x_eval, y_eval, name="wine", settings=world.s)
    world.wait_live(world.head(), published.version, LIVE_TIMEOUT_S)
    run = release_runs(world.dagster)[0]
    assert run.tags["liveline/model"] == f"wine/{published.version}"
    body = score(service_url(world), published.version, x_eval.to_dict(orient="records"))
    assert body["classes"] == ["barbera", "barolo", "grignolino"]
    assert body["predictions"] == list(model.predict(x_eval))
    close = served.tolerance(published.card)
    np.testing.assert_allclose(body["probabilities"], model.predict_proba(x_eval), **close)
    version = requests.get(f"{service_url(world)}/version", timeout=5).json()
    assert version["task"] == "multiclass_classification"


def test_a_regressor_published_from_the_command_line_goes_live(world, tmp_path, caplog):
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x_train, x_eval, y_train, y_eval = train_test_split(x, y, test_size=0.3, random_state=0)
    model = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(x_train, y_train)
    skops.io.dump(model, tmp_path / "sugar.skops")
    x_eval.assign(progression=y_eval).to_parquet(tmp_path / "eval.parquet")
    caplog.set_level(logging.INFO, logger="liveline")
    args = ["--estimator", str(tmp_path / "sugar.skops"), "--eval-data",
            str(tmp_path / "eval.parquet"), "--target", "progression", "--name", "sugar",
            "--container", world.s.models_container, "--gate", "r2=0.2"]  # fmt: skip
    assert publish.main(args) == 0, caplog.text
    (version,) = {b.name.split("/")[1] for b in world.container.list_blobs("sugar/")}
    world.wait_live(world.head(), version, LIVE_TIMEOUT_S)
    rows = x_eval.iloc[:50]
    body = score(service_url(world), version, rows.to_dict(orient="records"))
    assert set(body) == {"model_name", "model_version", "predictions"}
    card = modelstore.get(AzureBucket(world.container), "sugar", version).card
    np.testing.assert_allclose(body["predictions"], model.predict(rows), **served.tolerance(card))
