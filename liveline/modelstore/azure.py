"""Azure Blob Storage (Azurite locally) as the models' object store.

Locally Azurite's public, well-known dev key; a real account is reached with
DefaultAzureCredential (workload identity, `az login`): no account key in configuration.
Writes send their MD5 (validate_content), which the service checks against the bytes it
receives; create-only writes are If-None-Match: *, replacements If-Match: <etag>.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.paging import PageIterator
from azure.storage.blob import (
    BlobProperties,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    ExponentialRetry,
)

from liveline.modelstore.base import ModelStoreError, ObjectChanged, ObjectExists, ObjectNotFound
from liveline.modelstore.objects import NewObject, ObjectInfo, Page, StoredObject
from liveline.settings import AZURITE_ACCOUNT, AZURITE_KEY, Settings

EMULATOR_HOSTS = frozenset({"127.0.0.1", "localhost"})


def account_url(settings: Settings) -> str:
    """LIVELINE_MODELS_ACCOUNT_URL if set, else the local Azurite."""
    return settings.models_account_url or settings.blob_account_url


def is_emulator(url: str) -> bool:
    return urlsplit(url).hostname in EMULATOR_HOSTS


def connect(url: str, bounded: bool = False) -> BlobServiceClient:
    """Azurite's well-known dev key locally; DefaultAzureCredential for a real account.
    Bounded: retries and timeouts that give up within seconds (the SDK's defaults take
    80 s to on an unreachable account, longer than a sensor tick may take)."""
    limits: dict[str, Any] = (
        {
            "retry_policy": ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2),
            "connection_timeout": 5,
            "read_timeout": 30,
        }
        if bounded
        else {}
    )
    if is_emulator(url):
        key = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
        return BlobServiceClient(url, credential=key, **limits)
    from azure.identity import DefaultAzureCredential  # only real Azure needs it

    return BlobServiceClient(url, credential=DefaultAzureCredential(), **limits)


def _info(props: BlobProperties) -> ObjectInfo:
    return ObjectInfo(
        name=props.name,
        size=props.size,
        etag=props.etag.strip('"'),
        last_modified=props.last_modified,
        metadata=dict(props.metadata) if props.metadata is not None else None,
    )


class AzureBucket:
    """A models container: the Bucket that liveline.modelstore.objects describes."""

    def __init__(self, container: ContainerClient) -> None:
        self.container = container

    @property
    def url(self) -> str:
        return str(self.container.url)

    def ensure(self) -> None:
        try:
            self.container.create_container()  # no public_access argument: private
        except ResourceExistsError:
            access = self.container.get_container_properties().public_access
            if access:
                raise ModelStoreError(
                    f"container {self.url} allows public {access!r} access; models must "
                    "stay private: turn public access off for it"
                ) from None

    def put(self, new: NewObject, replacing: str | None = None) -> None:
        blob = self.container.get_blob_client(new.name)
        condition: dict[str, Any] = (
            {"overwrite": False}
            if replacing is None
            else {
                "overwrite": True,
                "etag": replacing,
                "match_condition": MatchConditions.IfNotModified,
            }
        )
        try:
            blob.upload_blob(
                new.data,
                metadata=dict(new.metadata),
                content_settings=ContentSettings(content_type=new.content_type),
                validate_content=True,
                **condition,
            )
        except ResourceExistsError as e:
            raise ObjectExists(new.name) from e
        except ResourceModifiedError as e:
            raise ObjectChanged(new.name) from e

    def get(self, name: str, etag: str | None = None) -> StoredObject:
        pinned = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        try:
            downloader = self.container.download_blob(name, **pinned)  # type: ignore[call-overload]
            data = downloader.readall()
        except ResourceNotFoundError as e:
            raise ObjectNotFound(name) from e
        except ResourceModifiedError as e:
            raise ObjectChanged(name) from e
        return StoredObject(_info(downloader.properties), data)

    def head(self, name: str) -> ObjectInfo:
        try:
            return _info(self.container.get_blob_client(name).get_blob_properties())
        except ResourceNotFoundError as e:
            raise ObjectNotFound(name) from e

    def pages(
        self, prefix: str = "", page_size: int = 1000, token: str | None = None
    ) -> Iterator[Page]:
        listing = self.container.list_blobs(
            name_starts_with=prefix or None, include=["metadata"], results_per_page=page_size
        ).by_page(continuation_token=token)
        # by_page is declared to return a plain iterator; what it returns is a PageIterator,
        # which carries the continuation token a listing resumes from.
        if not isinstance(listing, PageIterator):
            raise TypeError(
                f"blob listing pages are a {type(listing).__name__}, not a PageIterator"
            )
        try:
            for page in listing:
                objects = [_info(blob) for blob in page]
                yield Page(objects, listing.continuation_token or None)
        except ResourceNotFoundError as e:
            raise ObjectNotFound(self.url) from e
