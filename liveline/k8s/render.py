"""The serving manifests, rendered from the k8s/ kustomize overlay for one release.

A generated overlay on top pins the image by digest (kustomize `images:`) and adds the
lineage annotations; kustomize itself (`kubectl kustomize`) renders it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import yaml
from kubernetes.dynamic import DynamicClient

PLACEHOLDER_IMAGE = "liveline-serving"
A_CODE, A_MODEL = "liveline.io/code-revision", "liveline.io/model-version"
A_DIGEST, A_RUN = "liveline.io/image-digest", "liveline.io/dagster-run-id"
A_ROLLED_BACK = "liveline.io/rolled-back-from"
KUSTOMIZE_TIMEOUT_S = 60


class RolloutError(Exception):
    """The rollout failed; `rolled_back_to` names the revision that is live again."""

    def __init__(self, message: str, rolled_back_to: str | None = None) -> None:
        super().__init__(message)
        self.rolled_back_to = rolled_back_to


@dataclass(frozen=True)
class Release:
    repository: str  # registry/repository, without tag or digest
    digest: str  # sha256:...
    code_revision: str
    model_version: str
    run_id: str

    @property
    def image(self) -> str:
        return f"{self.repository}@{self.digest}"


def render(
    overlay: Path,
    release: Release,
    kubectl: Path,
    *,
    namespace: str | None = None,
    progress_deadline_s: int | None = None,
    serve_port: int | None = None,
) -> list[dict[str, Any]]:
    """The overlay's manifests with the release's image digest and lineage annotations
    (in `namespace` instead of the overlay's, with another progress deadline, and with
    the app's container port set to serve_port, when given)."""
    with tempfile.TemporaryDirectory(prefix="liveline-render-") as tmp:
        template = {
            A_CODE: release.code_revision,
            A_MODEL: release.model_version,
            A_DIGEST: release.digest,
        }
        kustomization: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(overlay.resolve(), tmp)],
            "images": [
                {
                    "name": _image_name(overlay),
                    "newName": release.repository,
                    "digest": release.digest,
                }
            ],
            "patches": [
                {
                    "target": {"kind": "Deployment"},
                    "patch": yaml.safe_dump(
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "metadata": {
                                "name": "any",
                                "annotations": {**template, A_RUN: release.run_id},
                            },
                            "spec": {"template": {"metadata": {"annotations": template}}},
                        }
                    ),
                }
            ],
        }
        if namespace:
            kustomization["namespace"] = namespace
        (Path(tmp) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        out = subprocess.run(
            [str(kubectl), "kustomize", tmp],
            capture_output=True,
            text=True,
            timeout=KUSTOMIZE_TIMEOUT_S,
            check=False,
        )
    if out.returncode != 0:
        raise RolloutError(f"kustomize could not render {overlay}: {out.stderr.strip()}")
    docs = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
    for doc in docs:
        if namespace and doc["kind"] == "Namespace":
            doc["metadata"]["name"] = namespace  # the overlay's own Namespace object
        if progress_deadline_s and doc["kind"] == "Deployment":
            doc["spec"]["progressDeadlineSeconds"] = progress_deadline_s
        if serve_port and doc["kind"] == "Deployment":
            set_container_port(doc, serve_port)
    return docs


def set_container_port(deployment: dict[str, Any], port: int) -> None:
    """The serving container's `http` port (the probes and the Service follow its name).
    Done here, not in kustomize: the value comes from settings, not from a file."""
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        for entry in container.get("ports", []):
            if entry.get("name") == "http":
                entry["containerPort"] = port


def _image_name(overlay: Path) -> str:
    """The serving image's name as the overlay leaves it (its own `images:` may rename the
    base's placeholder to its registry), which is what our `images:` entry must match."""
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    for image in kustomization.get("images", []):
        if image.get("name") == PLACEHOLDER_IMAGE:
            name = image.get("newName", PLACEHOLDER_IMAGE)
            if not isinstance(name, str):
                raise RolloutError(f"{overlay}/kustomization.yaml renames the image to {name!r}")
            return name
    return PLACEHOLDER_IMAGE


def pin_node_port(docs: list[dict[str, Any]], node_port: int) -> list[dict[str, Any]]:
    """The rendered manifests with the serving Service's http port on node_port."""
    for doc in docs:
        if doc["kind"] == "Service":
            for port in doc["spec"]["ports"]:
                if port.get("name") == "http":
                    port["nodePort"] = node_port
    return docs


def node_port_holder(api: kubernetes.client.ApiClient, node_port: int) -> str | None:
    """namespace/name of the Service holding node_port, if any (a NodePort is unique in
    the cluster)."""
    # Through the dynamic client (as apply), not CoreV1Api: the kubernetes client imports
    # CoreV1Api's module on first use, 1.0-1.2 s of every release's cluster step.
    services = DynamicClient(api).resources.get(api_version="v1", kind="Service").get()
    for svc in services.items:
        if any(p.nodePort == node_port for p in svc.spec.ports or []):
            return f"{svc.metadata.namespace}/{svc.metadata.name}"
    return None
