"""`liveline status` and `liveline rollback` on a namespace of their own, against the real
cluster, registry, Azurite and a Dagster instance.

Two releases are rolled out by the real cluster_deployment asset, each a tiny image
pushed to the local registry (kwok runs pods without pulling), with real commits of this
repository as their code revisions and the published test model as their model.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid
from types import SimpleNamespace

import kubernetes
import pytest
import requests
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterRun,
    DagsterRunStatus,
    MetadataValue,
    instance_for_test,
    materialize,
)

from liveline import images, k8s, modelstore, settings
from liveline.modelstore import AzureBucket
from liveline_cli import rollback, status
from orchestration.definitions import ASSETS, CHECKS, resources
from orchestration.facts import PushedImageFacts

pytestmark = pytest.mark.integration

REPOSITORY = "127.0.0.1:5000/liveline/status-test"
DEPLOYMENT = AssetKey("cluster_deployment")


def tiny_image(docker_client, tag: str, base: str) -> str:
    """A runnable image of its own (base plus a label) pushed to the local registry; its
    digest."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        dockerfile = f"FROM {base}\nLABEL io.liveline.test.id={tag}\n".encode()
        for name, content in (("Dockerfile", dockerfile),):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    data.seek(0)
    docker_client.images.build(fileobj=data, custom_context=True, tag=f"{REPOSITORY}:{tag}")
    return images.push(docker_client, REPOSITORY, tag)


def roll_out(env, digest: str, revision: str) -> str:
    """Roll a release out with the real cluster_deployment asset; its run id."""
    pushed = PushedImageFacts(f"{REPOSITORY}@{digest}", "", digest, "", revision,
                              env.model.version)  # fmt: skip
    env.instance.report_runless_asset_event(
        AssetMaterialization("registry_image", metadata=pushed.to_metadata())
    )
    result = materialize(
        [*ASSETS, *CHECKS],
        instance=env.instance,
        resources=resources(settings.load()),
        selection=["cluster_deployment"],
    )
    return result.run_id


@pytest.fixture(scope="module")
def env(docker_client, blob_service, kube_api, registry_url, model_dir_pristine, serving_build):
    name = f"test-status-{uuid.uuid4().hex[:8]}"
    tags = [uuid.uuid4().hex[:12] for _ in range(2)]
    revisions = subprocess.run(
        ["git", "-C", str(settings.REPO_ROOT), "log", "-2", "--format=%H"],
        capture_output=True, text=True, check=True,
    ).stdout.split()[::-1]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp, instance_for_test() as instance:
        mp.setenv("LIVELINE_K8S_NAMESPACE", name)
        mp.setenv("LIVELINE_MODELS_CONTAINER", name)
        container = blob_service.get_container_client(name)
        model = modelstore.publish(AzureBucket(container), model_dir_pristine).model
        e = SimpleNamespace(instance=instance, namespace=name, model=model, api=kube_api,
                            home=instance.root_directory, revisions=revisions)  # fmt: skip
        metrics = {k: MetadataValue.float(v) for k, v in model.card["metrics"].items()}
        instance.report_runless_asset_event(
            AssetMaterialization(
                "trained_model",
                metadata={"model_name": model.name, "model_version": model.version, **metrics},
            )
        )
        e.digests = [tiny_image(docker_client, tag, serving_build) for tag in tags]
        e.runs = [roll_out(e, d, r) for d, r in zip(e.digests, revisions, strict=True)]
        yield e
        container.delete_container()
        kubernetes.client.CoreV1Api(kube_api).delete_namespace(name)
    for tag, digest in zip(tags, e.digests, strict=True):
        docker_client.images.remove(f"{REPOSITORY}:{tag}", force=True)
        path = REPOSITORY.partition("/")[2]
        requests.delete(f"{registry_url}/v2/{path}/manifests/{digest}", timeout=10)


