"""The serving Deployment in Kubernetes: render the manifests, roll out, read what is live.

`render` (kustomize, image by digest, lineage annotations), `rollout` (server-side apply,
wait like `kubectl rollout status`, undo like `kubectl rollout undo`), `livestate` (what runs
now, drift from the last rollout) and `client` (a client for the configured cluster).
"""

from liveline.k8s.client import api_client
from liveline.k8s.livestate import LiveState, drift, observe
from liveline.k8s.render import (
    A_CODE,
    A_DIGEST,
    A_MODEL,
    A_ROLLED_BACK,
    A_RUN,
    PLACEHOLDER_IMAGE,
    Release,
    RolloutError,
    node_port_holder,
    pin_node_port,
    render,
)
from liveline.k8s.rollout import (
    FIELD_MANAGER,
    REVISION,
    Rollout,
    apply,
    deploy,
    live,
    read_or_none,
    rollback,
    wait,
    wait_for,
)

__all__ = [
    "A_CODE",
    "A_DIGEST",
    "A_MODEL",
    "A_ROLLED_BACK",
    "A_RUN",
    "FIELD_MANAGER",
    "PLACEHOLDER_IMAGE",
    "REVISION",
    "LiveState",
    "Release",
    "Rollout",
    "RolloutError",
    "api_client",
    "apply",
    "deploy",
    "drift",
    "live",
    "node_port_holder",
    "observe",
    "pin_node_port",
    "read_or_none",
    "render",
    "rollback",
    "wait",
    "wait_for",
]
