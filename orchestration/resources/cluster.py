"""The Kubernetes cluster the serving app runs in: the local one, or AKS.

Locally the kubeconfig is the one `make up` writes into the state folder. For AKS, set
LIVELINE_KUBECONFIG (a kubeconfig from `az aks get-credentials`) and optionally
LIVELINE_KUBE_CONTEXT, and LIVELINE_K8S_OVERLAY=aks. Nothing here reads the environment
before a run starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kubernetes
from dagster import ConfigurableResource
from pydantic import Field

from liveline import settings
from liveline.localplatform import k8s_build, k8s_cluster, k8s_node
from liveline.localplatform.layout import Layout


class ClusterResource(ConfigurableResource):
    """Where and how the serving Deployment is rolled out."""

    kubeconfig: str = Field(default="", description="Empty: LIVELINE_KUBECONFIG or local.")
    context: str = Field(default="", description="Empty: LIVELINE_KUBE_CONTEXT or current.")
    overlay: str = Field(default="", description="k8s/overlays/<name>; empty: LIVELINE_K8S_OVERLAY")
    namespace: str = Field(default="", description="Empty: LIVELINE_K8S_NAMESPACE.")
    deployment: str = Field(default="", description="Empty: LIVELINE_K8S_DEPLOYMENT.")
    rollout_timeout_s: float = Field(default=300.0, description="Give up waiting after this.")
    progress_deadline_s: int = Field(
        default=0, description="Override the manifest's progressDeadlineSeconds (0: keep it)."
    )

    def _layout(self) -> Layout:
        s = settings.load()
        overrides = {"kubeconfig": self.kubeconfig, "kube_context": self.context,
                     "k8s_overlay": self.overlay, "k8s_namespace": self.namespace,
                     "k8s_deployment": self.deployment}  # fmt: skip
        return Layout(dataclasses.replace(s, **{k: v for k, v in overrides.items() if v}))

    @property
    def target(self) -> tuple[str, str]:
        s = self._layout().settings
        return s.k8s_namespace, s.k8s_deployment

    @property
    def overlay_dir(self) -> Path:
        overlay = self._layout().settings.k8s_overlay
        path = settings.REPO_ROOT / "k8s" / "overlays" / overlay
        if not (path / "kustomization.yaml").is_file():
            raise ValueError(f"no kustomize overlay {overlay!r} in {path.parent}")
        return path

    @property
    def kubectl(self) -> Path:
        """kubectl (with kustomize) as built by `make up`."""
        return k8s_build.binary(self._layout(), "kubectl")

    def node_port(self, api: kubernetes.client.ApiClient, service: str) -> int | None:
        """The NodePort to pin the serving Service to: settings.k8s_node_port on the local
        real node, unless another Service holds it (a deploy into a second namespace);
        None: the cluster chooses (AKS, the simulated node, or the port is taken)."""
        layout = self._layout()
        port = layout.settings.k8s_node_port
        if not port or not k8s_node.enabled(layout):
            return None
        holder = k8s_node.node_port_holder(api, port)
        namespace = layout.settings.k8s_namespace
        return port if holder in (None, f"{namespace}/{service}") else None

    @contextmanager
    def api(self) -> Iterator[kubernetes.client.ApiClient]:
        with k8s_cluster.api_client(self._layout()) as api:
            yield api
