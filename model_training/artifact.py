"""The model artifact (skops) and its model card (modelcard: the contract with serving).

skops, not pickle: loading a skops archive instantiates only the types the loader
explicitly trusts, so a tampered or hostile artifact cannot run code on load.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sklearn
import skops.io

import modelcard
from model_training.train import TrainedModel


def serialize(model: TrainedModel) -> bytes:
    """The fitted pipeline as skops bytes."""
    return skops.io.dumps(model.pipeline)


def build_card(model: TrainedModel, artifact: bytes, created_at: datetime) -> dict[str, object]:
    """Everything serving and the orchestrator need to know about the artifact."""
    return {
        "schema_version": modelcard.SCHEMA_VERSION,
        "model_name": model.config.model_name,
        "model_version": model.version,
        "artifact": modelcard.artifact_entry(artifact),
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


def write_model(model: TrainedModel, out_dir: Path, created_at: datetime | None = None) -> Path:
    """Write artifact and card into out_dir (the card last); return the card's path."""
    artifact = serialize(model)
    card = build_card(model, artifact, created_at or datetime.now(UTC))
    return modelcard.write_model_dir(out_dir, artifact, card)
