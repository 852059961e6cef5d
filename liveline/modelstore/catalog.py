"""Reading the store: list the valid versions, pick the newest, download one verified."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liveline.modelstore.base import ModelStoreError, ObjectChanged, ObjectNotFound
from liveline.modelstore.objects import Bucket, ObjectInfo, listing, metadata
from modelcard import (
    ARTIFACT_FILE,
    CARD_FILE,
    CardError,
    ModelCard,
    check_sklearn_version,
    sha256,
    verify_artifact,
)

OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PublishedModel:
    """One complete, consistent version in the store."""

    name: str
    version: str
    artifact_sha256: str
    artifact_size: int
    artifact_etag: str
    card_sha256: str
    card_etag: str  # etags unquoted, as listings give them
    published_at: datetime  # the card object's last-modified time
    artifact_url: str
    card_url: str
    card: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Scan:
    valid: list[PublishedModel]  # newest first
    passed_over: dict[str, str]  # "<name>/<version>" -> why it is not valid


def scan(bucket: Bucket, stop_at_first: bool = False) -> Scan:
    """Valid versions newest first (by card upload), and why the others were passed over."""
    groups: dict[str, dict[str, ObjectInfo]] = {}
    try:
        for blob in listing(bucket, page_size=5000):
            prefix, _, file = blob.name.rpartition("/")
            if prefix.count("/") == 1 and file in (ARTIFACT_FILE, CARD_FILE):
                groups.setdefault(prefix, {})[file] = blob
    except ObjectNotFound as e:
        raise ModelStoreError(
            f"there is no models store at {bucket.url}: publish a model first"
        ) from e

    seconds = Counter(c.last_modified for g in groups.values() if (c := g.get(CARD_FILE)))

    def newest_first(
        item: tuple[str, dict[str, ObjectInfo]],
    ) -> tuple[datetime, str] | tuple[datetime]:
        card = item[1].get(CARD_FILE)
        if card is None:
            return (OLDEST,)
        # Where the listing carries no metadata (S3), only cards of the same second need it.
        tied = seconds[card.last_modified] > 1
        return (card.last_modified, metadata(bucket, card).get("published_at", "") if tied else "")

    valid: list[PublishedModel] = []
    passed_over: dict[str, str] = {}
    for prefix, blobs in sorted(groups.items(), key=newest_first, reverse=True):
        card_blob, artifact_blob = blobs.get(CARD_FILE), blobs.get(ARTIFACT_FILE)
        if card_blob is None:
            passed_over[prefix] = "incomplete: no model card (a publish in progress or interrupted)"
            continue
        try:
            if artifact_blob is None:
                raise ModelStoreError(f"{prefix} has a model card but no artifact")
            card = bucket.get(card_blob.name, etag=card_blob.etag)
            artifact_info = artifact_blob
            if artifact_info.metadata is None:
                artifact_info = bucket.head(artifact_blob.name)
            valid.append(validate(bucket, prefix, card.data, card.info, artifact_info))
        except (ModelStoreError, ObjectChanged, ObjectNotFound) as e:
            passed_over[prefix] = str(e).splitlines()[0]
            continue
        if stop_at_first:
            break
    return Scan(valid, passed_over)


def newest_valid(bucket: Bucket) -> tuple[PublishedModel, dict[str, str]]:
    """The newest valid version, and the newer versions passed over (with reasons)."""
    found = scan(bucket, stop_at_first=True)
    if not found.valid:
        reasons = "".join(f"\n  {p}: {why}" for p, why in found.passed_over.items())
        raise ModelStoreError(f"no valid published model in {bucket.url}{reasons}")
    return found.valid[0], found.passed_over


def get(bucket: Bucket, name: str, version: str) -> PublishedModel:
    """One published version, verified down to the artifact's bytes."""
    model = read_version(bucket, f"{name}/{version}")
    if model is None:
        raise ModelStoreError(f"{name} {version} is not published in {bucket.url}")
    return model


