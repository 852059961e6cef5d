"""What the cluster actually runs, observed, and whether it drifted from the last rollout.

cluster_deployment's materializations say what was rolled out; the live-state sensor
reports observations of the same asset saying what runs (image digest, the pod template's
lineage annotations, replicas ready) and evaluates the non-blocking check `no_drift`,
which fails when the two disagree, e.g. after someone ran `kubectl set image`. Observing
the existing asset keeps the graph's shape and asset types as they are (dagster#19823);
the check can also be executed on demand.
"""

# No `from __future__ import annotations`: Dagster reads the check's parameter annotations.

from dataclasses import asdict, dataclass

import kubernetes
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetKey,
    AssetObservation,
    DagsterInstance,
    DagsterRunStatus,
    Failure,
    MetadataValue,
    asset_check,
)

from liveline import deploy
from orchestration.assets.cluster import cluster_deployment
from orchestration.facts import latest_metadata
from orchestration.resources.cluster import ClusterResource

NO_DRIFT = "no_drift"
READ_TIMEOUT_S = 10
UNFINISHED = {DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING,
              DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING}  # fmt: skip


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
    notes = d.spec.template.metadata.annotations or {}
    image = d.spec.template.spec.containers[0].image
    st, wanted = d.status, d.spec.replicas or 0
    progressing = {c.type: c for c in st.conditions or []}.get("Progressing")
    complete = (st.updated_replicas or 0) == (st.available_replicas or 0) == (st.replicas or 0)
    stuck = progressing is not None and progressing.reason == "ProgressDeadlineExceeded"
    observed = (st.observed_generation or 0) >= (d.metadata.generation or 0)
    return LiveState(
        namespace,
        name,
        found=True,
        image=image,
        digest=image.rpartition("@")[2] if "@" in image else "",
        code_revision=notes.get(deploy.A_CODE, ""),
        model_version=notes.get(deploy.A_MODEL, ""),
        annotated_digest=notes.get(deploy.A_DIGEST, ""),
        run_id=(d.metadata.annotations or {}).get(deploy.A_RUN, ""),
        revision=(d.metadata.annotations or {}).get(deploy.REVISION, ""),
        replicas_ready=st.ready_replicas or 0,
        replicas_wanted=wanted,
        settled=observed and ((complete and (st.replicas or 0) == wanted) or stuck),
    )


def rolling_out(live: LiveState, instance: DagsterInstance) -> str:
    """Why no verdict is due yet ("" when one is): a rollout by liveline is under way."""
    run = instance.get_run_by_id(live.run_id) if live.run_id else None
    if run is not None and run.status in UNFINISHED:
        return f"run {live.run_id} is rolling out {live.image}"
    if not live.settled and live.digest and live.digest == live.annotated_digest:
        return f"a rollout of {live.image} is in progress"
    return ""


def drift(live: LiveState, deployed: dict | None) -> list[str]:
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


def live_metadata(live: LiveState, problems: list[str]) -> dict:
    values = asdict(live)
    return {
        **{k: v for k, v in values.items() if isinstance(v, str)},
        "found": live.found,
        "settled": live.settled,
        "replicas_ready": MetadataValue.int(live.replicas_ready),
        "replicas_wanted": MetadataValue.int(live.replicas_wanted),
        "drift": MetadataValue.json(problems),
    }


def observation(live: LiveState, problems: list[str], busy: str = "") -> AssetObservation:
    what = f"runs {live.image}" if live.found else "does not exist"
    notes = [f"DRIFT: {'; '.join(problems)}"] if problems else []
    return AssetObservation(
        asset_key=cluster_deployment.key,
        description="; ".join(
            filter(None, [f"{live.namespace}/{live.deployment} {what}", *notes, busy])
        ),
        metadata={**live_metadata(live, problems), "rolling_out": busy},
    )


def no_drift_evaluation(
    live: LiveState, deployed: dict, problems: list[str]
) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=cluster_deployment.key,
        check_name=NO_DRIFT,
        passed=not problems,
        description="; ".join(problems) or f"runs {deployed['image']}, as rolled out",
        metadata={**live_metadata(live, problems), "rolled_out_image": deployed["image"]},
        blocking=False,
    )


def latest_facts(instance: DagsterInstance, key: AssetKey) -> dict | None:
    """Plain metadata values of key's latest materialization; None when there is none."""
    try:
        return latest_metadata(instance, key)
    except Failure:
        return None


@asset_check(asset=cluster_deployment, name=NO_DRIFT, blocking=False)
def cluster_deployment_no_drift(
    context: AssetCheckExecutionContext, cluster: ClusterResource
) -> AssetCheckResult:
    """The cluster runs exactly the image that cluster_deployment rolled out last."""
    deployed = latest_facts(context.instance, cluster_deployment.key)
    namespace, name = cluster.target
    with cluster.api() as api:
        live = observe(api, namespace, name)
    if deployed is None:
        return AssetCheckResult(passed=True, description="nothing rolled out yet")
    evaluation = no_drift_evaluation(live, deployed, drift(live, deployed))
    return AssetCheckResult(
        passed=evaluation.passed, description=evaluation.description, metadata=evaluation.metadata
    )
