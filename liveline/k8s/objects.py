"""The parts of the objects the API server answers with that are always there.

The kubernetes client declares most fields of its models optional, because a client may
build an object without them. An object read from the API server has its metadata and
its status, and a Deployment's containers name their image. `present` says so where we
rely on it, and turns a part that is missing after all into a clear error.
"""

from __future__ import annotations

from typing import TypeVar

import kubernetes

T = TypeVar("T")


class IncompleteObject(Exception):
    """The API server answered with an object that lacks a part we rely on."""


def present(value: T | None, what: str) -> T:
    """value, which the API server always sets; IncompleteObject naming `what` if not."""
    if value is None:
        raise IncompleteObject(f"the API server's answer has no {what}")
    return value


def deployment_image(deployment: kubernetes.client.V1Deployment, what: str) -> str:
    """The image of the pod template's first container (the serving container)."""
    pod = present(deployment.spec.template.spec, f"pod template spec in {what}")
    return present(pod.containers[0].image, f"image of the first container in {what}")
