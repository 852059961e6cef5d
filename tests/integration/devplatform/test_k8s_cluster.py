"""The k8s/ manifests against the real local API server: validation, rollout, progress
deadline, rollback. Pods run on the kwok node (tainted when the cluster has a real node:
k8s_node.on_simulated_node), so these images need not exist; images whose reference
contains "never-ready" never become Ready there (tools/k8s/stages.yaml)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import kubernetes
import pytest

from devplatform import k8s_build, k8s_cluster, k8s_node
from liveline import k8s, settings

pytestmark = pytest.mark.integration

K8S = settings.REPO_ROOT / "k8s"
GOOD = "127.0.0.1:5000/liveline/serving"
NEVER_READY = "127.0.0.1:5000/liveline/never-ready"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


@pytest.fixture
def namespace(kube_api) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def _release(repository: str, digest: str, code: str = "c0ffee") -> k8s.Release:
    return k8s.Release(repository, digest, code, "m1", f"run-{code}")


def _render(
    local_platform,
    release: k8s.Release,
    namespace: str,
    overlay: str = "local",
    deadline: int | None = None,
):
    kubectl = k8s_build.binary(local_platform, "kubectl")
    docs = k8s.render(
        K8S / "overlays" / overlay, release, kubectl, namespace=namespace,
        progress_deadline_s=deadline,
    )  # fmt: skip
    # The namespace is the test's own; the overlay's Namespace object is not needed.
    return k8s_node.on_simulated_node([d for d in docs if d["kind"] != "Namespace"])


def test_node_is_ready(kube_api):
    nodes = kubernetes.client.CoreV1Api(kube_api).list_node().items
    ready = [n for n in nodes if any(c.type == "Ready" and c.status == "True"
                                     for c in n.status.conditions)]  # fmt: skip
    assert ready, "no Ready node"


@pytest.mark.parametrize("overlay", ["local", "aks"])
def test_overlays_pass_server_side_validation(local_platform, kube_api, namespace, overlay):
    docs = _render(local_platform, _release(GOOD, DIGEST_A), namespace, overlay)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                     "Service", "ServiceAccount"]  # fmt: skip
    k8s.apply(kube_api, docs, dry_run=True)
    # A dry run persists nothing.
    assert k8s.live(kube_api, namespace, "liveline-serving") is None


@pytest.mark.parametrize("overlay", ["local", "aks"])
def test_rendered_deployment_is_pinned_and_hardened(local_platform, namespace, overlay):
    docs = _render(local_platform, _release(GOOD, DIGEST_A), namespace, overlay)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    assert dep["metadata"]["namespace"] == namespace
    pod = dep["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == f"{GOOD}@{DIGEST_A}"
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert dep["spec"]["progressDeadlineSeconds"] == 60
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # Every overlay keeps a replaced pod serving until the Service has dropped it, and
    # gives it the time to finish after that pause.
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < pause < pod["spec"]["terminationGracePeriodSeconds"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert pod["spec"]["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["resources"]["limits"] and container["resources"]["requests"]
    for notes in (dep["metadata"]["annotations"], pod["metadata"]["annotations"]):
        assert notes[k8s.A_CODE] == "c0ffee"
        assert notes[k8s.A_MODEL] == "m1"
        assert notes[k8s.A_DIGEST] == DIGEST_A
    assert dep["metadata"]["annotations"][k8s.A_RUN] == "run-c0ffee"


def test_deployment_rolls_out_to_ready(local_platform, kube_api, namespace):
    docs = _render(local_platform, _release(GOOD, DIGEST_A), namespace)
    rollout = k8s.deploy(kube_api, docs, namespace, "liveline-serving", timeout=60)
    assert rollout.revision == "1"
    assert rollout.replicas_ready == 2
    assert rollout.image == f"{GOOD}@{DIGEST_A}"


def test_never_ready_rollout_is_detected_and_rolled_back(local_platform, kube_api, namespace):
    good = _render(local_platform, _release(GOOD, DIGEST_A, "good"), namespace)
    k8s.deploy(kube_api, good, namespace, "liveline-serving", timeout=60)
    apps = kubernetes.client.AppsV1Api(kube_api)
    first_rs = {rs.metadata.name for rs in apps.list_namespaced_replica_set(namespace).items}

    # A deadline of 8 s is the test's patience, not production's 60 s.
    bad = _render(local_platform, _release(NEVER_READY, DIGEST_B, "bad"), namespace, deadline=8)
    with pytest.raises(k8s.RolloutError, match="missed its progress deadline") as failed:
        k8s.deploy(kube_api, bad, namespace, "liveline-serving", timeout=60)
    assert "Rolled back to revision 1" in str(failed.value)

    now = k8s.live(kube_api, namespace, "liveline-serving")
    assert now.image == f"{GOOD}@{DIGEST_A}"
    assert now.replicas_ready == 2
    assert now.annotations[k8s.A_CODE] == "good"
    assert now.annotations[k8s.A_ROLLED_BACK] == "2"
    # The old ReplicaSet is the one serving again (as `kubectl rollout undo`: revision 3).
    serving = [rs for rs in apps.list_namespaced_replica_set(namespace).items
               if (rs.status.ready_replicas or 0) > 0]  # fmt: skip
    assert [rs.metadata.name for rs in serving] == sorted(first_rs)
    assert serving[0].metadata.annotations[k8s.REVISION] == "3"


@pytest.mark.restarts_cluster
def test_down_stops_the_cluster_and_a_warm_start_keeps_its_state(local_platform, namespace):
    import devplatform

    with k8s_cluster.api_client(local_platform) as api:
        kubernetes.client.CoreV1Api(api).create_namespaced_config_map(
            namespace, {"metadata": {"name": "kept"}, "data": {"k": "v"}}
        )
    assert devplatform.down(local_platform, components=["kubernetes"]) == ["kubernetes"]
    assert k8s_cluster.version(local_platform) is None
    assert not k8s_cluster.status(local_platform).running
    started = time.monotonic()
    devplatform.up(local_platform)
    assert time.monotonic() - started < 30, "a warm cluster start must take at most 30 s"
    with k8s_cluster.api_client(local_platform) as api:
        kept = kubernetes.client.CoreV1Api(api).read_namespaced_config_map("kept", namespace)
        assert kept.data == {"k": "v"}


def test_the_app_port_comes_from_settings_when_rendered(local_platform, namespace):
    kubectl = k8s_build.binary(local_platform, "kubectl")
    overlay = settings.REPO_ROOT / "k8s" / "overlays" / "local"
    docs = k8s.render(
        overlay, _release(GOOD, DIGEST_A), kubectl, namespace=namespace, serve_port=9090
    )
    dep = next(d for d in docs if d["kind"] == "Deployment")
    (port,) = dep["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert port == {"name": "http", "containerPort": 9090}
    service = next(d for d in docs if d["kind"] == "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"  # follows the name
