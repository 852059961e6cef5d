"""Quality gates: parsed from text, checked against the task, applied in the metric's
direction (rmse=40 means at most 40), chosen per model, per task or by an override."""

from __future__ import annotations

import pytest

import modelcard
from liveline import project


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accuracy=0.9,f1=0.9,roc_auc=0.95", {"accuracy": 0.9, "f1": 0.9, "roc_auc": 0.95}),
        (" r2 = 0.8 , rmse=40", {"r2": 0.8, "rmse": 40.0}),
        ("", {}),
    ],
)
def test_gate_parse(text, expected):
    assert modelcard.parse_gate(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accuracy", "is not metric=threshold"),
        ("accuracy=high", "is not metric=threshold"),
        ("accuracy>=0.9", "unknown metric 'accuracy>'"),
    ],
)
def test_gate_refuses_malformed_items(text, message):
    with pytest.raises(ValueError, match=message):
        modelcard.parse_gate(text)


def test_gate_refuses_unknown_metrics_and_metrics_of_another_task():
    with pytest.raises(ValueError, match="unknown metric 'recall'"):
        modelcard.parse_gate("recall=0.5")
    with pytest.raises(ValueError, match="accuracy, which a regression model does not have"):
        modelcard.check_gate({"accuracy": 0.5}, modelcard.REGRESSION)


def test_shortfalls_follow_each_metric_direction():
    metrics = {"accuracy": 0.85, "f1": 0.95, "roc_auc": float("nan"), "rmse": 61.2, "mae": 3.0}
    gate = {"accuracy": 0.9, "f1": 0.9, "roc_auc": 0.9, "rmse": 50, "mae": 5, "r2": 0.5}
    assert modelcard.shortfalls(metrics, gate) == [
        "accuracy 0.8500 < 0.9",
        "roc_auc nan < 0.9",
        "rmse 61.2000 > 50",
        "r2 is missing (needs >= 0.5)",
    ]


def test_project_gates_per_model_per_task_and_override(tmp_path):
    path = tmp_path / "liveline.toml"
    path.write_text(
        "[gates]\nregression = 'r2=0.6'\n[models.house-prices]\ngate = { r2 = 0.4, rmse = 60 }\n"
    )
    gates = project.load(path).gates
    assert gates.for_model("house-prices", modelcard.REGRESSION) == {"r2": 0.4, "rmse": 60}
    assert gates.for_model("other", modelcard.REGRESSION) == {"r2": 0.6}
    assert gates.for_model("iris", modelcard.MULTICLASS) == project.DEFAULT_GATES["classification"]
    assert project.load(path, "mae=3").gates.for_model("house-prices", "regression") == {"mae": 3}
    with pytest.raises(ValueError, match="which a multiclass_classification model does not"):
        project.load(path, "mae=3").gates.for_model("iris", modelcard.MULTICLASS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gates]\nclasification = 'f1=0.5'\n", "unknown task group"),
        ("[models.x]\ngate = { recal = 0.5 }\n", "models.x.gate in .*unknown metric 'recal'"),
        ("[gates\n", "cannot read the project configuration"),
    ],
)
def test_project_errors_name_the_key_and_file(tmp_path, text, message):
    path = tmp_path / "liveline.toml"
    path.write_text(text)
    with pytest.raises(project.ProjectError, match=message):
        project.load(path)


def test_pyproject_reads_tool_liveline(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[project]\nname='x'\n[tool.liveline.gates]\nclassification = 'f1=0.7'\n")
    assert project.load(path).gates.for_model("m", modelcard.BINARY) == {"f1": 0.7}