def download(bucket: Bucket, model: PublishedModel, dest: Path) -> Path:
    """Download exactly the listed objects (by etag) into dest, verified as serving will."""
    prefix = f"{model.name}/{model.version}"
    try:
        card_bytes = bucket.get(f"{prefix}/{CARD_FILE}", etag=model.card_etag).data
        artifact = bucket.get(f"{prefix}/{ARTIFACT_FILE}", etag=model.artifact_etag).data
        card = ModelCard.from_json(card_bytes, source=f"{prefix}/{CARD_FILE}")
        files = {ARTIFACT_FILE: artifact, CARD_FILE: card_bytes}
        for extra in card.artifacts:  # the ONNX graph beside the skops artifact
            if extra.file not in files:
                files[extra.file] = bucket.get(f"{prefix}/{extra.file}").data
        for file, data in files.items():
            if file != CARD_FILE:
                verify_artifact(card, data, file)
    except (ObjectChanged, ObjectNotFound) as e:
        raise ModelStoreError(
            f"{prefix} changed or vanished since it was listed: published versions must "
            "not change; find out who writes to them"
        ) from e
    except CardError as e:
        raise ModelStoreError(f"refusing {prefix} from {bucket.url}: {e}") from e
    if sha256(card_bytes) != model.card_sha256 or card.artifact_sha256 != model.artifact_sha256:
        raise ModelStoreError(f"refusing {prefix}: its card is not the one that was listed")
    dest.mkdir(parents=True, exist_ok=True)
    # Files dated by their publication, not the download, so that builds stay cacheable.
    stamp = model.published_at.timestamp()
    for name, data in files.items():
        (dest / name).write_bytes(data)
        os.utime(dest / name, (stamp, stamp))
    return dest


def read_version(bucket: Bucket, prefix: str) -> PublishedModel | None:
    """The version at prefix verified down to the artifact bytes; None if it has no card."""
    try:
        card = bucket.get(f"{prefix}/{CARD_FILE}")
    except ObjectNotFound:
        return None
    try:
        artifact = bucket.get(f"{prefix}/{ARTIFACT_FILE}")
    except ObjectNotFound as e:
        raise ModelStoreError(
            f"{prefix} is published but its artifact is missing: investigate, then delete "
            "its card and publish again"
        ) from e
    return validate(bucket, prefix, card.data, card.info, artifact.info, artifact.data)


def validate(
    bucket: Bucket,
    prefix: str,
    card_bytes: bytes,
    card_props: ObjectInfo,
    artifact_props: ObjectInfo,
    artifact: bytes | None = None,
) -> PublishedModel:
    """The version if card and artifact agree with each other and with their metadata."""
    try:
        card = ModelCard.from_json(card_bytes, source=f"{prefix}/{CARD_FILE}")
    except CardError as e:
        raise ModelStoreError(str(e)) from e
    problems = []
    if f"{card.model_name}/{card.model_version}" != prefix:
        problems.append(f"its card names {card.model_name} {card.model_version}")
    if (card_props.metadata or {}).get("sha256") != sha256(card_bytes):
        problems.append("the card's bytes do not match the sha256 in its object metadata")
    claimed = (artifact_props.metadata or {}).get("sha256")
    if claimed != card.artifact_sha256:
        problems.append(f"artifact object metadata sha256 {claimed} is not the card's")
    if artifact_props.size != card.artifact.size:
        problems.append(f"artifact size {artifact_props.size} is not the card's")
    if artifact is not None and (actual := sha256(artifact)) != card.artifact_sha256:
        problems.append(f"the artifact's sha256 {actual} is not the card's: corrupt or tampered")
    try:  # the serving image pins the scikit-learn that this environment runs
        check_sklearn_version(card)
    except CardError as e:
        raise ModelStoreError(f"{prefix} cannot be served: {e}") from e
    if problems:
        raise ModelStoreError(
            f"{prefix} in {bucket.url} is inconsistent: {'; '.join(problems)}. Published "
            "versions are never overwritten: investigate, delete its objects, publish again"
        )
    return PublishedModel(
        name=card.model_name,
        version=card.model_version,
        artifact_sha256=card.artifact_sha256,
        artifact_size=artifact_props.size,
        artifact_etag=artifact_props.etag,
        card_sha256=sha256(card_bytes),
        card_etag=card_props.etag,
        published_at=card_props.last_modified,
        artifact_url=f"{bucket.url}/{prefix}/{ARTIFACT_FILE}",
        card_url=f"{bucket.url}/{prefix}/{CARD_FILE}",
        card=card.raw,
    )


def find_card(bucket: Bucket, version: str) -> ModelCard | None:
    """The card of a version of any model, unverified; None if no readable card has it.
    A listing of the whole store: for status, not for ticks."""
    for item in listing(bucket, page_size=5000):
        name, _, rest = item.name.partition("/")
        if name.startswith("_") or rest != f"{version}/{CARD_FILE}":
            continue
        with contextlib.suppress(CardError):
            return ModelCard.from_json(bucket.get(item.name).data, source=item.name)
    return None
