"""Azurite as the stand-in for Azure Blob Storage: what the model store relies on."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def container(blob_service: BlobServiceClient) -> Iterator[ContainerClient]:
    """A fresh container per test, deleted afterwards."""
    client = blob_service.create_container(f"test-{uuid.uuid4().hex[:12]}")
    yield client
    client.delete_container()


def test_upload_list_and_read_back_with_metadata(container: ContainerClient) -> None:
    payloads = {f"models/iris/{i}.skops": f"model bytes {i}".encode() for i in range(3)}
    for name, data in payloads.items():
        container.upload_blob(
            name,
            data,
            metadata={"sha256": hashlib.sha256(data).hexdigest(), "stage": "candidate"},
            content_settings=ContentSettings(content_type="application/octet-stream"),
        )

    listed = {b.name: b for b in container.list_blobs(name_starts_with="models/iris/",
                                                       include=["metadata"])}  # fmt: skip
    assert set(listed) == set(payloads)
    for name, data in payloads.items():
        blob = listed[name]
        assert blob.metadata == {"sha256": hashlib.sha256(data).hexdigest(), "stage": "candidate"}
        assert blob.etag and blob.last_modified and blob.size == len(data)
        assert container.download_blob(name).readall() == data
        props = container.get_blob_client(name).get_blob_properties()
        assert props.metadata["sha256"] == hashlib.sha256(data).hexdigest()
        assert props.content_settings.content_type == "application/octet-stream"


def test_conditional_write_with_stale_etag_is_refused(container: ContainerClient) -> None:
    blob = container.get_blob_client("pointer/current")
    stale = blob.upload_blob(b"v1")["etag"]
    fresh = blob.upload_blob(b"v2", overwrite=True)["etag"]
    assert fresh != stale

    with pytest.raises(ResourceModifiedError) as refused:
        blob.upload_blob(b"v3", overwrite=True, etag=stale,
                         match_condition=MatchConditions.IfNotModified)  # fmt: skip
    assert refused.value.status_code == 412
    assert blob.download_blob().readall() == b"v2"

    # With the current etag the same write goes through.
    blob.upload_blob(b"v3", overwrite=True, etag=fresh,
                     match_condition=MatchConditions.IfNotModified)  # fmt: skip
    assert blob.download_blob().readall() == b"v3"
