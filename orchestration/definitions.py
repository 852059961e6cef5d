"""Assembles the code location: assets by stage, their checks, resources and jobs."""

from dagster import AssetSelection, Definitions, define_asset_job

from orchestration.assets.blob import model_blob
from orchestration.assets.cluster import cluster_deployment
from orchestration.assets.image import app_source, registry_image, serving_image
from orchestration.assets.model import trained_model, training_data
from orchestration.checks import serving_image_smoke_test, trained_model_quality_gate
from orchestration.resources.blob_store import BlobStoreResource
from orchestration.resources.cluster import ClusterResource
from orchestration.resources.image_builder import ImageBuilderResource
from orchestration.resources.registry import RegistryResource

MODEL_ASSETS = [training_data, trained_model, model_blob]
IMAGE_ASSETS = [app_source, serving_image, registry_image]
CLUSTER_ASSETS = [cluster_deployment]
ASSETS = [*MODEL_ASSETS, *IMAGE_ASSETS, *CLUSTER_ASSETS]
CHECKS = [trained_model_quality_gate, serving_image_smoke_test]
DEPLOY_GROUPS = ["model", "image", "cluster"]
DEPLOY_TAG = "liveline/deploy"

# Every field empty: each resource resolves liveline.settings (LIVELINE_*) at run time.
RESOURCES = {
    "blob_store": BlobStoreResource(),
    "image_builder": ImageBuilderResource(),
    "registry": RegistryResource(),
    "cluster": ClusterResource(),
}

deploy = define_asset_job(
    "deploy",
    selection=AssetSelection.groups(*DEPLOY_GROUPS),
    description="From training data and a git commit to a verified deployment in the cluster.",
    # dagster.yaml queues runs with this tag one at a time: deployments never overlap.
    tags={DEPLOY_TAG: "true"},
)

defs = Definitions(assets=ASSETS, asset_checks=CHECKS, resources=RESOURCES, jobs=[deploy])
