"""The real node: serving images built by the project, run by the kubelet through
containerd, reached through kube-proxy's NodePort on 127.0.0.1.

They need the local cluster's real node (LIVELINE_CLUSTER_NODE=real, the default); with
the simulated node they fail saying so, as there is nothing to run the containers.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import kubernetes
import pytest
import requests

from devplatform import k8s_build, k8s_cluster, k8s_node
from devplatform import k8s_node_host as node_host
from devplatform.k8s_node_config import NODE, NodeLayout
from liveline import images, k8s, settings
from tests.support.prober import Prober

pytestmark = pytest.mark.integration

REPO = settings.REPO_ROOT
DEPLOYMENT = "liveline-serving"
ROLLOUT_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def real_node(local_platform):
    if not k8s_node.enabled(local_platform):
        # A missing platform part fails, it does not skip (tests/integration/conftest.py).
        pytest.fail(
            "the local cluster has a simulated node: these tests need the real one "
            "(LIVELINE_CLUSTER_NODE=real, the default)"
        )
    return local_platform


@dataclass(frozen=True)
class Pushed:
    release: k8s.Release
    built_at: str


@pytest.fixture(scope="module")
def pushed(real_node, docker_client, tmp_path_factory, model_dir_pristine) -> dict[str, Pushed]:
    """Two good images of this commit and model (built at different times), and one
    whose model fails to load (its artifact no longer matches the card)."""
    s = real_node.settings
    source = tmp_path_factory.mktemp("source")
    revision = images.export_commit(REPO, "HEAD", source)
    card = json.loads((model_dir_pristine / "model_card.json").read_text())
    repository = f"{s.registry}/{s.serving_repository}-node-test"
    out = {}
    for name, built_at in (("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-02T00:00:00Z")):
        context, args = images.prepare(
            source, model_dir_pristine, tmp_path_factory.mktemp(f"context-{name}"), s.wheels_dir,
            revision=revision, source_label="test", base_image=s.base_image,
            build_image=s.build_image, created=built_at,
        )  # fmt: skip
        images.build(docker_client, context, f"{repository}:{name}", args)
        out[name] = Pushed(_push(docker_client, repository, name, revision, card), built_at)
    bad = tmp_path_factory.mktemp("bad")
    (bad / "Dockerfile").write_text(
        f"FROM {repository}:a\nUSER root\nRUN echo tampered >> /app/model/model.skops\nUSER 10001\n"
    )
    docker_client.images.build(path=str(bad), tag=f"{repository}:bad", rm=True)
    out["bad"] = Pushed(_push(docker_client, repository, "bad", "bad", card), "")
    return out


def _push(client, repository: str, tag: str, code: str, card: dict) -> k8s.Release:
    for attempt in range(5):  # the registry may be restarting (fault tests)
        try:
            digest = images.push(client, repository, tag)
            break
        except images.ImageError:
            if attempt == 4:
                raise
            time.sleep(2)
    return k8s.Release(repository, digest, code, card["model_version"], f"run-{tag}")


@pytest.fixture
def namespace(real_node, kube_api) -> Iterator[str]:
    """A namespace of the test's own; deleted (and waited for) after, which frees the
    fixed NodePort for the next test."""
    name = f"node-{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            core.read_namespace(name)
        except kubernetes.client.ApiException as e:
            if e.status == 404:
                return
            raise
        time.sleep(0.5)


def _roll_out(layout, api, release: k8s.Release, namespace: str, deadline: int | None = None):
    kubectl = k8s_build.binary(layout, "kubectl")
    overlay = REPO / "k8s" / "overlays" / "local"
    docs = k8s.render(overlay, release, kubectl, namespace=namespace, progress_deadline_s=deadline)
    # Not pin_node_port: the fixed NodePort is the deploy job's Service's, in its namespace.
    docs = [d for d in docs if d["kind"] != "Namespace"]
    return k8s.deploy(api, docs, namespace, DEPLOYMENT, timeout=ROLLOUT_TIMEOUT_S)


def _base(api, namespace: str) -> str:
    """http://127.0.0.1:<the Service's NodePort>."""
    url = k8s_node.node_port_url(api, namespace, DEPLOYMENT)
    assert url is not None, f"the Service {namespace}/{DEPLOYMENT} has no NodePort"
    return url


def _get(url: str, timeout: float = 3) -> requests.Response | None:
    try:
        return requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None


