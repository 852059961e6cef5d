"""The model store: one interface over the places published models are kept.

Two kinds stand behind it: an object store (Azure Blob Storage or S3, through
objects.Bucket, with Liveline's own layout, journal and sweep: ObjectStore here) and the
MLflow Model Registry (mlflow.MlflowStore), whose numbered versions, aliases and run
records replace the layout. The asset graph, the release sensor, `liveline publish` and
`status` speak only this interface; liveline.modelstore.select opens the chosen one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from liveline.modelstore import catalog, publishing, watch
from liveline.modelstore.catalog import PublishedModel, Scan
from liveline.modelstore.objects import Bucket
from liveline.modelstore.publishing import Publication
from liveline.project import Gates
from modelcard import ModelCard


@dataclass(frozen=True)
class News:
    """What one poll of the store found, for the release sensor."""

    cursor: dict[str, Any]  # the store's own cursor (JSON), passed back to the next poll
    current: str  # "<name>/<version>" of the model to run ("" while there is none)
    newest: PublishedModel | None  # a version to announce, if this poll found one
    rejected: dict[str, str]  # "<name>/<version>" -> why, for versions refused in this poll
    swept: bool  # this poll also went through the whole store


class ModelStore(Protocol):
    """Publish, list, verify and download published models; poll for new ones."""

    @property
    def url(self) -> str:
        """Where the models are kept, for messages."""
        ...

    def publish(self, model_dir: Path, gates: Gates | None = None) -> Publication: ...

    def scan(self) -> Scan: ...

    def newest_valid(self) -> tuple[PublishedModel, dict[str, str]]: ...

    def get(self, name: str, version: str) -> PublishedModel: ...

    def download(self, model: PublishedModel, dest: Path) -> Path: ...

    def card_of(self, version: str) -> ModelCard | None:
        """The card of a version of any model, unverified (for status); None if unknown."""
        ...

    def poll(self, cursor: Mapping[str, Any], now: float, sweep_every_s: float) -> News:
        """New verified versions since cursor, in O(new) requests."""
        ...


class ObjectStore:
    """A ModelStore over a container or bucket: the rules of catalog, publishing and
    watch, written once over objects.Bucket."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    @property
    def url(self) -> str:
        return self.bucket.url

    def publish(self, model_dir: Path, gates: Gates | None = None) -> Publication:
        return publishing.publish(self.bucket, model_dir, gates)

    def scan(self) -> Scan:
        return catalog.scan(self.bucket)

    def newest_valid(self) -> tuple[PublishedModel, dict[str, str]]:
        return catalog.newest_valid(self.bucket)

    def get(self, name: str, version: str) -> PublishedModel:
        return catalog.get(self.bucket, name, version)

    def download(self, model: PublishedModel, dest: Path) -> Path:
        return catalog.download(self.bucket, model, dest)

    def card_of(self, version: str) -> ModelCard | None:
        return catalog.find_card(self.bucket, version)

    def poll(self, cursor: Mapping[str, Any], now: float, sweep_every_s: float) -> News:
        known = {f.name for f in fields(watch.ModelCursor)}
        # Fields this version does not know (a cursor from another version) are dropped.
        last = watch.ModelCursor(**{k: v for k, v in cursor.items() if k in known})
        found = watch.poll(self.bucket, last, now, sweep_every_s)
        return News(
            asdict(found.cursor), found.cursor.newest, found.newest, found.rejected, found.swept
        )
