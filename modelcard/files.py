"""The card's files: digests, the artifact check, the library check, the atomic write."""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from modelcard.card import CARD_FILE, CardError, ModelCard

SCHEMA_FILE = Path(__file__).with_name("model_card.schema.json")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_artifact(card: ModelCard, artifact: bytes, file: str | None = None) -> None:
    """Refuse an artifact that is not the one the card describes (default: the skops one)."""
    entry = next((a for a in card.artifacts if a.file == file), card.artifact)
    actual = sha256(artifact)
    if actual != entry.sha256:
        raise CardError(
            f"artifact {entry.file} sha256 {actual} does not match the model card's "
            f"{entry.sha256}: the artifact is corrupt or was tampered with; "
            f"publish the model again"
        )


def check_sklearn_version(card: ModelCard, installed: str | None = None) -> None:
    """Refuse a model trained with another scikit-learn than the one installed here
    (read from the distribution's metadata: importing scikit-learn costs seconds)."""
    installed = installed or metadata.version("scikit-learn")
    if card.sklearn_version != installed:
        raise CardError(
            f"model {card.model_version} was trained with scikit-learn "
            f"{card.sklearn_version} but this Liveline runs {installed}: "
            f"retrain it with scikit-learn=={installed}, or serve it from an image "
            f"built with scikit-learn=={card.sklearn_version}"
        )


def artifact_entry(file: str, artifact: bytes, fmt: str) -> dict[str, Any]:
    """The card's description of an artifact: file, format, sha256, size."""
    return {"file": file, "format": fmt, "sha256": sha256(artifact), "size": len(artifact)}


def card_json(card: dict[str, Any]) -> bytes:
    return (json.dumps(card, indent=2, sort_keys=True) + "\n").encode()


def write_model_dir(out_dir: Path, artifacts: dict[str, bytes], card: dict[str, Any]) -> Path:
    """Write the artifacts and then the card into out_dir, each atomically.

    A reader that finds the card therefore finds the complete artifacts it describes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in (*artifacts.items(), (CARD_FILE, card_json(card))):
        tmp = out_dir / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out_dir / name)
    return out_dir / CARD_FILE
