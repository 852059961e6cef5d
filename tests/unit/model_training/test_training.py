"""Training is reproducible, evaluated on held-out data and described by its card."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
import sklearn

from model_training import TrainingConfig, train
from model_training.artifact import described
from model_training.data import load_dataset


def test_same_config_gives_same_model_version(dataset, trained):
    again = train(TrainingConfig(), load_dataset())
    assert again.version == trained.version
    assert again.metrics == trained.metrics


def test_another_config_gives_another_version(dataset, trained):
    other = train(TrainingConfig(C=0.1), dataset)
    assert other.version != trained.version


def test_another_seed_gives_another_version(dataset, trained):
    assert train(TrainingConfig(random_state=7), dataset).version != trained.version


def test_held_out_metrics_are_good(trained):
    assert set(trained.metrics) == {"accuracy", "f1", "roc_auc"}
    assert trained.metrics["accuracy"] > 0.95
    assert trained.metrics["f1"] > 0.95
    assert trained.metrics["roc_auc"] > 0.98
    assert trained.n_test == 143 and trained.n_train == 426


def test_dataset_fingerprint_tracks_content(dataset):
    assert dataset.fingerprint == load_dataset().fingerprint
    changed = load_dataset()
    changed.features[0, 0] += 1.0
    assert changed.fingerprint != dataset.fingerprint


def test_card_describes_the_artifact(trained):
    done = described(trained, datetime(2026, 1, 2, tzinfo=UTC))
    card, artifact = done.card, done.artifacts["model.skops"]
    assert card["schema_version"] == 2 and card["task"] == "binary_classification"
    assert card["model_version"] == trained.version
    entry, graph = card["artifacts"]
    assert entry == {"file": "model.skops", "format": "skops", "size": len(artifact),
                     "sha256": hashlib.sha256(artifact).hexdigest()}  # fmt: skip
    onnx = done.artifacts["model.onnx"]
    assert graph == {"file": "model.onnx", "format": "onnx", "size": len(onnx),
                     "sha256": hashlib.sha256(onnx).hexdigest()}  # fmt: skip
    assert card["onnx"]["status"] == "converted" and card["onnx"]["dtype"] == "float64"
    assert card["onnx"]["rows_checked"] == 143 and card["onnx"]["max_abs_error"] < 1e-12
    assert card["features"][0] == {"name": "mean radius", "dtype": "float64"}
    assert len(card["features"]) == 30
    assert card["classes"] == [0, 1]
    assert card["class_names"] == ["malignant", "benign"]
    assert card["libraries"]["scikit-learn"] == sklearn.__version__
    assert card["lineage"]["training_data"]["fingerprint"] == trained.dataset_fingerprint
    assert card["lineage"]["config"] == TrainingConfig().to_dict()
    assert card["evaluation"]["rows"] == 143
    assert card["metrics"] == pytest.approx(trained.metrics)
    assert card["created_at"] == "2026-01-02T00:00:00+00:00"
    golden = card["golden"]
    assert len(golden["inputs"]) == len(golden["predictions"]) == TrainingConfig().golden_rows
    json.dumps(card)  # serialisable as is


@pytest.mark.parametrize(
    "bad",
    [{"test_size": 0.0}, {"C": -1.0}, {"max_iter": 0}, {"model_name": "a/b"}],
)
def test_invalid_config_is_refused(bad):
    with pytest.raises(ValueError):
        TrainingConfig(**bad)
