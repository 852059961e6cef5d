"""Predict and measure a fitted estimator on held-out rows, the way serving will.

Rows go in as a float64 matrix in the card's feature order, exactly what the scoring
service hands the estimator, so the metrics and the golden set describe what is served.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

import modelcard


@contextmanager
def unnamed_rows() -> Iterator[None]:
    """Scoring a matrix with an estimator fitted on a DataFrame warns that the rows have
    no feature names; the card's feature order stands in for them (checked at publish)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield


def predict(estimator: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions, and class probabilities for a classifier (else None)."""
    with unnamed_rows():
        if hasattr(estimator, "predict_proba"):
            probabilities = np.asarray(estimator.predict_proba(rows), dtype=np.float64)
            return np.asarray(estimator.classes_)[probabilities.argmax(axis=1)], probabilities
        return np.asarray(estimator.predict(rows)), None


def metrics(
    task: str, y: np.ndarray, predictions: np.ndarray, probabilities: np.ndarray | None,
    classes: np.ndarray | None = None,
) -> dict[str, float]:  # fmt: skip
    """The task's metrics (modelcard.METRICS) on held-out labels."""
    if task == modelcard.REGRESSION:
        return {
            "r2": float(r2_score(y, predictions)),
            "mae": float(mean_absolute_error(y, predictions)),
            "rmse": float(np.sqrt(mean_squared_error(y, predictions))),
        }
    assert probabilities is not None and classes is not None
    if task == modelcard.BINARY:
        f1 = f1_score(y, predictions, pos_label=classes[1])
        auc = roc_auc_score(y == classes[1], probabilities[:, 1])
    else:
        f1 = f1_score(y, predictions, average="macro", labels=classes)
        auc = roc_auc_score(y, probabilities, multi_class="ovr", average="macro", labels=classes)
    return {"accuracy": float(accuracy_score(y, predictions)), "f1": float(f1),
            "roc_auc": float(auc)}  # fmt: skip
