"""The live-state sensor and the no_drift check against the real cluster, in a namespace
of their own: observations of what runs, and drift after the image is changed by hand."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import kubernetes
import pytest
from dagster import (
    AssetCheckKey,
    AssetMaterialization,
    AssetObservation,
    AssetSelection,
    DagsterRun,
    DagsterRunStatus,
    Definitions,
    build_sensor_context,
    define_asset_job,
    instance_for_test,
)

from devplatform import k8s_build, k8s_node
from liveline import k8s, settings
from liveline.constants import NO_DRIFT_CHECK
from orchestration.assets.live import cluster_deployment_no_drift
from orchestration.definitions import ASSETS, defs, resources
from orchestration.facts import DeploymentFacts
from orchestration.resources.cluster import ClusterResource

pytestmark = pytest.mark.integration

SENSOR = defs().resolve_sensor_def("cluster_live_sensor")
REPOSITORY = "127.0.0.1:5000/liveline/serving"
DIGESTS = ["sha256:" + c * 64 for c in "abc"]
NAME = "liveline-serving"
NO_DRIFT_KEY = AssetCheckKey.from_user_string(f"cluster_deployment:{NO_DRIFT_CHECK}")


@pytest.fixture
def cluster(local_platform, kube_api, monkeypatch):
    namespace = f"test-live-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LIVELINE_K8S_NAMESPACE", namespace)
    with instance_for_test() as instance:
        yield SimpleNamespace(
            instance=instance, api=kube_api, namespace=namespace, layout=local_platform, cursor=None
        )
    kubernetes.client.CoreV1Api(kube_api).delete_namespace(namespace)


def roll_out(c, digest: str, run_id: str = "run-test", record: bool = True) -> str:
    """Roll a release out as cluster_deployment does, and record it like the asset."""
    release = k8s.Release(REPOSITORY, digest, "c0ffee", "m1", run_id)
    kubectl = k8s_build.binary(c.layout, "kubectl")
    docs = k8s.render(
        settings.REPO_ROOT / "k8s/overlays/local", release, kubectl, namespace=c.namespace
    )
    # Made-up digests: only the kwok node "runs" them.
    k8s_node.on_simulated_node(docs)
    rollout = k8s.deploy(c.api, docs, c.namespace, NAME, timeout=60)
    if record:
        facts = DeploymentFacts(rollout.image, digest, "c0ffee", "m1", c.namespace, NAME)
        c.instance.report_runless_asset_event(
            AssetMaterialization("cluster_deployment", metadata=facts.to_metadata())
        )
    return rollout.image


def tick(c):
    context = build_sensor_context(
        instance=c.instance,
        cursor=c.cursor,
        resources={"cluster": ClusterResource.from_settings(settings.load())},
    )
    result = SENSOR.evaluate_tick(context)
    c.cursor = result.cursor
    for event in result.asset_events:  # as the daemon does with a tick's events
        c.instance.report_runless_asset_event(event)
    return result


def latest_check(c):
    record = c.instance.get_latest_asset_check_evaluation_record(NO_DRIFT_KEY)
    return record.event.asset_check_evaluation


def test_the_live_state_is_observed_and_drift_fails_no_drift(cluster):
    image = roll_out(cluster, DIGESTS[0])
    result = tick(cluster)
    observation, evaluation = result.asset_events
    assert isinstance(observation, AssetObservation)
    seen = {k: v.value for k, v in observation.metadata.items()}
    assert (seen["image"], seen["digest"], seen["code_revision"]) == (image, DIGESTS[0], "c0ffee")
    assert seen["replicas_ready"] == 2 and seen["drift"] == []
    assert evaluation.passed and latest_check(cluster).passed
    assert tick(cluster).asset_events == []  # nothing changed, nothing reported

    # Someone runs `kubectl set image`: the annotations still name the old digest.
    by_hand = f"{REPOSITORY}@{DIGESTS[1]}"
    container = {"name": "serving", "image": by_hand}
    kubernetes.client.AppsV1Api(cluster.api).patch_namespaced_deployment(
        NAME, cluster.namespace, {"spec": {"template": {"spec": {"containers": [container]}}}}
    )
    result = tick(cluster)
    observation, evaluation = result.asset_events
    assert not evaluation.passed and not latest_check(cluster).passed
    assert f"runs {by_hand}, but {image} was rolled out" in evaluation.description
    assert {k: v.value for k, v in observation.metadata.items()}["image"] == by_hand
    assert "DRIFT" in observation.description

    # A new rollout through liveline puts things right again.
    roll_out(cluster, DIGESTS[2])
    assert [e.passed for e in tick(cluster).asset_events[1:]] == [True]


def test_no_verdict_while_a_run_rolls_out(cluster):
    roll_out(cluster, DIGESTS[0])
    tick(cluster)
    run = DagsterRun(job_name="release", status=DagsterRunStatus.STARTED)
    cluster.instance.add_run(run)
    # The run has applied its release but not yet recorded its materialization.
    roll_out(cluster, DIGESTS[1], run_id=run.run_id, record=False)
    (observation,) = tick(cluster).asset_events  # an observation, no check verdict
    assert {k: v.value for k, v in observation.metadata.items()}["drift"] == []
    assert latest_check(cluster).passed


def test_no_drift_runs_on_demand(cluster):
    image = roll_out(cluster, DIGESTS[0])
    job = define_asset_job(
        "check_drift", selection=AssetSelection.checks(cluster_deployment_no_drift)
    )
    checks = Definitions(
        assets=ASSETS,
        asset_checks=[cluster_deployment_no_drift],
        resources=resources(settings.load()),
        jobs=[job],
    )
    result = checks.resolve_job_def("check_drift").execute_in_process(instance=cluster.instance)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.description == f"runs {image}, as rolled out"
