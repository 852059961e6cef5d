"""Reading, checking and writing model cards (schema version 1)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
ARTIFACT_FILE = "model.skops"
CARD_FILE = "model_card.json"


class CardError(Exception):
    """The model cannot be used; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class ModelCard:
    """The fields of the model card that publishing and serving rely on."""

    model_name: str
    model_version: str
    artifact_file: str
    artifact_sha256: str
    feature_names: tuple[str, ...]
    classes: tuple[int, ...]
    class_names: tuple[str, ...]
    sklearn_version: str
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "model card") -> ModelCard:
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise CardError(f"{source} is not valid JSON: {e}") from e
        if not isinstance(raw, dict):
            raise CardError(f"{source} must be a JSON object, got {type(raw).__name__}")
        schema = raw.get("schema_version")
        if schema != SCHEMA_VERSION:
            raise CardError(
                f"{source} has schema_version {schema!r}; this service reads "
                f"{SCHEMA_VERSION}: retrain or upgrade the serving image"
            )
        try:
            artifact = raw["artifact"]
            card = cls(
                model_name=_text(raw["model_name"], "model_name"),
                model_version=_text(raw["model_version"], "model_version"),
                artifact_file=_text(artifact["file"], "artifact.file"),
                artifact_sha256=_text(artifact["sha256"], "artifact.sha256"),
                feature_names=tuple(_text(n, "feature_names[]") for n in raw["feature_names"]),
                classes=tuple(_integer(c, "classes[]") for c in raw["classes"]),
                class_names=tuple(_text(n, "class_names[]") for n in raw["class_names"]),
                sklearn_version=_text(raw["sklearn_version"], "sklearn_version"),
                raw=raw,
            )
        except KeyError as e:
            raise CardError(f"{source} lacks the field {e.args[0]!r}") from e
        except (TypeError, ValueError) as e:
            raise CardError(f"{source} is malformed: {e}") from e
        if not card.feature_names or len(set(card.feature_names)) != len(card.feature_names):
            raise CardError(f"{source}: feature_names must be non-empty and unique")
        if len(card.classes) < 2 or len(card.classes) != len(card.class_names):
            raise CardError(f"{source}: needs 2+ classes, each with a name")
        if Path(card.artifact_file).name != card.artifact_file:
            raise CardError(f"{source}: artifact.file must be a plain file name")
        return card

    @classmethod
    def read(cls, model_dir: Path) -> ModelCard:
        path = model_dir / CARD_FILE
        try:
            return cls.from_json(path.read_bytes(), source=str(path))
        except OSError as e:
            raise CardError(f"cannot read the model card in {model_dir}: {e}") from e


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    return value


def _integer(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    return value


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_artifact(card: ModelCard, artifact: bytes) -> None:
    """Refuse an artifact that is not the one the card describes."""
    actual = sha256(artifact)
    if actual != card.artifact_sha256:
        raise CardError(
            f"artifact sha256 {actual} does not match the model card's "
            f"{card.artifact_sha256}: the artifact is corrupt or was tampered with; "
            f"publish the model again"
        )


def check_sklearn_version(card: ModelCard, installed: str | None = None) -> None:
    """Refuse a model trained with another scikit-learn than the one installed here
    (read from the distribution's metadata: importing scikit-learn costs seconds)."""
    installed = installed or metadata.version("scikit-learn")
    if card.sklearn_version != installed:
        raise CardError(
            f"model {card.model_version} was trained with scikit-learn "
            f"{card.sklearn_version} but this service runs {installed}: "
            f"rebuild the image with scikit-learn=={card.sklearn_version} or retrain"
        )


def artifact_entry(artifact: bytes, fmt: str = "skops") -> dict[str, Any]:
    """The card's description of an artifact: file, format, sha256, size."""
    return {"file": ARTIFACT_FILE, "format": fmt, "sha256": sha256(artifact),
            "size": len(artifact)}  # fmt: skip


def card_json(card: dict[str, Any]) -> bytes:
    return (json.dumps(card, indent=2, sort_keys=True) + "\n").encode()


def write_model_dir(out_dir: Path, artifact: bytes, card: dict[str, Any]) -> Path:
    """Write artifact and card into out_dir; the card is written last, atomically.

    A reader that finds the card therefore finds the complete artifact it describes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in ((ARTIFACT_FILE, artifact), (CARD_FILE, card_json(card))):
        tmp = out_dir / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out_dir / name)
    return out_dir / CARD_FILE
