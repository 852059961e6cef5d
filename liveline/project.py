"""The project configuration: what a team declares once, Liveline's code unchanged.

`[tool.liveline]` in the application's pyproject.toml, or the same keys at the top of a
liveline.toml (settings.project_path). Read with tomllib; checked here, with errors that
name the key and the file:

    [tool.liveline.training]             # what the trained_model asset trains
    model_name = "breast-cancer-classifier"
    entry_point = "model_training.builtin:logistic_regression"   # module:function
    params = { C = 1.0, max_iter = 1000 }    # handed to the entry point
    test_size = 0.25                         # held out for evaluation
    random_state = 42
    golden_rows = 8

    [tool.liveline.training.data]        # exactly one of loader, path, blob
    loader = "model_training.builtin:breast_cancer"   # returns a DataFrame
    target = "target"                    # the label column

    [tool.liveline.gates]                # per task, for models without their own
    classification = { accuracy = 0.9, f1 = 0.9, roc_auc = 0.95 }
    regression = { r2 = 0.5 }

    [tool.liveline.models.my-regressor]  # per model
    gate = { r2 = 0.4, rmse = 60 }
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import modelcard
from liveline.settings import Settings

# For a project that declares no gate: a model must beat a weak baseline clearly.
DEFAULT_GATES: dict[str, dict[str, float]] = {
    "classification": {"accuracy": 0.8, "f1": 0.8, "roc_auc": 0.85},
    "regression": {"r2": 0.3},
}


class ProjectError(ValueError):
    """The project configuration is wrong; the message names the key, the file and the fix."""


@dataclass(frozen=True)
class Gates:
    """The quality gate of each model: an override, else its own, else its task's."""

    by_task: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_GATES)
    by_model: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    override: Mapping[str, float] | None = None

    def for_model(self, name: str, task: str) -> dict[str, float]:
        group = "classification" if task in modelcard.CLASSIFICATION else "regression"
        gate = dict(
            self.override
            if self.override is not None
            else self.by_model.get(name, self.by_task.get(group, DEFAULT_GATES[group]))
        )
        modelcard.check_gate(gate, task)
        return gate


@dataclass(frozen=True)
class Project:
    path: Path
    training: Mapping[str, Any]
    gates: Gates

    def source(self, key: str) -> str:
        return f"{key} in {self.path}"


def from_settings(s: Settings) -> Project:
    return load(s.project_path, s.model_gate)


def load(path: Path, override: str = "") -> Project:
    """The project configuration at path; no file at all: the defaults (no training)."""
    table: Mapping[str, Any] = {}
    if path.exists():
        try:
            document = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ProjectError(f"cannot read the project configuration {path}: {e}") from e
        table = document if path.name != "pyproject.toml" else document.get("tool", {}).get(
            "liveline", {})  # fmt: skip
    where = "[tool.liveline]" if path.name == "pyproject.toml" else ""
    gates = Gates(
        by_task=DEFAULT_GATES | _gate_table(table.get("gates", {}), f"{where}.gates", path),
        by_model={
            name: _gate(model.get("gate", {}), f"{where}.models.{name}.gate", path)
            for name, model in _table(table.get("models", {}), f"{where}.models", path).items()
        },
        override=_gate(override, "LIVELINE_MODEL_GATE", path) if override else None,
    )
    return Project(path, _table(table.get("training", {}), f"{where}.training", path), gates)


def _table(value: object, key: str, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProjectError(f"{key} in {path} must be a table, got {value!r}")
    return value


def _gate_table(value: object, key: str, path: Path) -> dict[str, dict[str, float]]:
    gates = _table(value, key, path)
    unknown = sorted(set(gates) - set(DEFAULT_GATES))
    if unknown:
        raise ProjectError(f"{key} in {path}: unknown task group(s) {unknown}; use "
                           f"{sorted(DEFAULT_GATES)}")  # fmt: skip
    return {group: _gate(gate, f"{key}.{group}", path) for group, gate in gates.items()}


def _gate(value: object, key: str, path: Path) -> dict[str, float]:
    try:
        if isinstance(value, str):
            return modelcard.parse_gate(value)
        gate = {str(k): float(v) for k, v in _table(value, key, path).items()}
        modelcard.check_gate(gate)
        return gate
    except (TypeError, ValueError) as e:
        raise ProjectError(f"{key} in {path}: {e}") from e
