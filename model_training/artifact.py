"""Write a trained model's artifact (skops) and model card (modelcard) into a folder.

skops, not pickle: loading a skops archive instantiates only the types the loader
explicitly trusts, so a tampered or hostile artifact cannot run code on load.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import modelcard
from model_training.classifier import TrainedModel
from model_training.describe import Described, describe


def described(model: TrainedModel, created_at: datetime | None = None) -> Described:
    """The model's artifact and card, through the one card writer."""
    return describe(
        model.pipeline,
        model.evaluation,
        name=model.config.model_name,
        golden_rows=model.config.golden_rows,
        lineage=model.lineage,
        created_at=created_at,
    )


def write_model(model: TrainedModel, out_dir: Path, created_at: datetime | None = None) -> Path:
    """Write artifact and card into out_dir (the card last); return the card's path."""
    done = described(model, created_at)
    return modelcard.write_model_dir(out_dir, done.artifacts, done.card)
