"""The model stage without the platform: training_data, trained_model and its quality gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterEventType, instance_for_test, materialize

from liveline import modelstore
from modelcard import CARD_FILE, ModelCard
from orchestration.assets.model import card_markdown, store_model, trained_model, training_data
from orchestration.checks import trained_model_quality_gate

MODEL_STAGE = [training_data, trained_model, trained_model_quality_gate]
GATE = AssetCheckKey(AssetKey("trained_model"), "quality_gate")


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVELINE_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("LIVELINE_MODEL_GATE", raising=False)
    return tmp_path


def _metadata(instance, name: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(name))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_trained_model_records_versions_metrics_and_card(state_dir):
    with instance_for_test() as instance:
        result = materialize(MODEL_STAGE, instance=instance)
        assert result.success
        data = _metadata(instance, "training_data")
        assert data["dataset"] == "loader model_training.builtin:breast_cancer"
        assert data["rows"] == 569 and len(data["columns"]) == 31
        assert data["columns"]["mean radius"] == "float64"
        model = _metadata(instance, "trained_model")
        assert model["path"] == str(state_dir / "models" / model["model_version"])
        card = json.loads((state_dir / "models" / model["model_version"] / CARD_FILE).read_text())
        assert model["artifact_sha256"] == card["artifacts"][0]["sha256"]
        assert model["task"] == "binary_classification"
        assert model["accuracy"] == pytest.approx(card["metrics"]["accuracy"])
        assert model["accuracy"] > 0.95
        lineage = card["lineage"]
        assert lineage["training_data"]["fingerprint"] == data["fingerprint"]
        assert lineage["config"]["entry_point"] == "model_training.builtin:logistic_regression"
        assert lineage["dagster_run_id"] == result.run_id
        assert (lineage["training_data"]["n_train"], card["evaluation"]["rows"]) == (426, 143)
        assert model["model_version"] in model["model_card"]
        versions = {
            e.asset_key.to_user_string(): e.event_specific_data.materialization.tags
            for e in result.get_asset_materialization_events()
        }
        assert versions["training_data"]["dagster/data_version"] == data["fingerprint"]
        assert versions["trained_model"]["dagster/data_version"] == model["model_version"]
        evaluation = instance.get_latest_asset_check_evaluation_record(GATE)
        assert evaluation.event.asset_check_evaluation.passed


def test_run_config_trains_another_model():
    with instance_for_test() as instance:
        assert materialize(MODEL_STAGE, instance=instance).success
        first = _metadata(instance, "trained_model")["model_version"]
        config = {"ops": {"trained_model": {"config": {"params": {"C": 0.05}}}}}
        assert materialize(MODEL_STAGE, instance=instance, run_config=config).success
        assert _metadata(instance, "trained_model")["model_version"] != first
        bad = {"ops": {"trained_model": {"config": {"test_size": 1.5}}}}
        result = materialize(MODEL_STAGE, instance=instance, run_config=bad, raise_on_error=False)
        assert not result.success
        failure = next(
            e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE
        )
        assert "test_size must be between 0 and 1" in str(failure.event_specific_data.error)


def test_the_project_configuration_alone_changes_what_is_trained(tmp_path, monkeypatch):
    """Another data set (a CSV file), another estimator, another gate: no code changed."""
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.to_csv(tmp_path / "iris.csv", index=False)
    (tmp_path / "liveline.toml").write_text(
        "[training]\nmodel_name = 'iris'\n"
        "entry_point = 'tests.support.recipes:forest'\nparams = { n_estimators = 25 }\n"
        "[training.data]\npath = 'iris.csv'\ntarget = 'target'\n"
        "[gates]\nclassification = 'accuracy=0.85'\n"
    )
    monkeypatch.setenv("LIVELINE_PROJECT_FILE", str(tmp_path / "liveline.toml"))
    with instance_for_test() as instance:
        assert materialize(MODEL_STAGE, instance=instance).success
        data = _metadata(instance, "training_data")
        assert data["dataset"] == str(tmp_path / "iris.csv") and data["rows"] == 150
        model = _metadata(instance, "trained_model")
        card = ModelCard.read(Path(model["path"]))
        assert card.model_name == "iris" and card.task == "multiclass_classification"
        assert card.raw["estimator"] == "sklearn.ensemble._forest.RandomForestClassifier"
        assert card.raw["lineage"]["config"]["params"] == {"n_estimators": 25}
        check = instance.get_latest_asset_check_evaluation_record(GATE).event
        assert check.asset_check_evaluation.metadata["gate_accuracy"].value == 0.85


def test_quality_gate_fails_a_model_below_the_minimums(monkeypatch):
    monkeypatch.setenv("LIVELINE_MODEL_GATE", "accuracy=0.999,f1=0.5")
    with instance_for_test() as instance:
        result = materialize(MODEL_STAGE, instance=instance, raise_on_error=False)
        assert not result.success
        evaluation = instance.get_latest_asset_check_evaluation_record(GATE).event
        assert not evaluation.asset_check_evaluation.passed
        assert "accuracy 0.98" in evaluation.asset_check_evaluation.description
        assert "f1" not in evaluation.asset_check_evaluation.description


def test_store_model_keeps_an_intact_folder_and_repairs_a_broken_one(tmp_path, trained):
    done = trained.described
    path = store_model(done, tmp_path)
    card_before = (path / CARD_FILE).read_bytes()
    assert store_model(done, tmp_path) == path
    assert (path / CARD_FILE).read_bytes() == card_before
    (path / "model.skops").write_bytes(b"broken")
    store_model(done, tmp_path)
    modelstore.read_model_dir(path)  # consistent again


def test_card_markdown_is_a_table(card):
    text = card_markdown(ModelCard.from_dict(card))
    assert text.startswith("| field | value |")
    assert card["model_version"] in text and card["artifacts"][0]["sha256"] in text
    assert "binary_classification" in text
