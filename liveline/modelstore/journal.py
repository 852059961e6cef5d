"""The publication journal: one empty object per published model version, named so that
a listing gives the newest first.

    _journal/<inverted microseconds since the epoch, 17 digits>/<name>/<version>

written right after the version's model card, stamped with the card's last-modified time
(the server's clock), carrying the card's etag and published_at in its metadata. Readers
list the `_journal/` prefix from the top and stop at the first entry older than what they
have seen, so finding new versions costs O(new entries), not O(all blobs). Model names
start with a letter or digit (modelstore.SAFE_NAME), so `_journal/` never names a model.

Plain library code with no Dagster: `publishing.publish` writes an entry for every
version it uploads; orchestration/sensors/model_watch.py reads them.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from liveline.modelstore.base import ObjectExists
from liveline.modelstore.catalog import PublishedModel
from liveline.modelstore.objects import Bucket, NewObject
from modelcard import CARD_FILE

JOURNAL = "_journal/"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_US = 10**17 - 1  # inverted microseconds since the epoch: 17 digits, until year 5138


def entry_name(modified: datetime, prefix: str) -> str:
    return f"{JOURNAL}{LATEST_US - (modified - EPOCH) // timedelta(microseconds=1):017d}/{prefix}"


def parse_entry(name: str) -> tuple[datetime, str] | None:
    """(when the card was written, "<name>/<version>"), or None for a foreign name."""
    inverted, _, prefix = name.removeprefix(JOURNAL).partition("/")
    if len(inverted) != 17 or not inverted.isdigit() or prefix.count("/") != 1:
        return None
    return EPOCH + timedelta(microseconds=LATEST_US - int(inverted)), prefix


def record(bucket: Bucket, model: PublishedModel) -> str:
    """Write the journal entry of a published version (idempotent); its object name."""
    prefix = f"{model.name}/{model.version}"
    card = bucket.head(f"{prefix}/{CARD_FILE}")
    name = entry_name(card.last_modified, prefix)
    published_at = (card.metadata or {}).get("published_at", "")
    metadata = {"published_at": published_at, "card_etag": model.card_etag}
    with contextlib.suppress(ObjectExists):  # recorded before: keep that entry
        bucket.put(NewObject(name, b"", metadata, "application/octet-stream"))
    return name
