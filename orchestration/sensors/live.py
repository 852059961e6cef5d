"""The live-state sensor: observe what the cluster runs and report drift from the last rollout.

It reports only changes (the cursor is a fingerprint of what it saw last), so the event
log grows with what happens in the cluster, not with the number of ticks.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations.

import dataclasses
import hashlib
import json
from dataclasses import asdict

from dagster import (
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
)

from liveline import k8s, settings
from orchestration.assets import live as live_state
from orchestration.facts import DeploymentFacts
from orchestration.resources.cluster import ClusterResource
from orchestration.sensors.common import liveline_sensor

SENSOR_NAME = "cluster_live_sensor"


def build_live_sensor(s: settings.Settings) -> SensorDefinition:
    @liveline_sensor(
        s,
        SENSOR_NAME,
        "Observe the image, lineage and readiness the cluster actually runs; "
        "check cluster_deployment for drift.",
    )
    def cluster_live_sensor(context: SensorEvaluationContext, cluster: ClusterResource):
        return evaluate(context, cluster)

    return cluster_live_sensor


def evaluate(context: SensorEvaluationContext, cluster: ClusterResource) -> SensorResult:
    namespace, name = cluster.target
    with cluster.api() as api:
        live = k8s.observe(api, namespace, name)
    facts = DeploymentFacts.latest_or_none(context.instance)
    deployed = dataclasses.asdict(facts) if facts else None
    busy = live_state.rolling_out(live, context.instance)
    problems = [] if busy else k8s.drift(live, deployed)
    seen = json.dumps([asdict(live), deployed, busy, problems], sort_keys=True, default=str)
    fingerprint = hashlib.sha256(seen.encode()).hexdigest()[:32]
    if fingerprint == context.cursor:
        return SensorResult(skip_reason=f"{namespace}/{name}: no change", cursor=fingerprint)
    events: list = [live_state.observation(live, problems, busy)]
    if deployed is not None and not busy:
        events.append(live_state.no_drift_evaluation(live, deployed, problems))
    for problem in problems:
        context.log.warning("drift in %s/%s: %s", namespace, name, problem)
    return SensorResult(asset_events=events, cursor=fingerprint)
