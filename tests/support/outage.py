"""Outages injected inside a step: the step's own resource stops a platform component
the first time the step uses it, right after it opened its client. An outage "during" a
step then always reaches that step (a stop timed from outside races the step)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import devplatform
from liveline import settings
from orchestration.resources.blob_store import BlobStoreResource
from orchestration.resources.cluster import ClusterResource
from orchestration.resources.image_builder import ImageBuilderResource
from orchestration.resources.registry import RegistryResource


class Outage:
    """Stops one component of the platform the first time a step's resource uses it:
    inside the step, after the step has started and opened its client."""

    def __init__(self) -> None:
        self.layout: Any = None
        self.component, self.fired = "", False

    def arm(self, layout, component: str) -> None:
        self.layout, self.component, self.fired = layout, component, False

    def fire(self) -> None:
        if self.component and not self.fired:
            self.fired = True
            devplatform.down(self.layout, [self.component])


OUTAGE = Outage()


class BlobStoreWithOutage(BlobStoreResource):
    @contextmanager
    def models(self) -> Iterator:
        with super().models() as container:
            OUTAGE.fire()
            yield container


class ImageBuilderWithOutage(ImageBuilderResource):
    @contextmanager
    def client(self) -> Iterator:
        with super().client() as client:
            OUTAGE.fire()
            yield client


class RegistryWithOutage(RegistryResource):
    def login(self, client) -> None:  # before the push
        OUTAGE.fire()
        super().login(client)


class ClusterWithOutage(ClusterResource):
    def api(self):
        OUTAGE.fire()
        return super().api()


def resources_with_outage() -> dict:
    """The definitions' resources, each of which stops the armed component in its step."""
    s = settings.load()
    return {
        "blob_store": BlobStoreWithOutage.from_settings(s),
        "image_builder": ImageBuilderWithOutage.from_settings(s),
        "registry": RegistryWithOutage.from_settings(s),
        "cluster": ClusterWithOutage.from_settings(s),
    }
