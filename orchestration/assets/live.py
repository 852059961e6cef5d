"""What the cluster actually runs, observed, and whether it drifted from the last rollout.

cluster_deployment's materializations say what was rolled out; the live-state sensor
reports observations of the same asset saying what runs (image digest, the pod template's
lineage annotations, replicas ready) and evaluates the non-blocking check `no_drift`,
which fails when the two disagree, e.g. after someone ran `kubectl set image`. Observing
the existing asset keeps the graph's shape and asset types as they are (dagster#19823);
the check can also be executed on demand.
"""

# No `from __future__ import annotations`: Dagster reads the check's parameter annotations.

import dataclasses
from dataclasses import asdict

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetObservation,
    DagsterInstance,
    DagsterRunStatus,
    MetadataValue,
    asset_check,
)

from liveline.constants import NO_DRIFT_CHECK
from liveline.k8s.livestate import LiveState, drift, observe
from orchestration.assets.cluster import cluster_deployment
from orchestration.facts import DeploymentFacts
from orchestration.resources.cluster import ClusterResource

UNFINISHED = {DagsterRunStatus.NOT_STARTED, DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING,
              DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING}  # fmt: skip


def rolling_out(live: LiveState, instance: DagsterInstance) -> str:
    """Why no verdict is due yet ("" when one is): a rollout by liveline is under way."""
    run = instance.get_run_by_id(live.run_id) if live.run_id else None
    if run is not None and run.status in UNFINISHED:
        return f"run {live.run_id} is rolling out {live.image}"
    if not live.settled and live.digest and live.digest == live.annotated_digest:
        return f"a rollout of {live.image} is in progress"
    return ""


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
        check_name=NO_DRIFT_CHECK,
        passed=not problems,
        description="; ".join(problems) or f"runs {deployed['image']}, as rolled out",
        metadata={**live_metadata(live, problems), "rolled_out_image": deployed["image"]},
        blocking=False,
    )


@asset_check(asset=cluster_deployment, name=NO_DRIFT_CHECK, blocking=False)
def cluster_deployment_no_drift(
    context: AssetCheckExecutionContext, cluster: ClusterResource
) -> AssetCheckResult:
    """The cluster runs exactly the image that cluster_deployment rolled out last."""
    facts = DeploymentFacts.latest_or_none(context.instance)
    deployed = dataclasses.asdict(facts) if facts else None
    namespace, name = cluster.target
    with cluster.api() as api:
        live = observe(api, namespace, name)
    if deployed is None:
        return AssetCheckResult(passed=True, description="nothing rolled out yet")
    evaluation = no_drift_evaluation(live, deployed, drift(live, deployed))
    return AssetCheckResult(
        passed=evaluation.passed, description=evaluation.description, metadata=evaluation.metadata
    )
