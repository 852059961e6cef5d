"""Train and evaluate the classifier. No I/O here: callers load data and write results."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from model_training.config import TrainingConfig
from model_training.data import Dataset
from model_training.fingerprint import model_version


@dataclass(frozen=True)
class TrainedModel:
    """A fitted pipeline with what is needed to describe it in a model card."""

    config: TrainingConfig
    pipeline: Pipeline
    version: str
    metrics: dict[str, float]
    dataset_name: str
    dataset_fingerprint: str
    feature_names: tuple[str, ...]
    class_labels: tuple[int, ...]
    class_names: tuple[str, ...]
    n_train: int
    n_test: int
    golden_inputs: np.ndarray
    golden_probabilities: np.ndarray


def build_pipeline(config: TrainingConfig) -> Pipeline:
    """Preprocessing lives inside the model, so the artifact is self-contained."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "classify",
                LogisticRegression(
                    C=config.C, max_iter=config.max_iter, random_state=config.random_state
                ),
            ),
        ]
    )


def train(config: TrainingConfig, dataset: Dataset) -> TrainedModel:
    """Fit on a stratified split and evaluate on the held-out rows."""
    x_train, x_test, y_train, y_test = train_test_split(
        dataset.features,
        dataset.target,
        test_size=config.test_size,
        random_state=config.random_state,
        stratify=dataset.target,
    )
    pipeline = build_pipeline(config).fit(x_train, y_train)
    probabilities = pipeline.predict_proba(x_test)
    predictions = pipeline.classes_[probabilities.argmax(axis=1)]
    metrics = {
        "accuracy": float(accuracy_score(y_test, predictions)),
        "f1": float(f1_score(y_test, predictions)),
        "roc_auc": float(roc_auc_score(y_test, probabilities[:, 1])),
    }
    golden = x_test[: config.golden_rows]
    labels = tuple(int(c) for c in pipeline.classes_)
    return TrainedModel(
        config=config,
        pipeline=pipeline,
        version=model_version(pipeline),
        metrics=metrics,
        dataset_name=dataset.name,
        dataset_fingerprint=dataset.fingerprint,
        feature_names=dataset.feature_names,
        class_labels=labels,
        class_names=tuple(dataset.target_names[c] for c in labels),
        n_train=len(x_train),
        n_test=len(x_test),
        golden_inputs=golden,
        golden_probabilities=pipeline.predict_proba(golden),
    )
