"""A world for the outage tests (tests/integration/orchestration/test_faults_*): a clone
to commit to, a models container with one model, a live release on the real node, and
releases run in process with resources that stop a component inside the step
(tests/support/outage.py)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import kubernetes
import pytest
from dagster import AssetKey, DagsterEventType, instance_for_test, materialize

import devplatform
from liveline import k8s, modelstore, settings
from liveline.constants import COMMIT_TAG
from liveline.modelstore import AzureBucket
from orchestration.definitions import ASSETS, CHECKS, resources
from orchestration.resources.cluster import ClusterResource
from tests.support.gitrepo import git
from tests.support.outage import OUTAGE, resources_with_outage

RELEASE = ["app_source", "serving_image", "registry_image", "cluster_deployment"]
PUBLISH = ["training_data", "trained_model", "model_blob"]


@pytest.fixture(scope="module")
def fault_world(tmp_path_factory, local_platform, blob_service, kube_api, model_dir_pristine):
    """A clone to commit to, a models container with one model, and a live release."""
    tag = f"fault-{uuid.uuid4().hex[:8]}"
    repo = tmp_path_factory.mktemp("faults") / "app"
    subprocess.run(["git", "clone", "-q", str(settings.REPO_ROOT), str(repo)], check=True)
    with pytest.MonkeyPatch.context() as env, instance_for_test() as instance:
        for key, value in {"MODELS_CONTAINER": tag, "K8S_NAMESPACE": tag,
                           "SERVING_REPOSITORY": f"liveline/{tag}"}.items():  # fmt: skip
            env.setenv(f"LIVELINE_{key}", value)
        env.delenv("LIVELINE_MODEL_GATE", raising=False)
        container = blob_service.get_container_client(tag)
        modelstore.publish(AzureBucket(container), model_dir_pristine)
        w = SimpleNamespace(
            repo=repo, instance=instance, layout=local_platform, api=kube_api,
            container=container, s=settings.load(),
        )  # fmt: skip
        release(w, RELEASE, commit(w, "baseline"))
        yield w
    devplatform.up(local_platform)
    kubernetes.client.CoreV1Api(kube_api).delete_namespace(tag)
    container.delete_container()


def commit(w, text: str) -> str:
    (w.repo / "serving" / "RELEASE_NOTE").write_text(text)
    git(w.repo, "add", "serving/RELEASE_NOTE")
    git(w.repo, "commit", "-qm", text)
    return git(w.repo, "rev-parse", "HEAD")


def release(
    w, selection: list[str], head: str = "", check: bool = True, outage: bool = False,
    deadline_s: int = 0,
):  # fmt: skip
    """Materialize selection (the release's steps for commit head, or publishing's)."""
    config = {"app_source": {"config": {"repo": str(w.repo), "commit": head}}}
    chosen = resources_with_outage() if outage else resources(settings.load())
    if deadline_s:  # the test's patience for a rollout, not production's 60 s
        patient = ClusterResource.from_settings(settings.load(), progress_deadline_s=deadline_s)
        chosen["cluster"] = patient
    result = materialize(
        [*ASSETS, *CHECKS], instance=w.instance, resources=chosen,
        selection=selection,
        run_config={"ops": config if "app_source" in selection else {}},
        tags={COMMIT_TAG: head} if head else {}, raise_on_error=False,
    )  # fmt: skip
    if check:
        assert result.success, [
            str(e.event_specific_data.error) for e in result.get_step_failure_events()
        ]
    return result


@contextmanager
def component_down(
    w, component: str, phase: str, restart: Callable[[], Any] | None = None
) -> Iterator[SimpleNamespace]:
    """Stop component before the block (phase "before" or "after"), or arm the outage so
    that the step's own resource stops it inside the step ("during"); afterwards start
    the platform again (and `restart`, for a server `up` starts only when chosen).
    Yields where `fired` tells whether an armed outage reached a step."""
    seen = SimpleNamespace(fired=False)
    if phase == "during":
        OUTAGE.arm(w.layout, component)
    else:
        devplatform.down(w.layout, [component])
    try:
        yield seen
    finally:
        seen.fired = OUTAGE.fired
        OUTAGE.arm(None, "")
        devplatform.up(w.layout)
        if restart is not None:
            restart()


def failed_for(result, step: str, named: str) -> str:
    """The run failed at exactly step, naming the component and `make up`, after three
    retries of that step (its retry policy: transient); the step's base name."""
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == step  # the outage reached exactly this step
    message = str(failure.event_specific_data.error)
    assert named in message and "make up" in message, message
    retried = result.filter_events(
        lambda e: e.event_type == DagsterEventType.STEP_UP_FOR_RETRY and e.step_key == step
    )
    assert len(retried) == 3  # transient: retried with backoff, then reported
    return "serving_image" if step.startswith("serving_image") else step


def live(w) -> k8s.Rollout:
    rollout = k8s.live(w.api, w.s.k8s_namespace, w.s.k8s_deployment)
    assert rollout is not None
    return rollout


def facts_of(w, name: str) -> dict:
    event = w.instance.get_latest_materialization_event(AssetKey(name))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}
