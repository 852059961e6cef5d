"""Roll the serving image out to a cluster, watch the rollout, roll back on failure.

Manifests come from liveline.k8s.render. Objects are applied
server-side through the official kubernetes client. A rollout that fails or misses its
progress deadline is undone here: apps/v1 has no rollback call (kubectl's `rollout undo`
is client-side too), so we do what kubectl does: put the previous ReplicaSet's pod
template back, wait until it is Ready again, and report what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import kubernetes
from kubernetes.dynamic import DynamicClient

from liveline.k8s.objects import deployment_image, present
from liveline.k8s.render import A_CODE, A_DIGEST, A_MODEL, A_ROLLED_BACK, RolloutError

T = TypeVar("T")

FIELD_MANAGER = "liveline"
REVISION = "deployment.kubernetes.io/revision"
POLL_S = 0.2  # a read of the Deployment costs about 2 ms


@dataclass(frozen=True)
class Rollout:
    revision: str
    replicas_ready: int
    seconds: float
    image: str
    annotations: dict[str, str] = field(default_factory=dict)


def apply(
    api: kubernetes.client.ApiClient, docs: list[dict[str, Any]], dry_run: bool = False
) -> None:
    """Server-side apply each object (a dry run asks the API server to validate only)."""
    dynamic = DynamicClient(api)
    for doc in docs:
        resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        dynamic.server_side_apply(
            resource,
            body=doc,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
            dry_run="All" if dry_run else None,
        )


def read_or_none(read: Callable[[str, str], T], name: str, namespace: str) -> T | None:
    """read(name, namespace) (a client's read_namespaced_*), or None on 404."""
    try:
        return read(name, namespace)
    except kubernetes.client.ApiException as e:
        if e.status == 404:
            return None
        raise


def live(api: kubernetes.client.ApiClient, namespace: str, name: str) -> Rollout | None:
    """What the Deployment runs now, or None when it does not exist."""
    d = read_or_none(kubernetes.client.AppsV1Api(api).read_namespaced_deployment, name, namespace)
    if d is None:
        return None
    what = f"Deployment {namespace}/{name}"
    annotations = present(d.metadata, f"metadata of {what}").annotations or {}
    return Rollout(
        revision=annotations.get(REVISION, "0"),
        replicas_ready=present(d.status, f"status of {what}").ready_replicas or 0,
        seconds=0.0,
        image=deployment_image(d, what),
        annotations=dict(annotations),
    )


def wait(
    api: kubernetes.client.ApiClient, namespace: str, name: str, timeout: float,
    *, deadline_fails: bool = True,
) -> Rollout:  # fmt: skip
    """Wait like `kubectl rollout status`; raise RolloutError on the progress deadline
    (unless not `deadline_fails`) or after `timeout`."""
    apps = kubernetes.client.AppsV1Api(api)
    what = f"Deployment {namespace}/{name}"
    started = time.monotonic()
    while True:
        d = apps.read_namespaced_deployment(name, namespace)
        st, want = present(d.status, f"status of {what}"), d.spec.replicas or 0
        conditions = {c.type: c for c in st.conditions or []}
        progressing = conditions.get("Progressing")
        meta = present(d.metadata, f"metadata of {what}")
        if (st.observed_generation or 0) >= present(meta.generation, f"generation of {what}"):
            if (
                deadline_fails
                and progressing is not None
                and progressing.reason == "ProgressDeadlineExceeded"
            ):
                raise RolloutError(
                    f"rollout of {name} missed its progress deadline "
                    f"({d.spec.progress_deadline_seconds} s): {progressing.message}"
                )
            if (
                (st.updated_replicas or 0) == want
                and (st.replicas or 0) == want
                and (st.available_replicas or 0) == want
            ):
                found = live(api, namespace, name)
                assert found is not None
                return Rollout(
                    found.revision,
                    st.ready_replicas or 0,
                    time.monotonic() - started,
                    found.image,
                    found.annotations,
                )
        if time.monotonic() - started > timeout:
            raise RolloutError(f"rollout of {name} not complete after {timeout:.0f} s")
        time.sleep(POLL_S)


def wait_for(
    api: kubernetes.client.ApiClient,
    namespace: str,
    name: str,
    annotations: dict[str, str],
    timeout: float,
) -> Rollout:
    """Wait until the Deployment carries these lineage annotations (someone else, e.g. a
    sensor's run, rolls it out) and that rollout is complete."""
    deadline = time.monotonic() + timeout
    while True:
        found = live(api, namespace, name)
        notes = found.annotations if found else {}
        if all(notes.get(k) == v for k, v in annotations.items()):
            return wait(api, namespace, name, max(deadline - time.monotonic(), 0.0))
        if time.monotonic() > deadline:
            raise RolloutError(
                f"{namespace}/{name} does not carry {annotations} after {timeout:.0f} s; "
                f"it carries { {k: notes.get(k) for k in annotations} }"
            )
        time.sleep(POLL_S)


def rollback(api: kubernetes.client.ApiClient, namespace: str, name: str) -> str:
    """Put the previous revision's pod template back (as `kubectl rollout undo`); return
    the revision restored. Raises RolloutError when there is no earlier revision."""
    apps = kubernetes.client.AppsV1Api(api)
    d = apps.read_namespaced_deployment(name, namespace)
    meta = present(d.metadata, f"metadata of Deployment {namespace}/{name}")
    current = int((meta.annotations or {}).get(REVISION, "0"))
    owned = [
        rs
        for rs in apps.list_namespaced_replica_set(namespace).items
        if any(o.uid == meta.uid for o in _metadata(rs).owner_references or [])
    ]
    earlier = [rs for rs in owned if int(_annotations(rs).get(REVISION, "0")) < current]
    if not earlier:
        raise RolloutError(f"{name} has no revision before {current} to roll back to")
    previous = max(earlier, key=lambda rs: int(_annotations(rs)[REVISION]))
    template: dict[str, Any] = api.sanitize_for_serialization(previous.spec.template)
    template["metadata"].get("labels", {}).pop("pod-template-hash", None)
    lineage = {
        k: v
        for k, v in (template["metadata"].get("annotations") or {}).items()
        if k in (A_CODE, A_MODEL, A_DIGEST)
    }
    apps.patch_namespaced_deployment(
        name,
        namespace,
        [
            {"op": "replace", "path": "/spec/template", "value": template},
            *(
                {"op": "add", "path": f"/metadata/annotations/{k.replace('/', '~1')}", "value": v}
                for k, v in {**lineage, A_ROLLED_BACK: str(current)}.items()
            ),
        ],
        field_manager=f"{FIELD_MANAGER}-rollback",
    )
    return _annotations(previous)[REVISION]


def _metadata(rs: kubernetes.client.V1ReplicaSet) -> kubernetes.client.V1ObjectMeta:
    return present(rs.metadata, "metadata of a ReplicaSet")


def _annotations(rs: kubernetes.client.V1ReplicaSet) -> dict[str, str]:
    """A Deployment's ReplicaSet's annotations, which carry its revision."""
    meta = _metadata(rs)
    return present(meta.annotations, f"annotations of ReplicaSet {meta.name}")


def deploy(
    api: kubernetes.client.ApiClient,
    docs: list[dict[str, Any]],
    namespace: str,
    name: str,
    timeout: float = 180.0,
) -> Rollout:
    """Apply, wait, and on failure roll back, confirm the old revision is Ready, and raise."""
    apply(api, docs)
    try:
        return wait(api, namespace, name, timeout)
    except RolloutError as failure:
        try:
            restored = rollback(api, namespace, name)
        except RolloutError as e:
            raise RolloutError(f"{failure}; and no rollback was possible: {e}") from failure
        # Not failed by the deadline: the controller keeps the failed rollout's
        # ProgressDeadlineExceeded condition until the restored revision's status changes
        # (seen: the rollback's first observed status still named the failed ReplicaSet),
        # while the restored pods, never replaced, are Ready; the timeout still bounds it.
        back = wait(api, namespace, name, timeout, deadline_fails=False)
        raise RolloutError(
            f"{failure}. Rolled back to revision {restored} ({back.image}), "
            f"{back.replicas_ready} replicas Ready again",
            rolled_back_to=back.revision,
        ) from failure
