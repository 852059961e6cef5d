"""Describe any fitted scikit-learn estimator: check it, measure it, write its card.

The one writer of model cards: the trained_model asset, `liveline publish --estimator`
and `liveline.publish_model` all come here, so every published model meets the same
checks, whoever trained it and wherever. Each refusal names the problem and the fix.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np
import skops.io
from sklearn.base import is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import modelcard
from model_training.evaluate import metrics, predict, unnamed_rows
from model_training.fingerprint import model_version
from model_training.onnx_export import convert
from model_training.refused import Refused
from model_training.tables import EvalData

LIBRARIES = ("scikit-learn", "numpy", "scipy", "skops")
GOLDEN_ROWS = 8


@dataclass(frozen=True)
class Described:
    """A model ready to publish: its artifacts by file name and its card."""

    artifacts: dict[str, bytes]
    card: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.card["model_version"])

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.card["metrics"])


def describe(
    estimator: object,
    data: EvalData,
    *,
    name: str,
    golden_rows: int = GOLDEN_ROWS,
    lineage: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> Described:
    """Check the fitted estimator against its evaluation data and build its card."""
    task = task_of(estimator)
    check_features(estimator, data)
    predictions, probabilities = predict(estimator, data.features)
    classes = classes_of(estimator, data) if task != modelcard.REGRESSION else None
    if classes is not None:
        check_predict_agrees(estimator, data, predictions)
    measured = metrics(task, data.target, predictions, probabilities, classes)
    artifact = serialize(estimator)
    evaluation = {"fingerprint": data.fingerprint, "rows": len(data.features),
                  "name": data.source}  # fmt: skip
    card = card_for(
        estimator, data, (predictions, probabilities, classes), name=name,
        version=model_version(estimator), measured=measured, evaluation=evaluation,
        artifact=artifact, golden_rows=golden_rows, lineage=lineage, created_at=created_at,
    )  # fmt: skip
    artifacts = {modelcard.ARTIFACT_FILE: artifact}
    # Checked on every evaluation row, the golden ones among them (the first n).
    answers = predictions if probabilities is None else probabilities
    conversion = convert(estimator, data.features, task, np.asarray(answers, dtype=np.float64),
                         classifier=classes is not None)  # fmt: skip
    card["onnx"] = conversion.section
    if conversion.artifact is not None:
        artifacts[modelcard.ONNX_FILE] = conversion.artifact
        card["artifacts"].append(
            modelcard.artifact_entry(modelcard.ONNX_FILE, conversion.artifact, modelcard.ONNX)
        )
        card["libraries"] |= conversion.libraries
    return Described(artifacts, card)


def card_for(
    estimator: object,
    data: EvalData,
    answers: tuple[np.ndarray, np.ndarray | None, np.ndarray | None],
    *,
    name: str,
    version: str,
    measured: dict[str, float],
    evaluation: dict[str, Any],
    artifact: bytes,
    golden_rows: int = GOLDEN_ROWS,
    lineage: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The card of a checked estimator: answers are its (predictions, probabilities,
    classes) on data, whose first golden_rows rows become the golden set."""
    predictions, probabilities, classes = answers
    n = min(golden_rows, len(data.features))
    golden: dict[str, Any] = {
        "inputs": data.features[:n].tolist(),
        "predictions": predictions[:n].tolist(),
    }
    card: dict[str, Any] = {
        "schema_version": modelcard.SCHEMA_VERSION,
        "model_name": name,
        "model_version": version,
        "task": task_of(estimator),
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "features": [{"name": n, "dtype": d} for n, d in zip(data.names, data.dtypes, strict=True)],
        "metrics": measured,
        "evaluation": evaluation,
        "golden": golden,
        "artifacts": [modelcard.artifact_entry(modelcard.ARTIFACT_FILE, artifact, modelcard.SKOPS)],
        "libraries": {lib: metadata.version(lib) for lib in LIBRARIES}
        | {"python": sys.version.split()[0]},
        "lineage": {"git_commit": None, "dagster_run_id": None, "training_data": None,
                    "config": None} | (lineage or {}),
        "created_at": (created_at or datetime.now(UTC)).astimezone(UTC).isoformat(
            timespec="seconds"),
    }  # fmt: skip
    if classes is not None:
        assert probabilities is not None
        labels = [c.item() if isinstance(c, np.generic) else c for c in classes]
        card["classes"] = labels
        card["class_names"] = [data.class_names.get(c, str(c)) for c in labels]
        golden["probabilities"] = probabilities[:n].tolist()
    return card


