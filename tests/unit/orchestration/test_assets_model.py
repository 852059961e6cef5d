"""The model stage without the platform: training_data, trained_model and its quality gate."""

from __future__ import annotations

import json

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


def test_trained_model_records_versions_metrics_and_card(state_dir, dataset, trained):
    with instance_for_test() as instance:
        result = materialize(MODEL_STAGE, instance=instance)
        assert result.success
        data = _metadata(instance, "training_data")
        assert data["fingerprint"] == dataset.fingerprint
        assert (data["rows"], data["features"]) == (569, 30)
        model = _metadata(instance, "trained_model")
        assert model["model_version"] == trained.version
        assert model["accuracy"] == pytest.approx(trained.metrics["accuracy"])
        assert model["path"] == str(state_dir / "models" / trained.version)
        card = json.loads((state_dir / "models" / trained.version / CARD_FILE).read_text())
        assert model["artifact_sha256"] == card["artifacts"][0]["sha256"]
        assert model["task"] == "binary_classification"
        assert trained.version in model["model_card"]
        versions = {
            e.asset_key.to_user_string(): e.event_specific_data.materialization.tags
            for e in result.get_asset_materialization_events()
        }
        assert versions["training_data"]["dagster/data_version"] == dataset.fingerprint
        assert versions["trained_model"]["dagster/data_version"] == trained.version
        evaluation = instance.get_latest_asset_check_evaluation_record(GATE)
        assert evaluation.event.asset_check_evaluation.passed


def test_run_config_trains_another_model(dataset):
    with instance_for_test() as instance:
        config = {"ops": {"trained_model": {"config": {"C": 0.05}}}}
        assert materialize(MODEL_STAGE, instance=instance, run_config=config).success
        assert _metadata(instance, "trained_model")["model_version"] != ""
        bad = {"ops": {"trained_model": {"config": {"test_size": 1.5}}}}
        result = materialize(MODEL_STAGE, instance=instance, run_config=bad, raise_on_error=False)
        assert not result.success
        failure = next(
            e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE
        )
        assert "test_size must be between 0 and 1" in str(failure.event_specific_data.error)


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
    path = store_model(trained, tmp_path)
    card_before = (path / CARD_FILE).read_bytes()
    assert store_model(trained, tmp_path) == path
    assert (path / CARD_FILE).read_bytes() == card_before
    (path / "model.skops").write_bytes(b"broken")
    store_model(trained, tmp_path)
    modelstore.read_model_dir(path)  # consistent again


def test_card_markdown_is_a_table(card):
    text = card_markdown(ModelCard.from_dict(card))
    assert text.startswith("| field | value |")
    assert card["model_version"] in text and card["artifacts"][0]["sha256"] in text
    assert "binary_classification" in text
