"""Each model store's real local server, seen the way the contract tests need it: a
container or bucket of the test's own, and raw writes that bypass the model store's
rules (what a tamperer, an interrupted upload or a careless admin would do)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest
from azure.storage.blob import BlobServiceClient

import devplatform
from devplatform.layout import Layout
from liveline.modelstore import (
    AzureBucket,
    ModelStore,
    ObjectStore,
    PublishedModel,
    S3Bucket,
)
from liveline.modelstore.base import ObjectNotFound
from liveline.modelstore.objects import Bucket
from modelcard import CARD_FILE

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STORES = ("azure", "s3")


class Kit:
    """One store under test: `bucket` for the code under test, the rest for the test."""

    def __init__(self, kind: str, name: str, bucket: Bucket, component: str) -> None:
        self.kind, self.name, self.bucket, self.component = kind, name, bucket, component

    def raw_put(self, name: str, data: bytes, metadata: Mapping[str, str]) -> None:
        raise NotImplementedError

    def raw_delete(self, name: str) -> None:
        raise NotImplementedError

    def raw_get(self, name: str) -> bytes:
        return self.bucket.get(name).data

    def create(self) -> None:
        raise NotImplementedError

    def create_public(self) -> None:
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    def is_private(self) -> bool:
        raise NotImplementedError

    def delete(self) -> None:
        raise NotImplementedError


class AzureKit(Kit):
    """bounded: the client of the code under test, with the retries production uses (the
    SDK's defaults take 80 s to give up on a stopped Azurite)."""

    def __init__(self, service: BlobServiceClient, name: str, bounded: BlobServiceClient) -> None:
        super().__init__("azure", name, AzureBucket(bounded.get_container_client(name)), "azurite")
        self.container = service.get_container_client(name)

    def raw_put(self, name: str, data: bytes, metadata: Mapping[str, str]) -> None:
        self.container.upload_blob(name, data, overwrite=True, metadata=dict(metadata))

    def raw_delete(self, name: str) -> None:
        self.container.delete_blob(name)

    def create(self) -> None:
        self.container.create_container()

    def create_public(self) -> None:
        self.container.create_container(public_access="blob")

    def exists(self) -> bool:
        return bool(self.container.exists())

    def is_private(self) -> bool:
        return self.container.get_container_properties().public_access is None

    def delete(self) -> None:
        if self.exists():
            self.container.delete_container()


class S3Kit(Kit):
    def __init__(self, client: S3Client, name: str) -> None:
        super().__init__("s3", name, S3Bucket(client, name), "seaweedfs")
        self.s3 = client

    def raw_put(self, name: str, data: bytes, metadata: Mapping[str, str]) -> None:
        self.s3.put_object(Bucket=self.name, Key=name, Body=data, Metadata=dict(metadata))

    def raw_delete(self, name: str) -> None:
        self.s3.delete_object(Bucket=self.name, Key=name)

    def create(self) -> None:
        self.s3.create_bucket(Bucket=self.name)

    def create_public(self) -> None:
        self.s3.create_bucket(Bucket=self.name, ACL="public-read")

    def exists(self) -> bool:
        try:
            next(self.bucket.pages("", 1))
            return True
        except ObjectNotFound:
            return False

    def is_private(self) -> bool:
        grants = self.s3.get_bucket_acl(Bucket=self.name).get("Grants", [])
        return all("URI" not in g.get("Grantee", {}) for g in grants)

    def delete(self) -> None:
        if not self.exists():
            return
        for page in self.bucket.pages("", 1000):
            if page.objects:
                keys = [{"Key": o.name} for o in page.objects]
                self.s3.delete_objects(Bucket=self.name, Delete={"Objects": keys})
        self.s3.delete_bucket(Bucket=self.name)


# --- the model stores behind liveline.modelstore.ModelStore, all three ------------------
MODEL_STORES = ("azure", "s3", "mlflow")


class StoreKit:
    """One ModelStore under test, chosen by configuration (env), with raw writes that
    bypass its rules."""

    kind: str
    component: str  # the platform component that serves it
    store: ModelStore

    def env(self) -> dict[str, str]:
        """The LIVELINE_ settings (without the prefix) that choose this store."""
        raise NotImplementedError

    def overwrite(self, model: PublishedModel, file: str, data: bytes) -> None:
        """Replace one of a published version's files behind the store's back."""
        raise NotImplementedError

    def delete(self) -> None:
        raise NotImplementedError

    def stop_during_publish(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        """Stop the real server when a publish has uploaded its files but not yet made
        them a version (the card of an object store, the registry version of MLflow)."""
        raise NotImplementedError

    def stop_during_poll(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        """Stop the real server when a poll has found a new version, before verifying it."""
        raise NotImplementedError

    def restart(self, layout: Layout) -> None:
        devplatform.up(layout)


def stop_at(
    monkeypatch: pytest.MonkeyPatch, layout: Layout, component: str, owner: object,
    method: str, when: Callable[[Any], bool],
) -> None:  # fmt: skip
    """Stop component the first time owner.method is called with a first argument that
    `when` picks, then make that very call: the outage reaches the step it is about."""
    real = getattr(owner, method)

    def then_down(first: object, /, *args: object, **kwargs: object) -> object:
        if when(first):
            monkeypatch.setattr(owner, method, real)
            devplatform.down(layout, [component])
        return real(first, *args, **kwargs)

    monkeypatch.setattr(owner, method, then_down)


def _is_card(name: str) -> bool:
    return name.endswith(f"/{CARD_FILE}")


class ObjectKit(StoreKit):
    """A container or bucket of the test's own, through the ObjectStore."""

    def __init__(self, kit: Kit) -> None:
        self.kit, self.kind, self.component = kit, kit.kind, kit.component
        self.store = ObjectStore(kit.bucket)

    def env(self) -> dict[str, str]:
        return {"MODEL_STORE": self.kind, "MODELS_CONTAINER": self.kit.name,
                "MODELS_BUCKET": self.kit.name}  # fmt: skip

    def overwrite(self, model: PublishedModel, file: str, data: bytes) -> None:
        name = f"{model.name}/{model.version}/{file}"
        self.kit.raw_put(name, data, self.kit.bucket.head(name).metadata or {})

    def delete(self) -> None:
        self.kit.delete()

    def stop_during_publish(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        stop_at(monkeypatch, layout, self.component, self.kit.bucket, "put",
                lambda new: _is_card(new.name))  # fmt: skip

    def stop_during_poll(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        stop_at(monkeypatch, layout, self.component, self.kit.bucket, "get", _is_card)

    def restart(self, layout: Layout) -> None:
        devplatform.up(layout)
        if self.kind == "s3":
            devplatform.control.up_s3(layout)