def task_of(estimator: object) -> str:
    if not callable(getattr(estimator, "predict", None)):
        raise Refused(
            f"a {type(estimator).__name__} has no predict method: publish a fitted "
            "scikit-learn classifier or regressor (a Pipeline ending in one is fine)"
        )
    try:
        check_is_fitted(estimator)
    except NotFittedError as e:
        raise Refused(
            f"the {type(estimator).__name__} is not fitted: call .fit(X, y) on your "
            "training data before publishing it"
        ) from e
    except TypeError as e:  # not a scikit-learn estimator at all
        raise Refused(f"{type(estimator).__name__} is not a scikit-learn estimator: {e}") from e
    if is_classifier(estimator):
        if not hasattr(estimator, "predict_proba"):
            raise Refused(
                f"{type(estimator).__name__} has no predict_proba; Liveline serves class "
                "probabilities: wrap it in sklearn.calibration.CalibratedClassifierCV"
            )
        n = len(estimator.classes_)  # type: ignore[attr-defined]
        return modelcard.BINARY if n == 2 else modelcard.MULTICLASS
    if is_regressor(estimator):
        return modelcard.REGRESSION
    raise Refused(
        f"{type(estimator).__name__} is neither a classifier nor a regressor; Liveline "
        "serves those two (clusterers and transformers go inside a Pipeline)"
    )


def check_features(estimator: object, data: EvalData) -> None:
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and expected != len(data.names):
        raise Refused(
            f"the estimator was fitted on {expected} features but the evaluation data has "
            f"{len(data.names)} ({list(data.names)[:5]}...): give the columns it was fitted on"
        )
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is not None and list(fitted) != list(data.names):
        missing = [n for n in fitted if n not in data.names]
        extra = [n for n in data.names if n not in set(fitted)]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "other order"
        raise Refused(
            f"the evaluation data's columns differ from those the estimator was fitted on "
            f"({detail}): select X_eval[{list(fitted)[:3]}...] in the fitted order"
        )


def classes_of(estimator: Any, data: EvalData) -> np.ndarray:
    classes = np.asarray(estimator.classes_)
    if classes.dtype.kind not in "iuUO" or (
        classes.dtype.kind == "O" and not all(isinstance(c, str) for c in classes)
    ):
        raise Refused(
            f"class labels {classes.tolist()} are {classes.dtype}; Liveline serves integer "
            "or string labels: encode y as integers or strings and fit again"
        )
    unknown = sorted(set(np.unique(data.target).tolist()) - set(classes.tolist()), key=str)
    if unknown:
        raise Refused(
            f"the evaluation labels contain {unknown[:5]}, which the estimator never saw "
            f"(it knows {classes.tolist()}): evaluate on labels from the same classes"
        )
    return classes


def check_predict_agrees(estimator: Any, data: EvalData, predictions: np.ndarray) -> None:
    """Serving answers the most probable class; refuse an estimator whose predict differs."""
    own = predict_plain(estimator, data.features)
    differ = int((own != predictions).sum())
    if differ:
        raise Refused(
            f"{type(estimator).__name__}.predict disagrees with the most probable class of "
            f"predict_proba on {differ} of {len(own)} rows (SVC(probability=True) does): "
            "calibrate it with sklearn.calibration.CalibratedClassifierCV"
        )


def predict_plain(estimator: Any, rows: np.ndarray) -> np.ndarray:
    with unnamed_rows():
        return np.asarray(estimator.predict(rows))


def serialize(estimator: object) -> bytes:
    """skops bytes; refuse types that the serving app will not load."""
    artifact = skops.io.dumps(estimator)
    refused = modelcard.refused_types(skops.io.get_untrusted_types(data=artifact))
    if refused:
        raise Refused(
            f"the estimator contains types that Liveline does not trust to load: {refused}. "
            "Only scikit-learn's own types and skops' defaults load without running code: "
            "replace custom classes and functions (e.g. a FunctionTransformer's func) "
            "with scikit-learn ones"
        )
    return artifact
