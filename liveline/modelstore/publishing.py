"""Publishing: artifact first, card last, never overwriting a published version."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import modelcard
from liveline.modelstore import journal
from liveline.modelstore.base import ModelStoreError, ObjectChanged, ObjectExists
from liveline.modelstore.catalog import PublishedModel, read_version
from liveline.modelstore.objects import Bucket, NewObject
from liveline.project import Gates

log = logging.getLogger(__name__)

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# An artifact without a card older than this is an interrupted publish that may be
# replaced; a younger one is a publish in progress, left alone.
STALE_PARTIAL = timedelta(minutes=10)


@dataclass(frozen=True)
class Publication:
    model: PublishedModel
    uploaded: bool  # False: the version was already published and nothing was written


def publish(
    bucket: Bucket,
    model_dir: Path,
    gates: Gates | None = None,
    stale_after: timedelta = STALE_PARTIAL,
) -> Publication:
    """Publish the model in model_dir; a version already published is kept as it is."""
    card, card_bytes, artifacts = read_model_dir(model_dir)
    label = f"{card.model_name} {card.model_version}"
    check_gate(card, gates)
    bucket.ensure()
    prefix = f"{card.model_name}/{card.model_version}"
    # Retrained elsewhere, the same version has other skops bytes: the published ones stay.
    if (existing := read_version(bucket, prefix)) is not None:
        log.info("%s is already published at %s", label, existing.card_url)
        return Publication(existing, uploaded=False)
    # The skops artifact last: listings take a version with a card and a skops artifact
    # for complete, and a download re-hashes every artifact the card lists.
    for entry in sorted(card.artifacts, key=lambda a: a.format == modelcard.SKOPS):
        _put_artifact(bucket, f"{prefix}/{entry.file}", artifacts[entry.file], card, stale_after)
    metadata = {
        **_metadata(card, card_bytes),
        "artifact_sha256": card.artifact_sha256,
        # Orders versions whose cards landed within the same second of last-modified.
        "published_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    try:
        bucket.put(
            NewObject(f"{prefix}/{modelcard.CARD_FILE}", card_bytes, metadata, "application/json")
        )
    except ObjectExists:
        log.info("%s was published concurrently; that publication stands", label)
        return Publication(_read_back(bucket, prefix), uploaded=False)
    log.info("published %s at %s", label, bucket.url)
    published = _read_back(bucket, prefix)
    # Last, after the card: the release sensor finds new versions through the journal.
    journal.record(bucket, published)
    return Publication(published, uploaded=True)


def check_gate(card: modelcard.ModelCard, gates: Gates | None) -> None:
    """Refuse a model below its quality gate, naming the metrics that fall short."""
    label = f"{card.model_name} {card.model_version}"
    try:
        gate = (gates or Gates()).for_model(card.model_name, card.task)
    except ValueError as e:
        raise ModelStoreError(f"refusing to publish {label}: {e}") from e
    problems = modelcard.shortfalls(card.metrics, gate)
    if problems:
        raise ModelStoreError(
            f"refusing to publish {label}: below the quality gate: " + "; ".join(problems)
        )


def read_model_dir(model_dir: Path) -> tuple[modelcard.ModelCard, bytes, dict[str, bytes]]:
    """The card, its bytes and its artifacts by file; a folder whose files disagree with
    its card is refused."""
    try:
        card_bytes = (model_dir / modelcard.CARD_FILE).read_bytes()
        card = modelcard.ModelCard.from_json(
            card_bytes, source=str(model_dir / modelcard.CARD_FILE)
        )
        artifacts = {a.file: (model_dir / a.file).read_bytes() for a in card.artifacts}
        for file, data in artifacts.items():
            modelcard.verify_artifact(card, data, file)
        modelcard.check_sklearn_version(card)  # a model the serving image could not load
    except OSError as e:
        raise ModelStoreError(f"cannot read the model in {model_dir}: {e}") from e
    except modelcard.CardError as e:
        raise ModelStoreError(f"refusing to publish {model_dir}: {e}") from e
    for what, value in (("model_name", card.model_name), ("model_version", card.model_version)):
        if not SAFE_NAME.match(value):
            raise ModelStoreError(f"{model_dir}: {what} {value!r} cannot name a blob folder")
    if card.artifact_file != modelcard.ARTIFACT_FILE:
        raise ModelStoreError(f"{model_dir}: the artifact must be named {modelcard.ARTIFACT_FILE}")
    return card, card_bytes, artifacts


def _read_back(bucket: Bucket, prefix: str) -> PublishedModel:
    model = read_version(bucket, prefix)
    if model is None:
        raise ModelStoreError(f"{prefix} vanished from {bucket.url} right after publishing")
    return model


def _metadata(card: modelcard.ModelCard, content: bytes) -> dict[str, str]:
    return {
        "sha256": modelcard.sha256(content),
        "model_name": card.model_name,
        "model_version": card.model_version,
    }


def _put_artifact(
    bucket: Bucket, name: str, artifact: bytes, card: modelcard.ModelCard, stale_after: timedelta
) -> None:
    new = NewObject(name, artifact, _metadata(card, artifact), "application/octet-stream")
    try:
        bucket.put(new)
        return
    except ObjectExists:
        pass
    # An artifact without a card: a publish of this version in progress, or interrupted.
    props = bucket.head(name)
    existing = bucket.get(name, etag=props.etag).data
    expected = next(a.sha256 for a in card.artifacts if name.endswith(f"/{a.file}"))
    if modelcard.sha256(existing) == expected == (props.metadata or {}).get("sha256"):
        return  # our very bytes: complete that upload with the card
    age = datetime.now(UTC) - props.last_modified
    if age < stale_after:
        raise ModelStoreError(
            f"{name} exists without a model card, {age.total_seconds():.0f} s old: "
            f"another publish of this version is in progress; retry after {stale_after}"
        )
    log.warning("replacing %s, left without a card %s ago", name, age)
    try:
        bucket.put(new, replacing=props.etag)
    except ObjectChanged as e:
        raise ModelStoreError(
            f"{name} changed while being replaced: another publish is in progress; retry later"
        ) from e
