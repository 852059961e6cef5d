"""Training is reproducible, evaluated on held-out data and described by its card: the
project's recipe (pyproject.toml) through liveline.training, as the asset graph runs it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
import sklearn

from liveline import project, settings, training
from model_training.recipe import Recipe, table_summary
from tests.support import models


def test_same_recipe_gives_same_model_version(trained):
    again = models.train()
    assert again.described.version == trained.described.version
    assert again.described.metrics == trained.described.metrics


def test_other_params_give_another_version(trained):
    assert models.train(C=0.1).described.version != trained.described.version


def test_another_seed_gives_another_version(trained):
    assert models.train(random_state=7).described.version != trained.described.version


def test_held_out_metrics_are_good(trained):
    measured = trained.described.metrics
    assert set(measured) == {"accuracy", "f1", "roc_auc"}
    assert measured["accuracy"] > 0.95
    assert measured["f1"] > 0.95
    assert measured["roc_auc"] > 0.98
    assert trained.fitted.n_train == 426 and len(trained.fitted.evaluation.features) == 143


def test_table_fingerprint_tracks_content(trained):
    table, _ = training.load_table(*_project())
    assert table_summary(table)["fingerprint"] == trained.summary["fingerprint"]
    table.iloc[0, 0] += 1.0
    assert table_summary(table)["fingerprint"] != trained.summary["fingerprint"]


def test_changed_data_is_refused_when_a_fingerprint_is_expected(trained):
    table, source = training.load_table(*_project())
    table.iloc[0, 0] += 1.0
    expected = trained.summary["fingerprint"]
    with pytest.raises(ValueError, match=f"no longer {expected}"):
        training.train_table(Recipe(), table, source, expected_fingerprint=expected)


def test_card_describes_the_artifact():
    trained = models.train(created_at=datetime(2026, 1, 2, tzinfo=UTC))
    done = trained.described
    card, artifact = done.card, done.artifacts["model.skops"]
    assert card["schema_version"] == 2 and card["task"] == "binary_classification"
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
    assert card["libraries"]["scikit-learn"] == sklearn.__version__
    lineage = card["lineage"]
    assert lineage["training_data"]["fingerprint"] == trained.summary["fingerprint"]
    assert lineage["training_data"]["name"] == "loader model_training.builtin:breast_cancer"
    declared = training.recipe(_project()[0])
    assert lineage["config"] == declared.to_dict()
    assert lineage["config"]["params"] == {"C": 1.0, "max_iter": 1000}
    assert card["evaluation"]["rows"] == 143
    assert card["metrics"] == pytest.approx(done.metrics)
    assert card["created_at"] == "2026-01-02T00:00:00+00:00"
    golden = card["golden"]
    assert len(golden["inputs"]) == len(golden["predictions"]) == declared.golden_rows
    json.dumps(card)  # serialisable as is


@pytest.mark.parametrize(
    "bad",
    [{"test_size": 0.0}, {"test_size": 1.0}, {"golden_rows": 0}, {"model_name": "a/b"},
     {"model_name": ""}, {"entry_point": "no_colon"}],
)  # fmt: skip
def test_invalid_recipe_is_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        Recipe(**bad)


def _project() -> tuple[project.Project, settings.Settings]:
    return project.load(models.PROJECT_FILE), settings.load()
