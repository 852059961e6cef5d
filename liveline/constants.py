"""Names shared across packages: one place for each, so they cannot drift apart.

Plain strings (the library imports no Dagster): the code location turns the asset names
into AssetKeys, and the commands and tests read the same values.
"""

from __future__ import annotations

# The Docker image manifest media type the registry is asked for: an OCI-only Accept
# header gets an old schema1 manifest, whose digest is not the pushed one.
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"

# Asset names of the graph (orchestration/assets), in stage order.
TRAINING_DATA = "training_data"
TRAINED_MODEL = "trained_model"
MODEL_BLOB = "model_blob"
APP_SOURCE = "app_source"
SERVING_IMAGE = "serving_image"
REGISTRY_IMAGE = "registry_image"
CLUSTER_DEPLOYMENT = "cluster_deployment"

# Asset checks.
QUALITY_GATE_CHECK = "quality_gate"
SMOKE_CHECK = "smoke_test"
NO_DRIFT_CHECK = "no_drift"

# Jobs.
DEPLOY_JOB = "deploy"
RELEASE_JOB = "release"
NIGHTLY_JOB = "nightly_release"

# Run tags. DEPLOY_TAG marks every run that touches the cluster: dagster.yaml's
# tag_concurrency_limits keeps them one at a time.
DEPLOY_TAG = "liveline/deploy"
COMMIT_TAG = "liveline/commit"  # the commit a release builds
MODEL_TAG = "liveline/model"  # "<name>/<version>" a release builds
TRIGGER_TAG = "liveline/trigger"  # commit | model | commit+model | retry | nightly
# Tags Dagster itself sets: the daemon tags a sensor's run with its run_key, and a
# reported event carries its data version in this one.
RUN_KEY_TAG = "dagster/run_key"
DATA_VERSION_TAG = "dagster/data_version"
