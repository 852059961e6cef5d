"""Where Services answer on this machine, and pods pinned to the simulated node.

Re-exported by k8s_node, which the commands and tests use.
"""

from __future__ import annotations

import kubernetes

from devplatform import k8s_cluster
from devplatform.layout import Layout
from liveline import k8s


def service_url(layout: Layout) -> str:
    """Where the serving Service answers on this machine once its NodePort is pinned to
    settings.k8s_node_port (pin_node_port)."""
    return f"http://127.0.0.1:{layout.settings.k8s_node_port}"


def node_port_url(api: kubernetes.client.ApiClient, namespace: str, service: str) -> str | None:
    """Where a Service answers on this machine, from the NodePort it was given; None when
    it has none (or does not exist)."""
    read = kubernetes.client.CoreV1Api(api).read_namespaced_service
    svc = k8s.read_or_none(read, service, namespace)
    return node_port_of(svc) if svc is not None else None


def node_port_of(svc: kubernetes.client.V1Service) -> str | None:
    ports = [p.node_port for p in svc.spec.ports or [] if p.node_port]
    return f"http://127.0.0.1:{ports[0]}" if ports else None


def on_simulated_node(docs: list[dict]) -> list[dict]:
    """The rendered manifests with the Deployment's pods pinned to the kwok node (which
    a real-node cluster keeps, tainted): for tests of rollout logic with images that do
    not exist, or that kwok holds never Ready (tools/k8s/stages.yaml)."""
    for doc in docs:
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            pod["nodeSelector"] = {"kubernetes.io/hostname": k8s_cluster.NODE}
            pod["tolerations"] = [{"key": k8s_cluster.KWOK_TAINT, "operator": "Exists"}]
    return docs
