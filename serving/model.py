"""Load the model artifact and its card once, verified, and score with it.

The card is the contract with training: its sha256 must match the artifact byte for
byte, and the scikit-learn that loads the model must be the one that trained it.
Loading uses skops with an explicit trusted-type check, never pickle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
import skops.io

CARD_FILE = "model_card.json"
SUPPORTED_CARD_SCHEMA = 1
# Types beyond skops' defaults that a Liveline artifact may contain. Empty: a
# StandardScaler + LogisticRegression pipeline needs none. Anything else is refused.
TRUSTED_TYPES: frozenset[str] = frozenset()


class ModelLoadError(Exception):
    """The model cannot be served; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class ModelCard:
    """The fields of the model card that serving relies on."""

    model_name: str
    model_version: str
    artifact_file: str
    artifact_sha256: str
    feature_names: tuple[str, ...]
    classes: tuple[int, ...]
    class_names: tuple[str, ...]
    sklearn_version: str
    raw: dict

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "model card") -> ModelCard:
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise ModelLoadError(f"{source} is not valid JSON: {e}") from e
        if not isinstance(raw, dict):
            raise ModelLoadError(f"{source} must be a JSON object, got {type(raw).__name__}")
        schema = raw.get("schema_version")
        if schema != SUPPORTED_CARD_SCHEMA:
            raise ModelLoadError(
                f"{source} has schema_version {schema!r}; this service reads "
                f"{SUPPORTED_CARD_SCHEMA}: retrain or upgrade the serving image"
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
            raise ModelLoadError(f"{source} lacks the field {e.args[0]!r}") from e
        except (TypeError, ValueError) as e:
            raise ModelLoadError(f"{source} is malformed: {e}") from e
        if not card.feature_names or len(set(card.feature_names)) != len(card.feature_names):
            raise ModelLoadError(f"{source}: feature_names must be non-empty and unique")
        if len(card.classes) < 2 or len(card.classes) != len(card.class_names):
            raise ModelLoadError(f"{source}: needs 2+ classes, each with a name")
        if Path(card.artifact_file).name != card.artifact_file:
            raise ModelLoadError(f"{source}: artifact.file must be a plain file name")
        return card


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    return value


def _integer(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    return value


def verify_artifact(card: ModelCard, artifact: bytes) -> None:
    """Refuse an artifact that is not the one the card describes."""
    actual = hashlib.sha256(artifact).hexdigest()
    if actual != card.artifact_sha256:
        raise ModelLoadError(
            f"artifact sha256 {actual} does not match the model card's "
            f"{card.artifact_sha256}: the artifact is corrupt or was tampered with; "
            f"publish the model again"
        )


def check_sklearn_version(card: ModelCard) -> None:
    if card.sklearn_version != sklearn.__version__:
        raise ModelLoadError(
            f"model {card.model_version} was trained with scikit-learn "
            f"{card.sklearn_version} but this service runs {sklearn.__version__}: "
            f"rebuild the image with scikit-learn=={card.sklearn_version} or retrain"
        )


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
    estimator: object
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
    card_path = model_dir / CARD_FILE
    try:
        card = ModelCard.from_json(card_path.read_bytes(), source=str(card_path))
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
