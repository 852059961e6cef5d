"""Published models in an object store: Azure Blob Storage (Azurite locally) or S3
(SeaweedFS locally), chosen by LIVELINE_MODEL_STORE (liveline.modelstore.select).

A version lives at `<model_name>/<model_version>/model.skops` and `.../model_card.json`
(and `model.onnx` where it converts) in a private container or bucket. Publishing uploads
the artifacts first and the card LAST, each create-only (If-None-Match: *), so a card
means a complete version and nothing published is ever overwritten. Every object carries
its content's sha256 in its metadata. A version is pinned by content hash, etag and
last-modified time.

Listing reads metadata and the small cards, never the artifacts; a download re-hashes
the artifacts against their card (modelcard), so tampering is refused there. The rules
are written once over `objects.Bucket`; azure.py and s3.py speak to each service.
Plain library code: `liveline publish` and the Dagster asset graph both use it.
"""

from liveline.modelstore.azure import AzureBucket, account_url, connect, is_emulator
from liveline.modelstore.base import ModelStoreError
from liveline.modelstore.catalog import PublishedModel, Scan, download, get, newest_valid, scan
from liveline.modelstore.objects import Bucket
from liveline.modelstore.publishing import Publication, publish, read_model_dir
from liveline.modelstore.s3 import S3Bucket
from liveline.modelstore.select import SERVICE_ERRORS, location, open_bucket, open_store
from liveline.modelstore.store import ModelStore, News, ObjectStore

__all__ = [
    "SERVICE_ERRORS",
    "AzureBucket",
    "Bucket",
    "ModelStore",
    "ModelStoreError",
    "News",
    "ObjectStore",
    "Publication",
    "PublishedModel",
    "S3Bucket",
    "Scan",
    "account_url",
    "connect",
    "download",
    "get",
    "is_emulator",
    "location",
    "newest_valid",
    "open_bucket",
    "open_store",
    "publish",
    "read_model_dir",
    "scan",
]
