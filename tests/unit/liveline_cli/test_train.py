"""`liveline train` trains the project's declared model, the way trained_model does."""

from __future__ import annotations

import json

from liveline_cli.train import main


def test_the_command_trains_the_declared_model_and_writes_its_card(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["model_name"] == "breast-cancer-classifier"
    assert card["lineage"]["config"]["entry_point"] == "model_training.builtin:logistic_regression"
    assert (tmp_path / "model.skops").stat().st_size == card["artifacts"][0]["size"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_params_and_overrides_change_the_model(tmp_path):
    assert main(["--out", str(tmp_path / "a")]) == 0
    assert main(["--out", str(tmp_path / "b"), "--param", "C=0.05", "--golden-rows", "3"]) == 0
    a, b = (json.loads((tmp_path / d / "model_card.json").read_text()) for d in "ab")
    assert a["model_version"] != b["model_version"]
    assert b["lineage"]["config"]["params"] == {"C": 0.05, "max_iter": 1000}
    assert len(b["golden"]["inputs"]) == 3


def test_a_bad_override_is_refused_naming_it(tmp_path, caplog):
    assert main(["--out", str(tmp_path), "--test-size", "2"]) == 2
    assert "test_size must be between 0 and 1" in caplog.text
