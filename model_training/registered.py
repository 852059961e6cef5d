"""Cards for models registered elsewhere (the MLflow Model Registry) without one: the
estimator as its owner saved it, checked like any other model, described from the rows
its owner logged as its input example and from the metrics its owner recorded.

No held-out labels come with such a model, so Liveline measures nothing itself: the
card's metrics are the owner's, and the quality gate applies to them. The golden set is
the model's own answers on the example rows, which the smoke test then asks for again.
The card is a function of the registry's records (no clock, no randomness), so reading
the same version twice gives the same card, byte for byte.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

import modelcard
from model_training.describe import (
    GOLDEN_ROWS,
    card_for,
    check_features,
    check_predict_agrees,
    classes_of,
    task_of,
)
from model_training.evaluate import predict
from model_training.refused import Refused
from model_training.skops_file import loads_skops
from model_training.tables import eval_data


def describe_registered(
    artifact: bytes,
    rows: Any,
    *,
    name: str,
    version: str,
    measured: Mapping[str, float],
    source: str,
    created_at: datetime,
    feature_names: Sequence[str] | None = None,
    lineage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card of a registered skops artifact; rows: its example inputs (a DataFrame,
    or a 2-D list with feature_names). Raises Refused naming what is missing."""
    estimator = loads_skops(artifact, source)
    if not len(rows):
        raise Refused(f"{source} has no example rows to check the model on")
    if not hasattr(rows, "columns") and feature_names is None:  # rows without names
        width = len(rows[0])
        fitted = getattr(estimator, "feature_names_in_", None)
        feature_names = list(fitted) if fitted is not None else [f"x{i}" for i in range(width)]
    labels = np.zeros(len(rows))  # a placeholder: the model's own answers replace it
    data = eval_data(rows, labels, feature_names=feature_names, source=source)
    task = task_of(estimator)
    check_features(estimator, data)
    predictions, probabilities = predict(estimator, data.features)
    data = dataclasses.replace(data, target=predictions)
    classes = classes_of(estimator, data) if task != modelcard.REGRESSION else None
    if classes is not None:
        check_predict_agrees(estimator, data, predictions)
    evaluation = {"fingerprint": data.fingerprint, "rows": len(data.features), "name": source}
    card = card_for(
        estimator, data, (predictions, probabilities, classes), name=name, version=version,
        measured={k: float(v) for k, v in measured.items()}, evaluation=evaluation,
        artifact=artifact, golden_rows=GOLDEN_ROWS, lineage=lineage, created_at=created_at,
    )  # fmt: skip
    card["onnx"] = {
        "status": modelcard.SKIPPED,
        "reason": "a registered model is served from the files its owner registered",
    }
    return card
