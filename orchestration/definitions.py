"""Assembles the code location: assets by stage, their checks, resources, jobs, sensors
and schedules."""

from dagster import (
    AssetSelection,
    Definitions,
    define_asset_job,
    definitions,
    in_process_executor,
)

from liveline import settings
from liveline.constants import DEPLOY_JOB, DEPLOY_TAG, NIGHTLY_JOB, RELEASE_JOB
from orchestration.assets.blob import model_blob
from orchestration.assets.cluster import cluster_deployment
from orchestration.assets.image import app_source, registry_image, serving_image
from orchestration.assets.live import cluster_deployment_no_drift
from orchestration.assets.model import trained_model, training_data
from orchestration.checks import serving_image_smoke_test, trained_model_quality_gate
from orchestration.resources.blob_store import BlobStoreResource
from orchestration.resources.cluster import ClusterResource
from orchestration.resources.image_builder import ImageBuilderResource
from orchestration.resources.registry import RegistryResource
from orchestration.schedules import build_nightly_release
from orchestration.sensors import build_sensors

MODEL_ASSETS = [training_data, trained_model, model_blob]
IMAGE_ASSETS = [app_source, serving_image, registry_image]
CLUSTER_ASSETS = [cluster_deployment]
ASSETS = [*MODEL_ASSETS, *IMAGE_ASSETS, *CLUSTER_ASSETS]
CHECKS = [trained_model_quality_gate, serving_image_smoke_test]
# Non-blocking, evaluated by the live-state sensor (and on demand), in no job.
LIVE_CHECKS = [cluster_deployment_no_drift]
DEPLOY_GROUPS = ["model", "image", "cluster"]
# The steps of a deployment run one after another anyway: in-process saves each step the
# ~6 s of starting a process and loading the code location (the default executor's cost).
EXECUTOR = in_process_executor


def resources(s: settings.Settings) -> dict:
    """One resource per external system, with the effective values from settings
    (LIVELINE_*), so the UI's resource view shows exactly what a run uses."""
    return {
        "blob_store": BlobStoreResource.from_settings(s),
        "image_builder": ImageBuilderResource.from_settings(s),
        "registry": RegistryResource.from_settings(s),
        "cluster": ClusterResource.from_settings(s),
    }


NOT_IN_JOBS = AssetSelection.checks(*LIVE_CHECKS)

deploy = define_asset_job(
    DEPLOY_JOB,
    selection=AssetSelection.groups(*DEPLOY_GROUPS) - NOT_IN_JOBS,
    description="From training data and a git commit to a verified deployment in the cluster.",
    # dagster.yaml queues runs with this tag one at a time: deployments never overlap.
    tags={DEPLOY_TAG: "true"},
    executor_def=EXECUTOR,
)
release = define_asset_job(
    RELEASE_JOB,
    selection=AssetSelection.assets(app_source, serving_image, registry_image, cluster_deployment)
    - NOT_IN_JOBS,
    description="One commit with the newest published model: build, smoke-test, push, roll out "
    "(requested by release_sensor).",
    tags={DEPLOY_TAG: "true"},
    executor_def=EXECUTOR,
)
nightly_release = define_asset_job(
    NIGHTLY_JOB,
    selection=AssetSelection.assets(registry_image, cluster_deployment) - NOT_IN_JOBS,
    description="Roll the newest smoke-tested image out, without rebuilding it.",
    tags={DEPLOY_TAG: "true"},
    executor_def=EXECUTOR,
)


@definitions
def defs() -> Definitions:
    """The code location. Sensor intervals, default statuses and the schedule's cron are
    part of the definitions, so settings (LIVELINE_*) are read when it loads, not at import."""
    s = settings.load()
    return Definitions(
        assets=ASSETS,
        asset_checks=[*CHECKS, *LIVE_CHECKS],
        resources=resources(s),
        jobs=[deploy, release, nightly_release],
        sensors=build_sensors(s),
        schedules=[build_nightly_release(s)],
    )
