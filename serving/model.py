"""Load the model artifact and its card once, verified, and score with it.

The card is the contract with training: its sha256 must match the artifact byte for
byte, and the scikit-learn that loads the model must be the one that trained it.
Loading uses skops with an explicit trusted-type check, never pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops.io

from modelcard import CardError, ModelCard, check_sklearn_version, verify_artifact

# Types beyond skops' defaults that a Liveline artifact may contain. Empty: a
# StandardScaler + LogisticRegression pipeline needs none. Anything else is refused.
TRUSTED_TYPES: frozenset[str] = frozenset()
# The card's errors are this service's: a model that fails its card cannot be served.
ModelLoadError = CardError


def load_estimator(artifact: bytes) -> object:
    """skops load that trusts only the default types plus TRUSTED_TYPES."""
    try:
        untrusted = set(skops.io.get_untrusted_types(data=artifact))
    except Exception as e:  # skops raises many types on a corrupt archive
        raise ModelLoadError(f"artifact is not a readable skops archive: {e}") from e
    refused = untrusted - TRUSTED_TYPES
    if refused:
        raise ModelLoadError(
            f"artifact contains types this service does not trust: {sorted(refused)}"
        )
    try:
        return skops.io.loads(artifact, trusted=sorted(untrusted))
    except Exception as e:
        raise ModelLoadError(f"artifact could not be loaded: {e}") from e


@dataclass(frozen=True)
class LoadedModel:
    """A verified model ready to score."""

    card: ModelCard
    estimator: Any  # a fitted scikit-learn estimator (scikit-learn has no types)
    classes: np.ndarray

    @property
    def n_features(self) -> int:
        return len(self.card.feature_names)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        # Rows arrive validated as finite float64 (serving.payload), so scikit-learn's
        # own finiteness scan is redundant. Extreme but finite values can still overflow
        # inside the pipeline: the caller checks the result instead of numpy warning.
        with (
            sklearn.config_context(assume_finite=True, skip_parameter_validation=True),
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        ):
            return self.estimator.predict_proba(rows)


def load_model(model_dir: Path) -> LoadedModel:
    """Read, verify and load the card and artifact in model_dir."""
    card = ModelCard.read(model_dir)
    try:
        artifact = (model_dir / card.artifact_file).read_bytes()
    except OSError as e:
        raise ModelLoadError(f"cannot read the model in {model_dir}: {e}") from e
    verify_artifact(card, artifact)
    check_sklearn_version(card)
    estimator = load_estimator(artifact)
    fitted = [int(c) for c in getattr(estimator, "classes_", [])]
    if fitted != list(card.classes):
        raise ModelLoadError(f"artifact classes {fitted} differ from the card's {card.classes}")
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in != len(card.feature_names):
        raise ModelLoadError(
            f"artifact expects {n_in} features, the card names {len(card.feature_names)}"
        )
    return LoadedModel(card=card, estimator=estimator, classes=np.asarray(card.classes))
