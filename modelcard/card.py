"""Reading model cards: schema version 2, and version 1 cards read as version 2.

The JSON Schema in model_card.schema.json documents the same contract for other tools;
this reader is hand-written because the serving image and notebooks carry this package
with the standard library only, and because its errors name the field and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from modelcard.onnx import OnnxGraph, parse_onnx
from modelcard.tasks import BINARY, CLASSIFICATION, MULTICLASS, REGRESSION, TASKS

SCHEMA_VERSION = 2
READS = (1, 2)
CARD_FILE = "model_card.json"
ARTIFACT_FILE = "model.skops"
SKOPS = "skops"

Label = int | str


class CardError(Exception):
    """The model cannot be used; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: str


@dataclass(frozen=True)
class Artifact:
    file: str
    format: str
    sha256: str
    size: int | None


@dataclass(frozen=True)
class Golden:
    """Held-out rows and what the model answered for them when it was published."""

    inputs: tuple[tuple[float, ...], ...]
    predictions: tuple[Label | float, ...]
    probabilities: tuple[tuple[float, ...], ...] | None  # classifiers only


@dataclass(frozen=True)
class ModelCard:
    """A parsed card; `raw` keeps the JSON object as written."""

    schema_version: int
    model_name: str
    model_version: str
    task: str
    features: tuple[Feature, ...]
    classes: tuple[Label, ...]  # empty for a regressor
    class_names: tuple[str, ...]
    metrics: dict[str, float]
    artifacts: tuple[Artifact, ...]
    libraries: dict[str, str]
    golden: Golden
    created_at: str | None
    raw: dict[str, Any]
    onnx: OnnxGraph | None = None  # a converted, checked ONNX graph among the artifacts

    @cached_property  # read on every request: computed once
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def is_classifier(self) -> bool:
        return self.task in CLASSIFICATION

    @property
    def artifact(self) -> Artifact:
        """The skops artifact, which every card has."""
        return self.artifact_for(SKOPS)

    @property
    def artifact_file(self) -> str:
        return self.artifact.file

    @property
    def artifact_sha256(self) -> str:
        return self.artifact.sha256

    def artifact_for(self, fmt: str) -> Artifact:
        return next(a for a in self.artifacts if a.format == fmt)

    @property
    def sklearn_version(self) -> str:
        return self.libraries["scikit-learn"]

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "model card") -> ModelCard:
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise CardError(f"{source} is not valid JSON: {e}") from e
        return cls.from_dict(raw, source)

    @classmethod
    def from_dict(cls, raw: object, source: str = "model card") -> ModelCard:
        if not isinstance(raw, dict):
            raise CardError(f"{source} must be a JSON object, got {type(raw).__name__}")
        schema = raw.get("schema_version")
        if schema not in READS:
            raise CardError(
                f"{source} has schema_version {schema!r}; this Liveline reads {list(READS)}: "
                "publish it with this Liveline, or upgrade the serving image"
            )
        try:
            card = _parse(raw, _upgrade_v1(raw) if schema == 1 else raw)
        except KeyError as e:
            raise CardError(f"{source} lacks the field {e.args[0]!r}") from e
        except (TypeError, ValueError, AttributeError) as e:
            raise CardError(f"{source} is malformed: {e}") from e
        _check(card, source)
        return card

    @classmethod
    def read(cls, model_dir: Path) -> ModelCard:
        path = model_dir / CARD_FILE
        try:
            return cls.from_json(path.read_bytes(), source=str(path))
        except OSError as e:
            raise CardError(f"cannot read the model card in {model_dir}: {e}") from e


def _upgrade_v1(v1: dict[str, Any]) -> dict[str, Any]:
    """A version 1 card (binary classifiers, one artifact) in version 2's shape."""
    classes = v1["classes"]
    golden = v1["golden"]
    predictions = [classes[max(range(len(p)), key=p.__getitem__)] for p in golden["probabilities"]]
    return {
        **v1,
        "task": BINARY if len(classes) == 2 else MULTICLASS,
        "features": [{"name": n, "dtype": "float64"} for n in v1["feature_names"]],
        "artifacts": [v1["artifact"]],
        "libraries": {"scikit-learn": v1["sklearn_version"]},
        "golden": {**golden, "predictions": predictions},
    }


