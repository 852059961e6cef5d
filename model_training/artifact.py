"""The model artifact (skops) and its model card (JSON): the contract with serving.

skops, not pickle: loading a skops archive instantiates only the types the loader
explicitly trusts, so a tampered or hostile artifact cannot run code on load.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import sklearn
import skops.io

from model_training.train import TrainedModel

CARD_SCHEMA_VERSION = 1
ARTIFACT_FILE = "model.skops"
CARD_FILE = "model_card.json"


def serialize(model: TrainedModel) -> bytes:
    """The fitted pipeline as skops bytes."""
    return skops.io.dumps(model.pipeline)


def build_card(model: TrainedModel, artifact: bytes, created_at: datetime) -> dict[str, object]:
    """Everything serving and the orchestrator need to know about the artifact."""
    return {
        "schema_version": CARD_SCHEMA_VERSION,
        "model_name": model.config.model_name,
        "model_version": model.version,
        "artifact": {
            "file": ARTIFACT_FILE,
            "format": "skops",
            "sha256": hashlib.sha256(artifact).hexdigest(),
            "size": len(artifact),
        },
        "feature_names": list(model.feature_names),
        "classes": list(model.class_labels),
        "class_names": list(model.class_names),
        "metrics": model.metrics,
        "sklearn_version": sklearn.__version__,
        "training_data": {
            "name": model.dataset_name,
            "fingerprint": model.dataset_fingerprint,
            "n_train": model.n_train,
            "n_test": model.n_test,
        },
        "config": model.config.to_dict(),
        "golden": {
            "inputs": model.golden_inputs.tolist(),
            "probabilities": model.golden_probabilities.tolist(),
        },
        "created_at": created_at.astimezone(UTC).isoformat(timespec="seconds"),
    }


def card_json(card: dict[str, object]) -> bytes:
    return (json.dumps(card, indent=2, sort_keys=True) + "\n").encode()


def write_model(model: TrainedModel, out_dir: Path, created_at: datetime | None = None) -> Path:
    """Write artifact and card into out_dir; the card is written last, atomically.

    A reader that finds the card therefore finds the complete artifact it describes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact = serialize(model)
    card = build_card(model, artifact, created_at or datetime.now(UTC))
    for name, data in ((ARTIFACT_FILE, artifact), (CARD_FILE, card_json(card))):
        tmp = out_dir / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out_dir / name)
    return out_dir / CARD_FILE