def run_json(capsys, *args: str) -> dict:
    assert status.main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_status_reports_the_live_release_with_its_lineage(env, capsys):
    report = run_json(capsys, "--dagster-home", env.home)
    assert report["namespace"] == env.namespace
    assert report["image"] == f"{REPOSITORY}@{env.digests[1]}"
    assert report["replicas_ready"] == 2
    commit = report["commit"]
    assert commit["sha"] == env.revisions[1] and commit["source"] == "git"
    subject = subprocess.run(
        ["git", "-C", str(settings.REPO_ROOT), "show", "-s", "--format=%s", env.revisions[1]],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert commit["message"].splitlines()[0] == subject
    model = report["model"]
    assert (model["version"], model["source"]) == (env.model.version, "dagster")
    assert model["metrics"] == pytest.approx(env.model.card["metrics"])
    deployed = report["deployed"]
    assert deployed["run_id"] == env.runs[1]
    assert (deployed["run_status"], deployed["source"]) == ("SUCCESS", "dagster")
    assert report["drift"] == []


def test_status_needs_no_dagster_instance(env, capsys):
    report = run_json(capsys, "--no-dagster")
    assert report["image"] == f"{REPOSITORY}@{env.digests[1]}"
    assert report["commit"]["source"] == "git"
    assert report["model"]["source"] == "model card"
    assert report["model"]["metrics"] == pytest.approx(env.model.card["metrics"])
    assert report["deployed"]["run_id"] == env.runs[1]
    assert report["deployed"]["source"] == "cluster (ReplicaSet created)"
    assert status.main(["--no-dagster"]) == 0
    text = capsys.readouterr().out
    assert f"image     {REPOSITORY}@{env.digests[1]}" in text
    assert f"commit    {env.revisions[1][:12]}" in text
    assert "drift     none" in text


def test_rollback_redeploys_the_previous_digest_and_records_it(env, capsys):
    before = k8s.live(env.api, env.namespace, "liveline-serving")
    busy = DagsterRun(job_name="deploy", status=DagsterRunStatus.STARTED,
                      tags={"liveline/deploy": "true"})  # fmt: skip
    env.instance.add_run(busy)
    assert rollback.main(["--dagster-home", env.home]) == 1  # a deploy is running
    env.instance.delete_run(busy.run_id)

    assert rollback.main(["--dagster-home", env.home]) == 0
    after = k8s.live(env.api, env.namespace, "liveline-serving")
    assert after.image == f"{REPOSITORY}@{env.digests[0]}"
    assert after.replicas_ready == 2
    assert after.annotations[k8s.A_CODE] == env.revisions[0]
    assert after.annotations[k8s.A_ROLLED_BACK] == before.revision
    event = env.instance.get_latest_materialization_event(DEPLOYMENT)
    recorded = event.asset_materialization
    assert event.run_id == ""  # recorded outside any run
    assert recorded.tags["dagster/data_version"] == env.digests[0]
    facts = {k: v.value for k, v in recorded.metadata.items()}
    assert facts["rollback"] is True
    assert facts["rolled_back_from_digest"] == env.digests[1]
    assert facts["restored_from_run"] == env.runs[0]
    assert facts["image"] == after.image

    report = run_json(capsys, "--dagster-home", env.home)
    assert report["image"] == after.image
    assert report["rolled_back_from_revision"] == before.revision
    assert report["deployed"]["by"].startswith("liveline rollback")
    assert report["drift"] == []

    # Nothing verified is older than the release rolled back to: refuse, change nothing.
    assert rollback.main(["--dagster-home", env.home]) == 1
    assert k8s.live(env.api, env.namespace, "liveline-serving").image == after.image

    # Without Dagster: the previous ReplicaSet's pod template, as `kubectl rollout undo`.
    assert rollback.main(["--no-dagster"]) == 0
    undone = k8s.live(env.api, env.namespace, "liveline-serving")
    assert undone.image == before.image
