"""The artifact round-trips, and serving refuses anything the card does not vouch for."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import skops.io
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from model_training.evaluate import predict
from serving.model import ModelLoadError, load_model


def test_round_trip_scores_like_the_trained_pipeline(model_dir, trained, card):
    loaded = load_model(model_dir, "skops")
    assert loaded.card.model_version == trained.described.version
    rows = np.asarray(card["golden"]["inputs"])
    np.testing.assert_allclose(
        loaded.predict_proba(rows), predict(trained.fitted.estimator, rows)[1]
    )
    np.testing.assert_allclose(loaded.predict_proba(rows), card["golden"]["probabilities"])


def test_one_flipped_byte_is_refused(model_dir):
    artifact = model_dir / "model.skops"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    artifact.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match the model card"):
        load_model(model_dir)


def _rewrite_card(model_dir, **changes):
    path = model_dir / "model_card.json"
    card = json.loads(path.read_text())
    card.update(changes)
    path.write_text(json.dumps(card))


def _replace_artifact(model_dir, data: bytes) -> None:
    """Swap in another artifact and make the card vouch for it, as an attacker could."""
    (model_dir / "model.skops").write_bytes(data)
    card = json.loads((model_dir / "model_card.json").read_text())
    card["artifacts"][0]["sha256"] = hashlib.sha256(data).hexdigest()
    (model_dir / "model_card.json").write_text(json.dumps(card))


def test_other_sklearn_version_is_refused(model_dir):
    _rewrite_card(model_dir, libraries={"scikit-learn": "9.9.9"})
    with pytest.raises(ModelLoadError, match=r"trained with scikit-learn 9\.9\.9"):
        load_model(model_dir, "skops")


def test_untrusted_types_are_refused(model_dir, dataset):
    # A valid archive whose card matches, but holding a type serving does not trust.
    model = make_pipeline(FunctionTransformer(eval), LogisticRegression())
    _replace_artifact(model_dir, skops.io.dumps(model))
    with pytest.raises(ModelLoadError, match=r"does not trust: \['builtins.eval'\]"):
        load_model(model_dir, "skops")


def test_scikit_learns_own_tree_types_are_trusted(model_dir, dataset):
    # skops' defaults refuse sklearn.ensemble's TreePredictor; Liveline trusts sklearn's.
    model = HistGradientBoostingClassifier(max_iter=5).fit(dataset.data, dataset.target)
    assert skops.io.get_untrusted_types(data=skops.io.dumps(model))
    _replace_artifact(model_dir, skops.io.dumps(model))
    loaded = load_model(model_dir, "skops")
    np.testing.assert_allclose(
        loaded.predict_proba(dataset.data[:5]), model.predict_proba(dataset.data[:5])
    )


def test_garbage_artifact_with_matching_hash_is_refused(model_dir):
    _replace_artifact(model_dir, b"not a zip archive")
    with pytest.raises(ModelLoadError, match="not a readable skops archive"):
        load_model(model_dir, "skops")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"schema_version": 3}', "schema_version 3"),
        ('{"schema_version": 2}', "lacks the field"),
        ('{"schema_version": 1}', "lacks the field"),
    ],
)
def test_malformed_card_is_refused(model_dir, text, message):
    (model_dir / "model_card.json").write_text(text)
    with pytest.raises(ModelLoadError, match=message):
        load_model(model_dir)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features": [{"name": "a", "dtype": "float64"}] * 2}, "unique"),
        ({"classes": [0, "1"]}, "classes"),
        ({"model_version": ""}, "model_version"),
        ({"task": "clustering"}, "task must be one of"),
        ({"task": "regression"}, "a regression card has no classes"),
        ({"task": "multiclass_classification"}, "needs 3 classes"),
        ({"features": [{"name": "a", "dtype": "float64"}]}, "golden.inputs must be rows of 1"),
        ({"classes": [0, 2]}, "differ from the card"),
    ],
)
def test_card_fields_are_checked(model_dir, changes, message):
    _rewrite_card(model_dir, **changes)
    with pytest.raises(ModelLoadError, match=message):
        load_model(model_dir, "skops")


def test_a_card_that_lies_about_the_task_is_refused(model_dir):
    path = model_dir / "model_card.json"
    card = json.loads(path.read_text())
    for key in ("classes", "class_names"):
        del card[key]
    del card["golden"]["probabilities"]
    card["task"] = "regression"
    path.write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="says regression but the artifact is a classifier"):
        load_model(model_dir, "skops")


def test_artifact_path_cannot_escape(model_dir):
    card = json.loads((model_dir / "model_card.json").read_text())
    card["artifacts"][0]["file"] = "../model.skops"
    (model_dir / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="plain file name"):
        load_model(model_dir)


def test_a_schema_version_1_card_still_loads(model_dir, card, trained):
    v1 = {
        "schema_version": 1,
        "model_name": card["model_name"],
        "model_version": card["model_version"],
        "artifact": card["artifacts"][0],
        "feature_names": [f["name"] for f in card["features"]],
        "classes": card["classes"],
        "class_names": card["class_names"],
        "metrics": card["metrics"],
        "sklearn_version": card["libraries"]["scikit-learn"],
        "golden": {k: card["golden"][k] for k in ("inputs", "probabilities")},
        "created_at": card["created_at"],
    }
    (model_dir / "model_card.json").write_text(json.dumps(v1))
    loaded = load_model(model_dir, "skops")
    assert loaded.card.task == "binary_classification" and loaded.card.schema_version == 1
    assert loaded.card.golden.predictions == tuple(card["golden"]["predictions"])
    assert loaded.card.feature_names == tuple(v1["feature_names"])


def test_missing_model_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot read the model"):
        load_model(tmp_path)
