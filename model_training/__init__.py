"""Reproducible training of the Liveline classifier: pure functions, I/O at the edges.

`from model_training import TrainingConfig, train` works as always, but the names are
imported on first use (PEP 562): `train` brings scikit-learn (2-3 s to import), and the
light modules (`config`, `refused`) are imported by code that never trains, such as the
Dagster code location that every run worker loads (a release never trains)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_training.classifier import TrainedModel, train
    from model_training.config import TrainingConfig
    from model_training.refused import Refused

_WHERE = {
    "TrainingConfig": "model_training.config",
    "Refused": "model_training.refused",
    "TrainedModel": "model_training.classifier",
    "train": "model_training.classifier",
}
__all__ = ["Refused", "TrainedModel", "TrainingConfig", "train"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'model_training' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # found directly from now on
    return value
