"""The team's own training, declared in a project file, goes live through the deploy job.

A Parquet table uploaded to a blob container (Azurite) and a liveline.toml naming it, a
regression entry point and a gate: nothing else changes. The deploy job (what `make demo`
runs) trains, gates, publishes, builds, smoke-tests, pushes and rolls out; the Service
answers what the trained estimator's own predict answers.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import kubernetes
import numpy as np
import pytest
import requests
import skops.io
from dagster import AssetKey, instance_for_test
from sklearn.datasets import load_diabetes

from liveline.images import smoke
from modelcard import ModelCard
from orchestration.definitions import defs
from tests.support import served

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployed(blob_service, kube_api, tmp_path_factory):
    tag = uuid.uuid4().hex[:12]
    data_container = blob_service.get_container_client(f"test-data-{tag}")
    data_container.create_container()
    table = load_diabetes(as_frame=True).frame
    buffer = io.BytesIO()
    table.to_parquet(buffer)
    data_container.upload_blob("diabetes/v1.parquet", buffer.getvalue())
    root = tmp_path_factory.mktemp("project")
    (root / "liveline.toml").write_text(
        "[training]\nmodel_name = 'diabetes-ridge'\n"
        "entry_point = 'tests.support.recipes:ridge'\nparams = { alpha = 1.0 }\n"
        "test_size = 0.2\n"
        "[training.data]\nblob = 'diabetes/v1.parquet'\n"
        f"container = '{data_container.container_name}'\n"
        "target = 'target'\n"
        "[gates]\nregression = { r2 = 0.3, rmse = 70 }\n"
    )
    namespace = f"test-project-{tag}"
    with pytest.MonkeyPatch.context() as env, instance_for_test() as instance:
        env.setenv("LIVELINE_PROJECT_FILE", str(root / "liveline.toml"))
        env.setenv("LIVELINE_MODELS_CONTAINER", namespace)
        env.setenv("LIVELINE_K8S_NAMESPACE", namespace)
        env.setenv("LIVELINE_SERVING_REPOSITORY", "liveline/serving-project-test")
        env.delenv("LIVELINE_MODEL_GATE", raising=False)
        result = (
            defs()
            .resolve_job_def("deploy")
            .execute_in_process(instance=instance, raise_on_error=False)
        )
        yield result, instance, namespace, table
    blob_service.delete_container(data_container.container_name)
    blob_service.delete_container(namespace)
    kubernetes.client.CoreV1Api(kube_api).delete_namespace(namespace)


def test_a_parquet_blob_and_a_project_file_train_a_regressor_that_goes_live(deployed, kube_api):
    result, instance, namespace, table = deployed
    assert result.success
    event = instance.get_latest_materialization_event(AssetKey("training_data"))
    assert event.asset_materialization.metadata["rows"].value == len(table) == 442
    trained = instance.get_latest_materialization_event(AssetKey("trained_model"))
    model_dir = Path(trained.asset_materialization.metadata["path"].value)
    card = ModelCard.read(model_dir)
    assert card.task == "regression" and card.model_name == "diabetes-ridge"
    assert card.raw["lineage"]["training_data"]["name"].startswith("blob test-data-")
    service = kubernetes.client.CoreV1Api(kube_api).read_namespaced_service(
        "liveline-serving", namespace
    )
    url = f"http://127.0.0.1:{service.spec.ports[0].node_port}"
    smoke.wait_url_ready(url, timeout=60)
    rows = table.drop(columns=["target"]).iloc[:40]
    r = requests.post(
        f"{url}/score", json={"instances": rows.to_dict(orient="records")}, timeout=10
    )
    assert r.status_code == 200, r.text
    assert r.headers["X-Model-Version"] == card.model_version
    artifact = model_dir / "model.skops"
    estimator = skops.io.load(artifact, trusted=skops.io.get_untrusted_types(file=artifact))
    assert r.headers["X-Model-Runtime"].startswith(served.runtime(card.raw))
    np.testing.assert_allclose(
        r.json()["predictions"], estimator.predict(rows), **served.tolerance(card.raw)
    )
