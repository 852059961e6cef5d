"""Each model store's real local server, seen the way the contract tests need it: a
container or bucket of the test's own, and raw writes that bypass the model store's
rules (what a tamperer, an interrupted upload or a careless admin would do)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from azure.storage.blob import BlobServiceClient

from liveline.modelstore import AzureBucket, S3Bucket
from liveline.modelstore.objects import Bucket, ObjectNotFound

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
    def __init__(self, service: BlobServiceClient, name: str) -> None:
        super().__init__("azure", name, AzureBucket(service.get_container_client(name)), "azurite")
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
