"""The object store under the model store: what publishing, listing and the release
sensor's watch need from Azure Blob Storage or S3, and nothing more.

The model store's rules (artifact first, card last, never overwrite, the journal, the
sweep) are written once over `Bucket`; liveline/modelstore/azure.py and s3.py translate
them to each service. Written by hand because no maintained library offers conditional
writes and etag-pinned reads over both: fsspec's adlfs and s3fs hide the etags and the
If-None-Match writes that keep a published version from ever being overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    etag: str  # unquoted
    # Whole seconds on both services (S3 listings give milliseconds, its HEAD seconds).
    last_modified: datetime
    # None where the service's listing carries no metadata (S3): `Bucket.head` has it.
    metadata: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Page:
    objects: list[ObjectInfo]
    token: str | None  # where the listing goes on; None: it is complete


@dataclass(frozen=True)
class NewObject:
    """What `Bucket.put` writes: the bytes, and the metadata and type stored with them."""

    name: str
    data: bytes = field(repr=False)
    metadata: Mapping[str, str]
    content_type: str


@dataclass(frozen=True)
class StoredObject:
    info: ObjectInfo
    data: bytes = field(repr=False)


class Bucket(Protocol):
    """An Azure Blob container or an S3 bucket holding published models."""

    @property
    def url(self) -> str:
        """Where it is, for messages: https://account/container, s3://bucket."""
        ...

    def ensure(self) -> None:
        """Create it, private; refuse one that allows public access."""
        ...

    def put(self, new: NewObject, replacing: str | None = None) -> None:
        """Create the object, or raise ObjectExists; with `replacing` (an etag), overwrite
        exactly that version of it, or raise ObjectChanged. The service checks the bytes
        it receives against a digest sent with them."""
        ...

    def get(self, name: str, etag: str | None = None) -> StoredObject:
        """The object's bytes and properties (ObjectNotFound); with `etag`, exactly that
        version (ObjectChanged)."""
        ...

    def head(self, name: str) -> ObjectInfo:
        """The object's properties with its metadata (ObjectNotFound)."""
        ...

    def pages(
        self, prefix: str = "", page_size: int = 1000, token: str | None = None
    ) -> Iterator[Page]:
        """The objects under prefix in name order, a page at a time, from `token` on
        (ObjectNotFound when the bucket does not exist)."""
        ...


def listing(bucket: Bucket, prefix: str = "", page_size: int = 1000) -> Iterator[ObjectInfo]:
    """Every object under prefix in name order, fetched a page at a time."""
    for page in bucket.pages(prefix, page_size):
        yield from page.objects


def metadata(bucket: Bucket, info: ObjectInfo) -> Mapping[str, str]:
    """The object's metadata: from its listing where the service lists it, else a HEAD."""
    return info.metadata if info.metadata is not None else bucket.head(info.name).metadata or {}
