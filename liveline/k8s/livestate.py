"""What the cluster actually runs, read from the Deployment, and how it differs from the
last rollout that was recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kubernetes

from liveline.k8s.objects import deployment_image, present
from liveline.k8s.render import A_CODE, A_DIGEST, A_MODEL, A_RUN
from liveline.k8s.rollout import REVISION

READ_TIMEOUT_S = 10


@dataclass(frozen=True)
class LiveState:
    namespace: str
    deployment: str
    found: bool
    image: str = ""
    digest: str = ""  # from the image reference, when it is pinned by digest
    code_revision: str = ""  # the pod template's lineage annotations
    model_version: str = ""
    annotated_digest: str = ""
    run_id: str = ""  # the run that applied the Deployment last (its annotation)
    revision: str = ""
    replicas_ready: int = 0
    replicas_wanted: int = 0
    settled: bool = True  # no rollout in progress


def observe(api: kubernetes.client.ApiClient, namespace: str, name: str) -> LiveState:
    """Read the Deployment (bounded by a timeout); found=False when there is none."""
    try:
        d = kubernetes.client.AppsV1Api(api).read_namespaced_deployment(
            name, namespace, _request_timeout=READ_TIMEOUT_S
        )
    except kubernetes.client.ApiException as e:
        if e.status == 404:
            return LiveState(namespace, name, found=False)
        raise
    what = f"Deployment {namespace}/{name}"
    template = present(d.spec.template.metadata, f"pod template metadata in {what}")
    notes = template.annotations or {}
    image = deployment_image(d, what)
    meta = present(d.metadata, f"metadata of {what}")
    st, wanted = present(d.status, f"status of {what}"), d.spec.replicas or 0
    progressing = {c.type: c for c in st.conditions or []}.get("Progressing")
    complete = (st.updated_replicas or 0) == (st.available_replicas or 0) == (st.replicas or 0)
    stuck = progressing is not None and progressing.reason == "ProgressDeadlineExceeded"
    observed = (st.observed_generation or 0) >= (meta.generation or 0)
    return LiveState(
        namespace,
        name,
        found=True,
        image=image,
        digest=image.rpartition("@")[2] if "@" in image else "",
        code_revision=notes.get(A_CODE, ""),
        model_version=notes.get(A_MODEL, ""),
        annotated_digest=notes.get(A_DIGEST, ""),
        run_id=(meta.annotations or {}).get(A_RUN, ""),
        revision=(meta.annotations or {}).get(REVISION, ""),
        replicas_ready=st.ready_replicas or 0,
        replicas_wanted=wanted,
        settled=observed and ((complete and (st.replicas or 0) == wanted) or stuck),
    )


def drift(live: LiveState, deployed: dict[str, Any] | None) -> list[str]:
    """How the live Deployment differs from the last rollout that was recorded."""
    if deployed is None:
        return []
    where = f"{live.namespace}/{live.deployment}"
    if not live.found:
        return [f"{where} does not exist, but {deployed['image']} was rolled out there"]
    problems = []
    if live.image != deployed["image"]:
        problems.append(f"{where} runs {live.image}, but {deployed['image']} was rolled out")
    if live.annotated_digest and live.annotated_digest != live.digest:
        problems.append(
            f"its lineage annotations name {live.annotated_digest}, not the image it runs: "
            "the image was changed outside liveline"
        )
    return problems
