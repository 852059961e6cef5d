"""Load the model artifact and its card once, verified, and score with it.

The card is the contract with training: its sha256 must match the artifact byte for
byte, and the scikit-learn that loads the model must be the one that trained it.
Loading uses skops with an explicit trusted-type check, never pickle.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import sklearn.base
import skops.io

from modelcard import CardError, ModelCard, check_sklearn_version, refused_types, verify_artifact

# The card's errors are this service's: a model that fails its card cannot be served.
ModelLoadError = CardError


def load_estimator(artifact: bytes) -> object:
    """skops load that trusts the default types plus scikit-learn's own (modelcard.trust)."""
    try:
        untrusted = set(skops.io.get_untrusted_types(data=artifact))
    except Exception as e:  # skops raises many types on a corrupt archive
        raise ModelLoadError(f"artifact is not a readable skops archive: {e}") from e
    refused = refused_types(untrusted)
    if refused:
        raise ModelLoadError(f"artifact contains types this service does not trust: {refused}")
    try:
        return skops.io.loads(artifact, trusted=sorted(untrusted))
    except Exception as e:
        raise ModelLoadError(f"artifact could not be loaded: {e}") from e


@dataclass(frozen=True)
class Scores:
    predictions: Any  # a numpy array, or a list of string labels (orjson writes no str arrays)
    probabilities: np.ndarray | None  # classifiers only


@dataclass(frozen=True)
class LoadedModel:
    """A verified model ready to score."""

    card: ModelCard
    estimator: Any  # a fitted scikit-learn estimator (scikit-learn has no types)
    classes: np.ndarray  # empty for a regressor

    @property
    def n_features(self) -> int:
        return len(self.card.feature_names)

    def predict(self, rows: np.ndarray) -> Scores:
        """Classifiers: the most probable class and every probability; regressors: values.

        Rows arrive validated as finite float64 (serving.payload), so scikit-learn's own
        finiteness scan is redundant. Extreme but finite values can still overflow inside
        the pipeline: the caller checks the result instead of numpy warning. A model
        fitted on a DataFrame warns that the rows have no names; the card's feature
        order stands in for them, checked at publish.
        """
        with (
            sklearn.config_context(assume_finite=True, skip_parameter_validation=True),
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
            warnings.catch_warnings(),
        ):
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            if not self.card.is_classifier:
                return Scores(np.asarray(self.estimator.predict(rows), dtype=np.float64), None)
            probabilities = np.asarray(self.estimator.predict_proba(rows), dtype=np.float64)
        labels = self.classes[np.nan_to_num(probabilities, nan=-1.0).argmax(axis=1)]
        return Scores(labels.tolist() if labels.dtype.kind == "U" else labels, probabilities)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        probabilities = self.predict(rows).probabilities
        if probabilities is None:
            raise TypeError(f"{self.card.model_name} is a regressor: it has no probabilities")
        return probabilities


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
    if card.is_classifier != sklearn.base.is_classifier(estimator):
        kind = "a classifier" if sklearn.base.is_classifier(estimator) else "not a classifier"
        raise ModelLoadError(f"the card says {card.task} but the artifact is {kind}")
    if card.is_classifier:
        labels = getattr(estimator, "classes_", [])
        fitted = [c.item() if isinstance(c, np.generic) else c for c in labels]
        if fitted != list(card.classes):
            raise ModelLoadError(
                f"artifact classes {fitted} differ from the card's {list(card.classes)}"
            )
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in != len(card.feature_names):
        raise ModelLoadError(
            f"artifact expects {n_in} features, the card names {len(card.feature_names)}"
        )
    return LoadedModel(card=card, estimator=estimator, classes=np.asarray(card.classes))
