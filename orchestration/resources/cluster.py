"""The Kubernetes cluster the serving app runs in: the local one, or AKS.

Locally the kubeconfig is the one `make up` writes into the state folder. For AKS, set
LIVELINE_KUBECONFIG (a kubeconfig from `az aks get-credentials`) and optionally
LIVELINE_KUBE_CONTEXT, and LIVELINE_K8S_OVERLAY=aks. The definitions fill every field
from liveline.settings when the code location loads, so the UI shows what is used.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes
from dagster import ConfigurableResource
from pydantic import Field

from liveline import k8s
from liveline.settings import Settings


class ClusterResource(ConfigurableResource):
    """Where and how the serving Deployment is rolled out."""

    kubeconfig: str = Field(description="Kubeconfig file (LIVELINE_KUBECONFIG, else local).")
    context: str = Field(default="", description="Kubeconfig context; empty: its current one.")
    overlay_path: str = Field(description="The kustomize overlay (LIVELINE_K8S_OVERLAY).")
    kubectl: str = Field(description="kubectl that renders the overlay (kustomize).")
    namespace: str = Field(description="Namespace of the Deployment (LIVELINE_K8S_NAMESPACE).")
    deployment: str = Field(description="The serving Deployment (LIVELINE_K8S_DEPLOYMENT).")
    serve_port: int = Field(default=8080, description="The app's container port.")
    node_port: int = Field(
        default=0, description="NodePort to pin the Service to (local real node); 0: any."
    )
    rollout_timeout_s: float = Field(default=300.0, description="Give up waiting after this.")
    progress_deadline_s: int = Field(
        default=0, description="Override the manifest's progressDeadlineSeconds (0: keep it)."
    )

    @classmethod
    def from_settings(cls, s: Settings, **overrides: object) -> ClusterResource:
        values: dict[str, object] = {
            "kubeconfig": str(s.kubeconfig_path),
            "context": s.kube_context,
            "overlay_path": str(s.k8s_overlay_dir),
            "kubectl": str(s.kubectl_path),
            "namespace": s.k8s_namespace,
            "deployment": s.k8s_deployment,
            "serve_port": s.serve_port,
            "node_port": s.serving_node_port,
        }
        return cls(**{**values, **overrides})

    @property
    def target(self) -> tuple[str, str]:
        return self.namespace, self.deployment

    @property
    def overlay_dir(self) -> Path:
        path = Path(self.overlay_path)
        if not (path / "kustomization.yaml").is_file():
            raise ValueError(f"no kustomize overlay {path.name!r} in {path.parent}")
        return path

    def render(self, release: k8s.Release) -> list[dict]:
        return k8s.render(
            self.overlay_dir, release, Path(self.kubectl), namespace=self.namespace,
            progress_deadline_s=self.progress_deadline_s, serve_port=self.serve_port,
        )  # fmt: skip

    def pin_node_port(self, api: kubernetes.client.ApiClient, docs: list[dict]) -> list[dict]:
        """docs with the Service on node_port, unless another Service holds it (a deploy
        into a second namespace): then, as with node_port 0, the cluster chooses."""
        if not self.node_port:
            return docs
        holder = k8s.node_port_holder(api, self.node_port)
        if holder not in (None, f"{self.namespace}/{self.deployment}"):
            return docs
        return k8s.pin_node_port(docs, self.node_port)

    def api(self) -> kubernetes.client.ApiClient:
        """A client for the cluster; use it as a context manager."""
        return k8s.api_client(Path(self.kubeconfig), self.context)
