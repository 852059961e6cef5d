"""What a model does (its task) and how it is measured: the metrics and the quality gate.

One table: each metric's task and direction. Publishing, the asset checks and `status`
read it, so "rmse=40" in a gate means "at most 40" everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)
CLASSIFICATION = (BINARY, MULTICLASS)


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    higher_is_better: bool
    tasks: tuple[str, ...]


METRICS = {
    m.name: m
    for m in (
        Metric("accuracy", "share of rows classified right", True, CLASSIFICATION),
        Metric("f1", "F1 (of the second class if binary, macro if multiclass)", True,
               CLASSIFICATION),
        Metric("roc_auc", "ROC AUC (one-vs-rest macro if multiclass)", True, CLASSIFICATION),
        Metric("r2", "coefficient of determination", True, (REGRESSION,)),
        Metric("mae", "mean absolute error, in the target's unit", False, (REGRESSION,)),
        Metric("rmse", "root mean squared error, in the target's unit", False, (REGRESSION,)),
    )
}  # fmt: skip


def metrics_for(task: str) -> tuple[str, ...]:
    return tuple(name for name, m in METRICS.items() if task in m.tasks)


def parse_gate(text: str) -> dict[str, float]:
    """A gate from text: "accuracy=0.9,f1=0.9" -> {"accuracy": 0.9, "f1": 0.9}."""
    gate: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = (part.strip() for part in item.partition("="))
        try:
            if not sep:
                raise ValueError(item)
            gate[name] = float(value)
        except ValueError as e:
            raise ValueError(f"quality gate {item!r} is not metric=threshold (e.g. f1=0.9)") from e
    check_gate(gate)
    return gate


def check_gate(gate: Mapping[str, float], task: str | None = None) -> None:
    """Refuse a gate naming an unknown metric, or (for a task) one that task lacks."""
    for name in gate:
        metric = METRICS.get(name)
        if metric is None:
            raise ValueError(f"quality gate names unknown metric {name!r}; known: {list(METRICS)}")
        if task is not None and task not in metric.tasks:
            raise ValueError(
                f"quality gate names {name}, which a {task} model does not have; "
                f"use {list(metrics_for(task))}"
            )


def shortfalls(metrics: Mapping[str, float], gate: Mapping[str, float]) -> list[str]:
    """Each metric on the wrong side of its threshold, or missing: "rmse 61.2 > 50"."""
    problems = []
    for name, threshold in gate.items():
        metric = METRICS.get(name)
        higher = metric.higher_is_better if metric else True
        sign = ">=" if higher else "<="
        value = metrics.get(name)
        if value is None:
            problems.append(f"{name} is missing (needs {sign} {threshold})")
        elif not (value >= threshold if higher else value <= threshold):  # NaN fails too
            problems.append(f"{name} {value:.4f} {'<' if higher else '>'} {threshold}")
    return problems
