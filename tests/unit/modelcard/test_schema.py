"""The JSON Schema (modelcard/model_card.schema.json) and the reader agree: every card
the one writer makes, for every task, is valid under the schema and reads back; cards
the schema refuses are refused by the reader too."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier

import modelcard
from model_training.describe import describe
from model_training.tables import eval_data

SCHEMA = json.loads(modelcard.SCHEMA_FILE.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def _multiclass() -> dict:
    data = load_iris(as_frame=True)
    y = data.target.map(dict(enumerate(data.target_names)))
    model = RandomForestClassifier(10, random_state=0).fit(data.data, y)
    return describe(model, eval_data(data.data, y), name="iris").card


def _regression() -> dict:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(x, y)
    return describe(model, eval_data(x, y), name="diabetes").card


@pytest.fixture(scope="module")
def cards(trained) -> dict[str, dict]:
    return {"binary": trained.described.card, "multiclass": _multiclass(),
            "regression": _regression()}  # fmt: skip


def test_the_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_written_card_is_valid_and_reads_back(cards, task):
    card = cards[task]
    VALIDATOR.validate(card)
    parsed = modelcard.ModelCard.from_dict(json.loads(modelcard.card_json(card)))
    assert parsed.task == card["task"] and parsed.metrics == card["metrics"]
    assert parsed.onnx is not None and parsed.onnx.file == "model.onnx"


@pytest.mark.parametrize(
    ("task", "change"),
    [
        ("regression", lambda c: c.update(classes=[0, 1], class_names=["a", "b"])),
        ("binary", lambda c: c.pop("classes")),
        ("binary", lambda c: c["golden"].pop("probabilities")),
        ("multiclass", lambda c: c.update(task="binary_classification")),
        ("binary", lambda c: c.update(schema_version=3)),
        ("binary", lambda c: c["artifacts"][0].update(file="../model.skops")),
        ("binary", lambda c: c.update(features=[])),
        ("regression", lambda c: c.update(task="clustering")),
        ("binary", lambda c: c["onnx"].update(dtype="float16")),
        ("binary", lambda c: c["onnx"].update(status="maybe")),
        ("binary", lambda c: c["onnx"].update(opset={"ai.onnx": "14"})),
        ("binary", lambda c: c["onnx"].pop("outputs")),
    ],
    ids=["regression-with-classes", "classifier-without-classes", "classifier-no-probabilities",
         "binary-with-3-classes", "future-schema", "escaping-file", "no-features", "bad-task",
         "onnx-float16", "onnx-status", "onnx-opset-text", "onnx-no-outputs"],
)  # fmt: skip
def test_what_the_schema_refuses_the_reader_refuses(cards, task, change):
    card = copy.deepcopy(cards[task])
    change(card)
    assert not VALIDATOR.is_valid(card)
    with pytest.raises(modelcard.CardError):
        modelcard.ModelCard.from_dict(card)
