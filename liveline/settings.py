"""The single source of truth for local endpoints, ports, names and the state folder.

Every value has a local default and an environment variable that overrides it. Nothing
is read at import time: call `load()` where the value is needed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# The engine address when neither LIVELINE_DOCKER_HOST nor DOCKER_HOST names one.
DOCKER_SOCKET_DEFAULT = "unix:///var/run/docker.sock"

# The well-known development account that every Azurite instance accepts. Public, not a
# secret: https://learn.microsoft.com/azure/storage/common/storage-use-azurite
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# The development identity of the local S3 server (SeaweedFS), written into its
# configuration by `make up`; it grants nothing anywhere else. Not a secret.
SEAWEEDFS_ACCESS_KEY = "LIVELINEDEVACCESSKEY"
SEAWEEDFS_SECRET_KEY = "liveline-local-seaweedfs-dev-secret"
MODEL_STORES = ("azure", "s3", "mlflow")


@dataclass(frozen=True)
class Settings:
    """Resolved settings; the field name upper-cased with a LIVELINE_ prefix overrides it."""

    state_dir: Path = REPO_ROOT / ".state"
    # Docker engine started by the project when none answers.
    docker_host: str = ""
    # Stand-in for Azure Container Registry.
    registry_host: str = "127.0.0.1"
    registry_port: int = 5000
    # Stand-in for Azure Blob Storage.
    azurite_host: str = "127.0.0.1"
    azurite_port: int = 10000
    models_container: str = "models"
    # Where published models live: "azure" (Blob Storage: models_account_url and
    # models_container), "s3" (s3_endpoint_url, s3_region and models_bucket) or "mlflow"
    # (the MLflow Model Registry: mlflow_tracking_uri, mlflow_models, mlflow_alias).
    model_store: str = "azure"
    # S3: empty is the local SeaweedFS that `make up` starts when s3 is chosen (its S3
    # port seaweedfs_port, its other ports the ten above seaweedfs_port_base); "aws" is
    # AWS's own endpoint for s3_region; any other value an S3-compatible endpoint.
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    models_bucket: str = "liveline-models"
    seaweedfs_port: int = 8333
    seaweedfs_port_base: int = 18300
    # MLflow: empty is the local tracking server that `make up` starts when mlflow is
    # chosen (on mlflow_port); any other value a tracking server's URL, reached with
    # MLflow's own MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD if set.
    mlflow_tracking_uri: str = ""
    mlflow_port: int = 18400
    # The registered models the release sensor watches, comma-separated; empty: the
    # project's model. With an alias (e.g. "champion"), the version it points at is
    # the one to run, so moving the alias releases; empty: the newest version.
    mlflow_models: str = ""
    mlflow_alias: str = ""
    # Offline stand-in for python:3.11-slim; the tag's -rN names the recipe revision
    # (devplatform/base_image.py).
    base_image: str = "liveline/python-base:3.11-bookworm-r4"
    # The image the serving image's dependencies are installed in: the base's Python and
    # binutils (serving/Dockerfile). Offline stand-in for python:3.11, from the same
    # debootstrap as the base.
    build_image: str = "liveline/python-build:3.11-bookworm-r4"
    serving_repository: str = "liveline/serving"
    # The port the serving app listens on inside its container (serving/Dockerfile's
    # PORT build argument, the manifests' containerPort, the smoke test).
    serve_port: int = 8080
    # Kubernetes: the local cluster (LIVELINE_KUBECONFIG points elsewhere, e.g. AKS).
    kubeconfig: str = ""
    kube_context: str = ""
    k8s_overlay: str = "local"
    k8s_namespace: str = "liveline"
    k8s_deployment: str = "liveline-serving"
    kube_apiserver_port: int = 6443
    # The local cluster's node: "simulated" (kwok-node-0 reports pods Running and Ready,
    # no container runs) or "real" (a kubelet with containerd runs the pods, kube-proxy
    # serves Services on 127.0.0.1: devplatform/k8s_node.py). Changing it
    # recreates the local cluster on the next `up` (its objects are lost).
    cluster_node: str = "real"
    # Real node only: the serving Service's NodePort, on 127.0.0.1 and inside the
    # NodePort range, which stays below the loopback ports kwokctl picks for its own
    # components (from 32767 down): a NodePort there would capture their traffic.
    k8s_node_port: int = 30080
    k8s_node_port_range: str = "30000-30999"
    # Real node only: the pod network (a CNI bridge whose first address is the node's
    # IP) and the Service range of kube-apiserver and kube-proxy.
    k8s_pod_cidr: str = "10.88.0.0/16"
    k8s_service_cidr: str = "10.96.0.0/16"
    # Real node only: the pause (pod sandbox) image, compiled from Kubernetes' pause.c and
    # pushed to the local registry under this repository.
    k8s_pause_repository: str = "liveline/pause"
    # The Dagster UI of `make dev`, and the instance (DAGSTER_HOME) of `make dev` and
    # `make demo`; empty: <state_dir>/dagster.
    dagster_port: int = 3000
    dagster_instance: str = ""
    # --- asset graph settings (orchestration) below ---
    # Account holding the models container; empty: the local Azurite (blob_account_url).
    # A real account (https://<name>.blob.core.windows.net) is reached with
    # DefaultAzureCredential, never an account key.
    models_account_url: str = ""
    # The project configuration: [tool.liveline] of this file, or a liveline.toml
    # (liveline/project.py: the training, its data and the quality gates); empty:
    # <app_repo>/liveline.toml if there is one, else <app_repo>/pyproject.toml.
    project_file: str = ""
    # A quality gate for every model, "metric=threshold,..." (rmse=40: at most 40),
    # over the project's gates; empty: the project's gate for each model and task.
    model_gate: str = ""
    # The git repository and branch whose commits app_source follows; an empty branch
    # means the branch checked out there, else main.
    app_repo: Path = REPO_ROOT
    app_branch: str = ""
    # Registry login: "none" (the local registry) or "azure" (an ACR token exchanged
    # from DefaultAzureCredential).
    registry_auth: str = "none"
    # Sensors and schedules (orchestration/sensors, orchestration/schedules.py).
    # The repository the release sensor watches: a local path, or a URL fetched into
    # <state_dir>/git-cache; empty: app_repo. Its branch; empty: app_branch, else the
    # branch checked out there (main for a URL).
    watch_repo: str = ""
    watch_branch: str = ""
    # Path prefixes whose changes trigger a build, comma-separated; empty: every change.
    # Commits touching nothing else advance the sensor without a run.
    watch_paths: str = "serving/,k8s/"
    # Minimum seconds between ticks of the release and live-state sensors. The daemon
    # wakes every 5 s and measures from the end of the previous tick, so 4 ticks on
    # every wake-up (every 5 s) while 5 would tick on every other one (every 10 s).
    sensor_interval_s: int = 4
    # A release waits until no new commit or model was seen for this many seconds, so
    # that a commit and a model arriving together make one release, not two (0: at once).
    # With push notifications (the receiver) it is the whole wait; with the poll alone,
    # below sensor_interval_s it costs exactly one more tick.
    release_settle_s: int = 1
    # A release whose run failed is requested again until its pair is live: after this
    # many seconds, doubling each time, at most release_retries times.
    release_retry_backoff_s: int = 15
    release_retries: int = 5
    # The receiver of push notifications (liveline_cli.receiver, started by `make dev`):
    # GitHub push events, Azure Repos service hooks, the git hook of `liveline hooks
    # install` and `liveline publish` ask the release sensor to evaluate at once. Its
    # port on 127.0.0.1, and the shared secret (empty: one generated for this machine
    # into <state_dir>/webhook-secret).
    webhook_port: int = 3010
    webhook_secret: str = field(default="", repr=False)
    # 1: the sensors start RUNNING when the code location loads; 0: STOPPED.
    sensors_running: int = 1
    # Seconds between sweeps of the whole models container, which find versions
    # published without a journal entry (the journal finds the others at once).
    model_sweep_s: int = 300
    # The nightly release (registry_image -> cluster_deployment): when, and 1 to start
    # it RUNNING (it is STOPPED by default).
    release_cron: str = "0 2 * * *"
    release_timezone: str = "UTC"
    release_schedule_running: int = 0

    @property
    def registry(self) -> str:
        return f"{self.registry_host}:{self.registry_port}"

    @property
    def docker_address(self) -> str:
        """The engine: LIVELINE_DOCKER_HOST, else DOCKER_HOST, else the default socket."""
        return self.docker_host or os.environ.get("DOCKER_HOST") or DOCKER_SOCKET_DEFAULT

    @property
    def local_cluster(self) -> bool:
        """The cluster is the local one `make up` runs (no LIVELINE_KUBECONFIG)."""
        return not self.kubeconfig

    @property
    def k8s_bin_dir(self) -> Path:
        """Where `make up` puts the Kubernetes binaries it compiles."""
        return self.state_dir / "k8s" / "bin"

    @property
    def kubectl_path(self) -> Path:
        """kubectl (kustomize renders the manifests): the one `make up` builds for the
        local cluster, else the one on PATH (AKS)."""
        built = self.k8s_bin_dir / "kubectl"
        if self.local_cluster or built.is_file():
            return built
        return Path(shutil.which("kubectl") or "kubectl")

    @property
    def serving_node_port(self) -> int:
        """The NodePort to pin the serving Service to: k8s_node_port on the local real
        node; 0 (the cluster chooses) on the simulated node and any other cluster."""
        return self.k8s_node_port if self.local_cluster and self.cluster_node == "real" else 0

    @property
    def k8s_overlay_dir(self) -> Path:
        return REPO_ROOT / "k8s" / "overlays" / self.k8s_overlay

    @property
    def project_path(self) -> Path:
        if self.project_file:
            return Path(self.project_file)
        own = self.app_repo / "liveline.toml"
        return own if own.exists() else self.app_repo / "pyproject.toml"

    @property
    def blob_account_url(self) -> str:
        return f"http://{self.azurite_host}:{self.azurite_port}/{AZURITE_ACCOUNT}"

    @property
    def local_s3_url(self) -> str:
        return f"http://127.0.0.1:{self.seaweedfs_port}"

    @property
    def local_mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def kubeconfig_path(self) -> Path:
        return Path(self.kubeconfig) if self.kubeconfig else self.state_dir / "kubeconfig"

    @property
    def dagster_home(self) -> Path:
        return Path(self.dagster_instance) if self.dagster_instance else self.state_dir / "dagster"

    @property
    def venv_dir(self) -> Path:
        return self.state_dir / "venv"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"

    @property
    def wheels_dir(self) -> Path:
        return self.state_dir / "wheels"

    @property
    def sboms_dir(self) -> Path:
        # The CycloneDX SBOM of each serving image built, named after its image id.
        return self.state_dir / "sboms"


def env_name(field_name: str) -> str:
    return f"LIVELINE_{field_name.upper()}"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from defaults overridden by LIVELINE_* environment variables."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}  # field name -> value of that field's type
    for f in fields(Settings):
        raw = env.get(env_name(f.name))
        if raw is None or raw == "":
            continue
        if f.type in ("int", int):
            try:
                values[f.name] = int(raw)
            except ValueError as e:
                raise ValueError(
                    f"{env_name(f.name)}={raw!r} is not a whole number; set it to a port "
                    f"or count, or unset it to use the default"
                ) from e
        elif f.type in ("Path", Path):
            values[f.name] = Path(raw).expanduser().resolve()
        else:
            values[f.name] = raw
    return Settings(**values)
