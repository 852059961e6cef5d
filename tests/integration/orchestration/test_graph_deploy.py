"""The deploy job against the real platform: from training data to a digest in the registry.

One module-wide Dagster instance and models container; the repository's own git history
is the app source, and temporary clones carry the commits a test needs.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace

import kubernetes
import pytest
import requests
from dagster import AssetKey, AssetMaterialization, instance_for_test, materialize

from devplatform import k8s_node
from devplatform.layout import Layout
from liveline import images, k8s, settings
from liveline.constants import MANIFEST_V2
from liveline.images import smoke
from orchestration.definitions import ASSETS, CHECKS, defs, resources
from orchestration.resources.cluster import ClusterResource
from tests.support.gitrepo import git

pytestmark = pytest.mark.integration

REPOSITORY = "liveline/serving-graph-test"
ASSET_NAMES = {a.key.to_user_string() for a in ASSETS}
ROLLOUT = ["app_source", "serving_image", "registry_image", "cluster_deployment"]
NODE_PORT = 30081  # pinned for this module's deployments (30080 is make demo's)


@pytest.fixture(scope="module")
def graph(docker_client, blob_service, registry_url, kube_api):
    """The deploy job run once, configured through LIVELINE_* as in production."""
    container = f"test-graph-{uuid.uuid4().hex[:12]}"
    with pytest.MonkeyPatch.context() as env, instance_for_test() as instance:
        env.setenv("LIVELINE_MODELS_CONTAINER", container)
        env.setenv("LIVELINE_SERVING_REPOSITORY", REPOSITORY)
        env.setenv("LIVELINE_K8S_NAMESPACE", container)
        env.setenv("LIVELINE_K8S_NODE_PORT", str(NODE_PORT))
        env.delenv("LIVELINE_MODEL_GATE", raising=False)
        result = defs().resolve_job_def("deploy").execute_in_process(instance=instance)
        ns = SimpleNamespace(
            instance=instance,
            result=result,
            deployed={name: facts(instance, name) for name in ASSET_NAMES if result.success},
            container=blob_service.get_container_client(container),
            docker=docker_client,
            registry_url=registry_url,
            throwaway=[],  # images of commits made up by a test
            kube=kube_api,
            namespace=container,
        )
        yield ns
    blob_service.delete_container(container)
    kubernetes.client.CoreV1Api(kube_api).delete_namespace(container)
    for image_id in ns.throwaway:
        docker_client.images.remove(image_id, force=True)


def facts(instance, name: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(name))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def data_versions(result) -> dict[str, str]:
    return {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.tags[
            "dagster/data_version"
        ]
        for e in result.get_asset_materialization_events()
    }


def layers(docker_client, image_id: str) -> list[str]:
    return docker_client.images.get(image_id).attrs["RootFS"]["Layers"]


def clone_at(tmp_path: Path, source: str, revision: str) -> Path:
    repo = tmp_path / "app"
    subprocess.run(["git", "clone", "-q", source, str(repo)], check=True, timeout=60)
    git(repo, "checkout", "-q", "-B", "main", revision)
    return repo


def build(graph, run_config: dict, selection: list[str]):
    result = materialize(
        [*ASSETS, *CHECKS],
        instance=graph.instance,
        resources=resources(settings.load()),
        selection=selection,
        run_config={"ops": run_config},
    )
    assert all(c.passed for c in result.get_asset_check_evaluations())
    return facts(graph.instance, "serving_image")


def test_deploy_materializes_every_asset_and_passes_every_check(graph):
    assert graph.result.success
    assert set(data_versions(graph.result)) == ASSET_NAMES
    checks = {c.check_name: c.passed for c in graph.result.get_asset_check_evaluations()}
    assert checks == {"quality_gate": True, "smoke_test": True}


def test_data_versions_and_metadata_trace_the_lineage(graph):
    versions = data_versions(graph.result)
    source, image, pushed = (
        facts(graph.instance, n) for n in ("app_source", "serving_image", "registry_image")
    )
    data, model = facts(graph.instance, "training_data"), facts(graph.instance, "trained_model")
    version = model["model_version"]
    assert versions["training_data"] == data["fingerprint"]
    assert versions["trained_model"] == versions["model_blob"] == version
    assert versions["app_source"] == source["sha"]
    assert git(settings.REPO_ROOT, "cat-file", "-t", source["sha"]) == "commit"
    assert source["repository"] == str(settings.REPO_ROOT)
    assert versions["serving_image"] == image["image_id"]
    labels = graph.docker.images.get(image["image_id"]).labels
    assert labels["org.opencontainers.image.revision"] == source["sha"]
    assert labels["io.liveline.model.version"] == version
    assert image["tag"] == f"{source['sha'][:12]}-{version}"
    assert versions["registry_image"] == pushed["digest"]
    assert pushed["reference"] == f"{settings.load().registry}/{REPOSITORY}@{pushed['digest']}"
    head = requests.head(
        f"{graph.registry_url}/v2/{REPOSITORY}/manifests/{pushed['tag']}",
        headers={"Accept": MANIFEST_V2},
        timeout=10,
    )
    assert head.headers["Docker-Content-Digest"] == pushed["digest"]


def test_the_model_is_in_blob_storage_and_no_secret_in_metadata(graph):
    blob, model = facts(graph.instance, "model_blob"), facts(graph.instance, "trained_model")
    names = {b.name: b for b in graph.container.list_blobs(include=["metadata"])}
    prefix = f"{model['model_name']}/{model['model_version']}"
    journal = {n for n in names if n.startswith("_journal/")}
    assert [n.endswith(f"/{prefix}") for n in journal] == [True]
    assert set(names) - journal == {
        f"{prefix}/model.onnx",
        f"{prefix}/model.skops",
        f"{prefix}/model_card.json",
    }
    assert names[f"{prefix}/model.skops"].metadata["sha256"] == blob["artifact_sha256"]
    assert blob["card_url"].endswith(f"{graph.container.container_name}/{prefix}/model_card.json")
    assert graph.container.get_container_properties().public_access is None
    for name in ASSET_NAMES:
        assert settings.AZURITE_KEY not in str(facts(graph.instance, name))


def test_code_only_change_rebuilds_only_the_code_layer(graph, tmp_path):
    before, source = graph.deployed["serving_image"], graph.deployed["app_source"]
    repo = clone_at(tmp_path, source["repository"], before["revision"])
    with (repo / "serving" / "__init__.py").open("a") as f:
        f.write(f"# code-only change {uuid.uuid4().hex}\n")
    git(repo, "commit", "-qam", "code-only change")
    after = build(graph, {"app_source": {"config": {"repo": str(repo)}}}, ROLLOUT)
    assert after["revision"] == git(repo, "rev-parse", "HEAD")
    assert_live(graph, after)
    assert after["model_version"] == before["model_version"]
    old, new = layers(graph.docker, before["image_id"]), layers(graph.docker, after["image_id"])
    # Base and dependency layers are reused, the code layer is new, and the model layer
    # above it is rebuilt byte for byte the same (serving/Dockerfile: ADD model.tar).
    assert len(new) == len(old)
    assert new[:-2] == old[:-2]
    assert new[-2] != old[-2]
    assert new[-1] == old[-1]
    assert len(set(new) - set(old)) == 1
    graph.throwaway.append(after["image_id"])


def test_model_only_change_rebuilds_only_the_model_layer(graph):
    before, source = graph.deployed["serving_image"], graph.deployed["app_source"]
    materialize(
        [*ASSETS, *CHECKS],
        instance=graph.instance,
        resources=resources(settings.load()),
        selection=["trained_model", "model_blob"],
        run_config={"ops": {"trained_model": {"config": {"params": {"C": 0.5}}}}},
    )
    published = facts(graph.instance, "model_blob")
    assert published["model_version"] != before["model_version"]
    app = {"repo": source["repository"], "commit": before["revision"]}
    after = build(graph, {"app_source": {"config": app}}, ROLLOUT)
    assert after["model_version"] == published["model_version"]  # the newest published
    assert_live(graph, after)
    assert after["revision"] == before["revision"]
    old, new = layers(graph.docker, before["image_id"]), layers(graph.docker, after["image_id"])
    assert len(new) == len(old)
    assert new[:-1] == old[:-1]
    assert new[-1] != old[-1]


def assert_live(graph, image: dict) -> None:
    """The cluster runs what was just built and pushed, with that lineage."""
    pushed = facts(graph.instance, "registry_image")
    assert pushed["image_id"] == image["image_id"]
    live = k8s.live(graph.kube, graph.namespace, "liveline-serving")
    assert live.image == pushed["reference"]
    assert live.annotations[k8s.A_CODE] == image["revision"]
    assert live.annotations[k8s.A_MODEL] == image["model_version"]
    assert live.replicas_ready == 2


def test_an_unchanged_rebuild_keeps_its_image_id(graph):
    before = facts(graph.instance, "serving_image")
    source = facts(graph.instance, "app_source")
    app = {"repo": source["repository"], "commit": before["revision"]}
    after = build(graph, {"app_source": {"config": app}}, ["app_source", "serving_image"])
    assert after["image_id"] == before["image_id"]


def test_the_cluster_runs_the_pushed_digest_with_its_lineage(graph):
    pushed, live_facts = graph.deployed["registry_image"], graph.deployed["cluster_deployment"]
    assert data_versions(graph.result)["cluster_deployment"] == pushed["digest"]
    assert live_facts["image"] == pushed["reference"]
    assert live_facts["replicas_ready"] == 2
    # Later tests roll out other builds: compare with the latest deployment's lineage.
    latest = graph.instance.get_latest_materialization_event(AssetKey("cluster_deployment"))
    now = facts(graph.instance, "cluster_deployment")
    live = k8s.live(graph.kube, graph.namespace, "liveline-serving")
    assert live.image == now["image"]
    assert live.annotations[k8s.A_CODE] == now["code_revision"]
    assert live.annotations[k8s.A_MODEL] == now["model_version"]
    assert live.annotations[k8s.A_DIGEST] == now["digest"]
    assert live.annotations[k8s.A_RUN] == latest.run_id


def test_the_service_answers_on_the_pinned_node_port(graph):
    service = kubernetes.client.CoreV1Api(graph.kube).read_namespaced_service(
        "liveline-serving", graph.namespace
    )
    assert [p.node_port for p in service.spec.ports] == [NODE_PORT]
    url = f"http://127.0.0.1:{NODE_PORT}"
    smoke.wait_url_ready(url, timeout=30)
    live = k8s.live(graph.kube, graph.namespace, "liveline-serving")
    version = requests.get(f"{url}/version", timeout=5).json()
    assert version["code_revision"] == live.annotations[k8s.A_CODE]
    assert version["model_version"] == live.annotations[k8s.A_MODEL]


def test_a_rollout_that_never_becomes_ready_is_rolled_back(graph, tmp_path):
    """An image whose model fails to load (its artifact no longer matches its card) is in
    the registry: the real node never readies it, and the rollout is rolled back."""
    if not k8s_node.enabled(Layout(settings.load())):
        pytest.fail(
            "needs the real node (LIVELINE_CLUSTER_NODE=real, the default) to run the image"
        )
    before = k8s.live(graph.kube, graph.namespace, "liveline-serving")
    good = graph.deployed["registry_image"]
    (tmp_path / "Dockerfile").write_text(
        f"FROM {good['image_id']}\nUSER root\n"
        "RUN echo tampered >> /app/model/model.skops\nUSER 10001\n"
    )
    bad_image, _ = graph.docker.images.build(path=str(tmp_path), rm=True)
    graph.throwaway.append(bad_image.id)
    target = good["reference"].split("@")[0]
    bad_image.tag(target, "model-fails-to-load")
    digest = images.push(graph.docker, target, "model-fails-to-load")
    # As if registry_image had pushed it: only the cluster step runs.
    pushed = {**good, "reference": f"{target}@{digest}", "digest": digest,
              "image_id": bad_image.id, "tag": "model-fails-to-load"}  # fmt: skip
    graph.instance.report_runless_asset_event(
        AssetMaterialization("registry_image", metadata=pushed)
    )
    result = materialize(
        [*ASSETS, *CHECKS],
        instance=graph.instance,
        # The test's patience, not production's 60 s.
        resources={
            **resources(settings.load()),
            "cluster": ClusterResource.from_settings(settings.load(), progress_deadline_s=15),
        },
        selection=["cluster_deployment"],
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.event_specific_data.error)
    assert "missed its progress deadline" in message
    assert f"Rolled back to revision {before.revision}" in message
    after = k8s.live(graph.kube, graph.namespace, "liveline-serving")
    assert after.image == before.image
    assert after.replicas_ready == 2
    assert facts(graph.instance, "cluster_deployment")["image"] == before.image