def _parse(raw: dict[str, Any], v2: dict[str, Any]) -> ModelCard:
    task = _text(v2["task"], "task")
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    golden = v2["golden"]
    if task == REGRESSION and ("classes" in v2 or "probabilities" in golden):
        raise ValueError("a regression card has no classes and no golden probabilities")
    probabilities = golden.get("probabilities") if task != REGRESSION else None
    artifacts = tuple(
        Artifact(
            file=_text(a["file"], "artifacts[].file"),
            format=_text(a.get("format", SKOPS), "artifacts[].format"),
            sha256=_text(a["sha256"], "artifacts[].sha256"),
            size=a.get("size"),
        )
        for a in _list(v2["artifacts"], "artifacts")
    )
    return ModelCard(
        schema_version=raw["schema_version"],
        model_name=_text(v2["model_name"], "model_name"),
        model_version=_text(v2["model_version"], "model_version"),
        task=task,
        features=tuple(
            Feature(_text(f["name"], "features[].name"), _text(f["dtype"], "features[].dtype"))
            for f in _list(v2["features"], "features")
        ),
        classes=_labels(v2.get("classes", []) if task != REGRESSION else []),
        class_names=tuple(_text(n, "class_names[]") for n in (
            v2.get("class_names", []) if task != REGRESSION else [])),
        metrics={_text(k, "metrics"): _number(v, f"metrics.{k}")
                 for k, v in dict(v2.get("metrics") or {}).items()},
        artifacts=artifacts,
        libraries={_text(k, "libraries"): _text(v, f"libraries.{k}")
                   for k, v in dict(v2["libraries"]).items()},
        golden=Golden(
            inputs=tuple(tuple(_number(x, "golden.inputs") for x in row)
                         for row in _list(golden["inputs"], "golden.inputs")),
            predictions=tuple(golden["predictions"]),
            probabilities=None if probabilities is None else tuple(
                tuple(_number(p, "golden.probabilities") for p in row) for row in probabilities
            ),
        ),
        created_at=v2.get("created_at"),
        raw=raw,
        onnx=parse_onnx(v2.get("onnx"), {a.file: a.format for a in artifacts}),
    )  # fmt: skip


def _check(card: ModelCard, source: str) -> None:
    names = card.feature_names
    if not names or len(set(names)) != len(names):
        raise CardError(f"{source}: features must be non-empty with unique names")
    if card.is_classifier:
        want = 2 if card.task == BINARY else 3
        if len(card.classes) < want or (card.task == BINARY and len(card.classes) != 2):
            raise CardError(f"{source}: a {card.task} model needs {want} classes, not "
                            f"{len(card.classes)}")  # fmt: skip
        if len(card.class_names) != len(card.classes) or len(set(card.classes)) != len(
            card.classes
        ):
            raise CardError(f"{source}: classes must be unique, each with a name")
    if not any(a.format == SKOPS for a in card.artifacts):
        raise CardError(f"{source}: artifacts lists no {SKOPS} artifact")
    if len({a.file for a in card.artifacts}) != len(card.artifacts):
        raise CardError(f"{source}: artifacts lists a file twice")
    for a in card.artifacts:
        if Path(a.file).name != a.file:
            raise CardError(f"{source}: artifact file {a.file!r} must be a plain file name")
    if "scikit-learn" not in card.libraries:
        raise CardError(f"{source}: libraries lacks scikit-learn")
    golden = card.golden
    if not golden.inputs or any(len(row) != len(names) for row in golden.inputs):
        raise CardError(f"{source}: golden.inputs must be rows of {len(names)} numbers")
    if len(golden.predictions) != len(golden.inputs) or (
        golden.probabilities is not None and len(golden.probabilities) != len(golden.inputs)
    ):
        raise CardError(f"{source}: golden needs one prediction per input row")
    if card.is_classifier and golden.probabilities is None:
        raise CardError(f"{source}: a classifier's golden set needs probabilities")


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    return value


def _number(value: object, field: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"{field} must be a number, got {value!r}")
    return value


def _list(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{field} must be a list, got {value!r}")
    return value


def _labels(values: object) -> tuple[Label, ...]:
    """Class labels: all integers or all strings (JSON keeps no other label exactly)."""
    labels = tuple(_list(values, "classes"))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        return labels
    if all(isinstance(v, str) and v for v in labels):
        return labels
    raise ValueError(f"classes must be all integers or all non-empty strings, got {list(labels)}")
