"""Published models in Azure Blob Storage (Azurite locally): publish, list, download.

A version lives at `<model_name>/<model_version>/model.skops` and `.../model_card.json`
in a private container. Publishing uploads the artifact first and the card LAST, each
with If-None-Match, so a card means a complete version and nothing published is ever
overwritten. Every blob carries its content's sha256 in its metadata. Azurite has no
blob versioning: a version is pinned by content hash, etag and last-modified time.

Listing reads blob metadata and the small cards, never the artifacts; a download
re-hashes the artifact against its card (modelcard), so tampering is refused there.
Plain library code: `liveline publish` and the Dagster asset graph both use it.
"""

from liveline.modelstore.base import (
    ModelStoreError,
    account_url,
    connect,
    ensure_container,
    is_emulator,
)
from liveline.modelstore.catalog import PublishedModel, Scan, download, get, newest_valid, scan
from liveline.modelstore.publishing import Publication, publish, read_model_dir

__all__ = [
    "ModelStoreError",
    "Publication",
    "PublishedModel",
    "Scan",
    "account_url",
    "connect",
    "download",
    "ensure_container",
    "get",
    "is_emulator",
    "newest_valid",
    "publish",
    "read_model_dir",
    "scan",
]
