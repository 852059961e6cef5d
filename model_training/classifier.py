"""Train and evaluate the built-in classifier. No I/O here: callers load data and write."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import modelcard
from model_training.config import TrainingConfig
from model_training.data import Dataset
from model_training.evaluate import metrics, predict
from model_training.fingerprint import model_version
from model_training.tables import EvalData, eval_data


@dataclass(frozen=True)
class TrainedModel:
    """A fitted pipeline, the held-out rows it was measured on, and where it came from."""

    config: TrainingConfig
    pipeline: Pipeline
    version: str
    metrics: dict[str, float]
    evaluation: EvalData
    dataset_name: str
    dataset_fingerprint: str
    n_train: int

    @property
    def n_test(self) -> int:
        return len(self.evaluation.features)

    @property
    def lineage(self) -> dict[str, object]:
        return {
            "training_data": {
                "name": self.dataset_name,
                "fingerprint": self.dataset_fingerprint,
                "n_train": self.n_train,
                "n_test": self.n_test,
            },
            "config": self.config.to_dict(),
        }


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
    held_out = eval_data(
        x_test,
        y_test,
        feature_names=dataset.feature_names,
        source=f"{dataset.name} (held-out {config.test_size:g})",
        class_names=dict(enumerate(dataset.target_names)),
    )
    predictions, probabilities = predict(pipeline, held_out.features)
    task = modelcard.BINARY if len(pipeline.classes_) == 2 else modelcard.MULTICLASS
    return TrainedModel(
        config=config,
        pipeline=pipeline,
        version=model_version(pipeline),
        metrics=metrics(task, held_out.target, predictions, probabilities, pipeline.classes_),
        evaluation=held_out,
        dataset_name=dataset.name,
        dataset_fingerprint=dataset.fingerprint,
        n_train=len(x_train),
    )