def _wait_version(base: str, built_at: str, timeout: float = 30) -> dict:
    """kube-proxy programs a Service a moment after its pods are Ready: wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        r = _get(f"{base}/version")
        if r is not None and r.status_code == 200 and r.json().get("build_time") == built_at:
            return r.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"{base}/version does not name the build of {built_at}: {r}")
        time.sleep(0.2)


def test_node_is_ready_and_runs_containerd(real_node, kube_api):
    core = kubernetes.client.CoreV1Api(kube_api)
    node = core.read_node(NODE)
    ready = {c.type: c.status for c in node.status.conditions}["Ready"]
    assert ready == "True"
    info = node.status.node_info
    assert info.container_runtime_version.startswith("containerd://1.")
    # The kubelet is built from the same pin as the control plane.
    assert info.kubelet_version == k8s_cluster.version(real_node)
    # The simulated node stays, tainted: ordinary pods go to the real one.
    kwok = core.read_node(k8s_cluster.NODE)
    assert [t.key for t in kwok.spec.taints or []] == [k8s_cluster.KWOK_TAINT]


def test_the_model_answers_through_the_service(real_node, kube_api, namespace, pushed, card):
    good = pushed["a"]
    started = time.monotonic()
    rollout = _roll_out(real_node, kube_api, good.release, namespace)
    base = _base(kube_api, namespace)
    version = _wait_version(base, good.built_at)
    print(f"\nrollout to 2 Ready pods on the real node: {rollout.seconds:.1f} s; "
          f"the Service answers {time.monotonic() - started:.1f} s after apply")  # fmt: skip
    assert version["code_revision"] == good.release.code_revision
    assert version["model_version"] == card["model_version"]
    r = requests.post(f"{base}/score", json={"input": card["golden"]["inputs"]}, timeout=5)
    assert r.status_code == 200
    assert r.headers["X-Model-Version"] == card["model_version"]
    assert len(r.json()["predictions"]) == len(card["golden"]["inputs"])

    pods = kubernetes.client.CoreV1Api(kube_api).list_namespaced_pod(namespace).items
    assert len(pods) == 2 and {p.spec.node_name for p in pods} == {NODE}
    for pod in pods:
        status = pod.status.container_statuses[0]
        assert status.ready and good.release.digest in status.image_id
    # The image's hardening holds under containerd: uid 10001, read-only root.
    kubectl = [str(k8s_build.binary(real_node, "kubectl")), "-n", namespace, "exec",
               pods[0].metadata.name, "--"]  # fmt: skip
    env = {**os.environ, **k8s_cluster.env(real_node)}
    uid = subprocess.run([*kubectl, "id", "-u"], capture_output=True, text=True, env=env,
                         timeout=30, check=True).stdout.strip()  # fmt: skip
    assert uid == "10001"
    write = subprocess.run([*kubectl, "touch", "/app/x"], capture_output=True, text=True,
                           env=env, timeout=30, check=False)  # fmt: skip
    assert write.returncode != 0 and "Read-only file system" in write.stderr


def _watch_bad_pods(api, namespace: str, digest: str, stop: threading.Event, seen: dict) -> None:
    core = kubernetes.client.CoreV1Api(api)
    while not stop.is_set():
        for pod in core.list_namespaced_pod(namespace).items:
            statuses = pod.status.container_statuses or []
            if not statuses or digest not in pod.spec.containers[0].image:
                continue
            seen["pods"].add(pod.metadata.name)
            seen["ever_ready"] |= bool(statuses[0].ready)
            seen["restarts"] = max(seen["restarts"], statuses[0].restart_count)
            # Until it holds the refusal: a container that restarts fast may be gone
            # already ("unable to retrieve container logs"), the next one will say it.
            if statuses[0].restart_count and "refusing to start" not in seen["log"]:
                seen["log"] = core.read_namespaced_pod_log(
                    pod.metadata.name, namespace, previous=True, tail_lines=20
                )
        time.sleep(0.5)


def test_a_model_that_fails_to_load_never_becomes_ready_and_is_rolled_back(
    real_node, kube_api, namespace, pushed
):
    good, bad = pushed["a"], pushed["bad"]
    _roll_out(real_node, kube_api, good.release, namespace)
    base = _base(kube_api, namespace)
    _wait_version(base, good.built_at)
    seen: dict = {"pods": set(), "ever_ready": False, "restarts": 0, "log": ""}
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch_bad_pods, args=(kube_api, namespace, bad.release.digest, stop, seen)
    )
    watcher.start()
    try:
        # The test's patience is 25 s, production's progress deadline 60 s.
        with (
            Prober(f"{base}/score", {"input": [[1.0] * 30]}) as client,
            pytest.raises(k8s.RolloutError, match="missed its progress deadline") as e,
        ):
            _roll_out(real_node, kube_api, bad.release, namespace, deadline=25)
    finally:
        stop.set()
        watcher.join()
    print(f"\nbad rollout: {e.value}\n{len(seen['pods'])} bad pod(s), {seen['restarts']} "
          f"restarts; meanwhile the old pods: {client.summary()}")  # fmt: skip
    assert "Rolled back to revision 1" in str(e.value)
    assert seen["pods"] and not seen["ever_ready"]
    assert seen["restarts"] >= 1 and "refusing to start" in seen["log"]
    assert client.ok > 0 and client.failed == []
    now = k8s.live(kube_api, namespace, DEPLOYMENT)
    assert now.image == good.release.image and now.replicas_ready == 2
    assert _wait_version(base, good.built_at)["code_revision"] == good.release.code_revision


def test_a_rolling_update_fails_no_request(real_node, kube_api, namespace, pushed):
    old, new = pushed["a"], pushed["b"]
    _roll_out(real_node, kube_api, old.release, namespace)
    base = _base(kube_api, namespace)
    _wait_version(base, old.built_at)
    with Prober(f"{base}/score", {"input": [[1.0] * 30]}) as client:
        time.sleep(1)
        rollout = _roll_out(real_node, kube_api, new.release, namespace)
        _wait_version(base, new.built_at)
        time.sleep(8)  # the old pods' preStop pause, then their exit
    print(f"\nrolling update in {rollout.seconds:.1f} s: {client.summary()}")
    assert client.ok > 50
    assert client.failed == []
    assert rollout.image == new.release.image and rollout.replicas_ready == 2


def test_down_leaves_the_host_clean_and_up_brings_the_node_back(real_node):
    n = NodeLayout(real_node)
    started = time.monotonic()
    assert k8s_node.down(real_node)
    stopped = time.monotonic() - started
    assert node_host.leftovers(n) == []
    assert not (Path("/sys/class/net") / "lvcni0").exists()
    started = time.monotonic()
    k8s_node.up(real_node)
    print(f"\nnode down in {stopped:.1f} s (host clean); up again, Ready, in "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    assert k8s_node.node_ready(real_node)
