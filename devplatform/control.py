"""Bringing the whole local platform up or down, and reporting its status.

Order matters: the engine first (the base image lives in it), then the registry, Azurite,
SeaweedFS and MLflow (independent), then the cluster, then the base image. A file lock
serialises concurrent `up`/`down` calls (two pytest runs, a Make target and a test) so
they never race on pidfiles.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from devplatform import (
    azurite,
    base_image,
    docker_engine,
    k8s_cluster,
    k8s_node,
    layout,
    mlflow,
    registry,
    seaweedfs,
)
from devplatform.layout import Layout
from devplatform.processes import PlatformError
from devplatform.report import Status

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 1800.0
# Components in start order; `down` stops them in reverse. The base image is not a process.
SERVICES: dict[str, ModuleType] = {
    docker_engine.NAME: docker_engine,
    registry.NAME: registry,
    azurite.NAME: azurite,
    # The local S3 server, when the models live in S3 (settings.model_store "s3").
    seaweedfs.NAME: seaweedfs,
    # The local MLflow tracking server, when the models live in its registry
    # (settings.model_store "mlflow" with no mlflow_tracking_uri).
    mlflow.NAME: mlflow,
    k8s_cluster.NAME: k8s_cluster,
    # The real node (settings.cluster_node "real"); does nothing for the simulated one.
    k8s_node.NAME: k8s_node,
}
COMPONENTS = [*SERVICES, base_image.NAME]


@contextmanager
def _locked(lay: Layout) -> Iterator[None]:
    lay.create()
    with (lay.run / "platform.lock").open("w") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PlatformError(
                        f"platform: another up/down held {handle.name} for "
                        f"{LOCK_TIMEOUT_S:.0f} s; is one stuck? (`fuser {handle.name}`)"
                    ) from None
                time.sleep(0.5)
        yield


def up(lay: Layout | None = None) -> list[Status]:
    """Start whatever is not running (idempotent); raise PlatformError naming the culprit."""
    lay = lay or layout.load()
    started = time.monotonic()
    with _locked(lay):
        for name in COMPONENTS:
            step = time.monotonic()
            (SERVICES.get(name) or base_image).up(lay)
            log.debug("%s ready after %.1f s", name, time.monotonic() - step)
    log.info("platform up in %.1f s", time.monotonic() - started)
    return status(lay)


def up_s3(lay: Layout | None = None) -> None:
    """The local S3 server even where the settings do not choose it: the model store's
    contract tests run against every store."""
    lay = lay or layout.load()
    with _locked(lay):
        seaweedfs.up(lay, force=True)


def up_mlflow(lay: Layout | None = None) -> None:
    """The local MLflow tracking server even where the settings do not choose it: its
    tests, and the model store's against MLflow."""
    lay = lay or layout.load()
    with _locked(lay):
        mlflow.up(lay, force=True)


def down(lay: Layout | None = None, components: list[str] | None = None) -> list[str]:
    """Stop the services we started (all, or the named ones); return the ones stopped."""
    lay = lay or layout.load()
    unknown = set(components or []) - set(SERVICES)
    if unknown:
        raise PlatformError(f"down: unknown component(s) {sorted(unknown)}; use {list(SERVICES)}")
    stopped = []
    with _locked(lay):
        for name in reversed(SERVICES):
            if (components is None or name in components) and SERVICES[name].down(lay):
                stopped.append(name)
    return stopped


def status(lay: Layout | None = None) -> list[Status]:
    lay = lay or layout.load()
    engine = docker_engine.status(lay)
    image = (
        base_image.status(lay)
        if engine.running
        else Status(
            base_image.NAME,
            False,
            lay.settings.base_image,
            note="engine stopped",
            states=("present", "unknown"),
        )
    )
    node = [k8s_node.status(lay)] if k8s_node.enabled(lay) else []
    s3 = [seaweedfs.status(lay)] if seaweedfs.enabled(lay) or seaweedfs.running(lay) else []
    tracking = [mlflow.status(lay)] if mlflow.enabled(lay) or mlflow.running(lay) else []
    return [engine, registry.status(lay), azurite.status(lay), *s3, *tracking,
            k8s_cluster.status(lay), *node, image]  # fmt: skip
