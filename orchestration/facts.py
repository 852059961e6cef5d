"""Facts passed between assets, sensors and `liveline status`: typed views of metadata.

Assets hand each other facts (a path, a commit, an image id) through materialization
metadata rather than stored outputs, so a materialization reported from outside a run
(e.g. a sensor seeing a model published with `liveline publish`) carries all they need.
Each fact is a small dataclass: its fields are the metadata keys downstream code reads,
written by `to_metadata()` and read back by `latest()` / `from_metadata()`, so a key
is spelled once. Display-only metadata (sizes, timings, tables) stays beside it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

from dagster import AssetCheckKey, AssetKey, DagsterInstance, Failure, MetadataValue

from liveline import constants

# How a field is shown in the UI (metadata kind), when it is not plain text.
KIND = "kind"


def latest_metadata(instance: DagsterInstance, key: AssetKey) -> dict[str, Any]:
    """Plain values of the metadata of key's latest materialization."""
    values = latest_metadata_or_none(instance, key)
    if values is None:
        raise Failure(f"{key.to_user_string()} has no materialization yet: materialize it first")
    return values


def latest_metadata_or_none(instance: DagsterInstance, key: AssetKey) -> dict[str, Any] | None:
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


@dataclass(frozen=True)
class Fact:
    """Base of the typed facts; ASSET names the asset whose materializations carry it."""

    ASSET: ClassVar[str]

    @classmethod
    def key(cls) -> AssetKey:
        return AssetKey(cls.ASSET)

    @classmethod
    def from_metadata(cls, values: dict[str, Any]) -> Self:
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in values]
        if missing:
            raise Failure(
                f"{cls.ASSET}'s latest materialization lacks {', '.join(missing)}: "
                f"materialize {cls.ASSET} again"
            )
        return cls(**{n: values[n] for n in names})

    @classmethod
    def latest(cls, instance: DagsterInstance) -> Self:
        return cls.from_metadata(latest_metadata(instance, cls.key()))

    @classmethod
    def latest_or_none(cls, instance: DagsterInstance) -> Self | None:
        values = latest_metadata_or_none(instance, cls.key())
        return None if values is None else cls.from_metadata(values)

    def to_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = f.metadata.get(KIND)
            out[f.name] = _WRAP[kind](value) if kind else value
        return out


_WRAP = {
    "path": lambda v: MetadataValue.path(str(v)),
    "text": MetadataValue.text,
    "url": MetadataValue.url,
    "int": MetadataValue.int,
    "timestamp": lambda v: MetadataValue.timestamp(v if isinstance(v, float) else v.timestamp()),
}


@dataclass(frozen=True)
class TrainingDataFacts(Fact):
    ASSET = constants.TRAINING_DATA
    dataset: str
    fingerprint: str


@dataclass(frozen=True)
class TrainedModelFacts(Fact):
    ASSET = constants.TRAINED_MODEL
    model_name: str
    model_version: str
    path: str = field(metadata={KIND: "path"})
    artifact_sha256: str


@dataclass(frozen=True)
class PublishedModelFacts(Fact):
    ASSET = constants.MODEL_BLOB
    model_name: str
    model_version: str
    card_url: str = field(metadata={KIND: "url"})
    artifact_url: str = field(metadata={KIND: "url"})
    artifact_sha256: str
    artifact_size: int = field(metadata={KIND: "int"})
    artifact_etag: str
    card_etag: str
    published_at: float | datetime = field(metadata={KIND: "timestamp"})
    newly_published: bool

    @classmethod
    def of(cls, model: Any, newly_published: bool) -> PublishedModelFacts:
        """From a liveline.modelstore.PublishedModel."""
        return cls(
            model.name, model.version, model.card_url, model.artifact_url,
            model.artifact_sha256, model.artifact_size, model.artifact_etag,
            model.card_etag, model.published_at, newly_published,
        )  # fmt: skip


@dataclass(frozen=True)
class SourceFacts(Fact):
    ASSET = constants.APP_SOURCE
    sha: str
    repository: str = field(metadata={KIND: "path"})
    branch: str
    requested: str
    author: str
    date: str
    message: str = field(metadata={KIND: "text"})


@dataclass(frozen=True)
class ImageFacts(Fact):
    ASSET = constants.SERVING_IMAGE
    image_id: str
    reference: str
    tag: str
    revision: str
    model_name: str
    model_version: str
    model_sha256: str
    model_card_etag: str


@dataclass(frozen=True)
class PushedImageFacts(Fact):
    ASSET = constants.REGISTRY_IMAGE
    reference: str  # registry/repository@sha256:...
    tag: str
    digest: str
    image_id: str
    revision: str
    model_version: str


@dataclass(frozen=True)
class DeploymentFacts(Fact):
    ASSET = constants.CLUSTER_DEPLOYMENT
    image: str
    digest: str
    code_revision: str
    model_version: str
    namespace: str
    deployment: str


def require_passed(instance: DagsterInstance, check: AssetCheckKey, **expected: Any) -> None:
    """Fail unless check's latest evaluation passed and its metadata holds `expected`."""
    name = f"{check.asset_key.to_user_string()}:{check.name}"
    record = instance.get_latest_asset_check_evaluation_record(check)
    evaluation = record.event.asset_check_evaluation if record and record.event else None
    if evaluation is None or not evaluation.passed:
        raise Failure(f"check {name} has not passed for the latest materialization: run it")
    seen = {k: v.value for k, v in evaluation.metadata.items()}
    for key, value in expected.items():
        if seen.get(key) != value:
            raise Failure(f"check {name} passed for {key}={seen.get(key)!r}, not {value!r}")
