"""Load the model and its card once, verified, and score with it.

The card is the contract with training: the artifact served must match its sha256 byte
for byte. The runtime (serving.runtimes) is the ONNX graph on onnxruntime where the card
has one, else the skops artifact on the scikit-learn that trained it (never pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcard import CardError, ModelCard
from serving import runtimes

# The card's errors are this service's: a model that fails its card cannot be served.
ModelLoadError = CardError


@dataclass(frozen=True)
class Scores:
    predictions: Any  # a numpy array, or a list of string labels (orjson writes no str arrays)
    probabilities: np.ndarray | None  # classifiers only


@dataclass(frozen=True)
class LoadedModel:
    """A verified model ready to score."""

    card: ModelCard
    runtime: runtimes.Runtime
    classes: np.ndarray  # empty for a regressor

    @property
    def n_features(self) -> int:
        return len(self.card.feature_names)

    def predict(self, rows: np.ndarray) -> Scores:
        """Classifiers: the most probable class and every probability; regressors: values.

        Extreme but finite values can still overflow inside the model: the caller checks
        the result for non-finite numbers and refuses it, so a NaN row's label (argmax
        picks the NaN) is never served. Kept to the fewest numpy calls: this is the
        per-request path.
        """
        answers = self.runtime.answer(rows)
        if not self.classes.size:
            return Scores(answers, None)
        labels = self.classes[answers.argmax(axis=1)]
        return Scores(labels.tolist() if labels.dtype.kind == "U" else labels, answers)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        probabilities = self.predict(rows).probabilities
        if probabilities is None:
            raise TypeError(f"{self.card.model_name} is a regressor: it has no probabilities")
        return probabilities


def load_model(model_dir: Path, runtime: str = runtimes.AUTO) -> LoadedModel:
    """Read and verify the card in model_dir, then load the artifact its runtime serves."""
    card = ModelCard.read(model_dir)
    loaded = runtimes.load(card, model_dir, runtimes.choose(card, runtime))
    runtimes.verify_present(card, model_dir, loaded.artifact)
    return LoadedModel(card=card, runtime=loaded, classes=np.asarray(card.classes))
