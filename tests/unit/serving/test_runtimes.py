"""The runtime comes from the card: the ONNX graph on onnxruntime where publishing
converted and checked one, skops on scikit-learn otherwise; each artifact is verified."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import modelcard
from model_training.describe import describe
from model_training.evaluate import predict
from model_training.tables import eval_data
from serving import create_app
from serving.model import ModelLoadError, load_model


def test_the_graph_is_served_by_default_and_answers_as_the_estimator(model_dir, trained, card):
    loaded = load_model(model_dir)
    assert loaded.runtime.name == "onnxruntime" and loaded.runtime.artifact == "model.onnx"
    rows = np.asarray(card["golden"]["inputs"])
    np.testing.assert_allclose(
        loaded.predict_proba(rows),
        predict(trained.fitted.estimator, rows)[1],
        rtol=1e-9,
        atol=1e-9,
    )


def test_both_runtimes_give_the_same_document_and_answers(model_dir_pristine, card):
    apps = {r: create_app({"MODEL_DIR": str(model_dir_pristine), "RUNTIME": r}).test_client()
            for r in ("onnx", "skops")}  # fmt: skip
    docs = {r: c.get("/openapi.json").get_json() for r, c in apps.items()}
    assert docs["onnx"] == docs["skops"]
    body = {"input": card["golden"]["inputs"]}
    answers = {r: c.post("/score", json=body).get_json() for r, c in apps.items()}
    assert answers["onnx"]["predictions"] == answers["skops"]["predictions"]
    assert set(answers["onnx"]) == set(answers["skops"])
    np.testing.assert_allclose(answers["onnx"]["probabilities"],
                               answers["skops"]["probabilities"], rtol=1e-9, atol=1e-9)  # fmt: skip


def test_an_estimator_skl2onnx_cannot_convert_is_published_and_served_by_skops(tmp_path):
    # sklearn.kernel_ridge.KernelRidge: skl2onnx 1.20 has no converter for it.
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    model = KernelRidge(alpha=0.01, kernel="rbf", gamma=0.1).fit(x, y)
    done = describe(model, eval_data(x, y), name="kernel-ridge")
    assert list(done.artifacts) == ["model.skops"]
    assert done.card["onnx"]["status"] == "skipped"
    assert "KernelRidge" in done.card["onnx"]["reason"]
    modelcard.write_model_dir(tmp_path, done.artifacts, done.card)
    client = create_app({"MODEL_DIR": str(tmp_path)}).test_client()
    r = client.post("/score", json={"input": x.iloc[:5].to_numpy().tolist()})
    assert r.status_code == 200 and r.headers["X-Model-Runtime"].startswith("scikit-learn/")
    np.testing.assert_allclose(r.get_json()["predictions"], model.predict(x.iloc[:5]), rtol=1e-12)
    with pytest.raises(ModelLoadError, match=r"has no ONNX graph.*KernelRidge"):
        load_model(tmp_path, "onnx")


def test_a_tampered_graph_is_refused_whichever_runtime_is_chosen(model_dir):
    graph = model_dir / "model.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    for runtime in ("auto", "skops"):
        with pytest.raises(ModelLoadError, match=r"model.onnx sha256 .* does not match"):
            load_model(model_dir, runtime)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (DecisionTreeClassifier(max_depth=2, random_state=0), "takes tensor.float., its card"),
        (make_pipeline(StandardScaler(), LogisticRegression(C=0.01)), "answers the golden rows"),
    ],
    ids=["float-graph", "other-weights"],
)
def test_another_models_graph_is_refused(model_dir, dataset, other, message):
    other.fit(dataset.data, dataset.target)
    data = eval_data(dataset.data, dataset.target, feature_names=list(dataset.feature_names))
    _swap_graph(model_dir, describe(other, data, name="other").artifacts["model.onnx"])
    with pytest.raises(ModelLoadError, match=rf"{message}.*graph is not this model"):
        load_model(model_dir)


def test_an_unknown_runtime_is_refused(model_dir):
    with pytest.raises(ModelLoadError, match="SERVING_RUNTIME must be one of"):
        load_model(model_dir, "tensorflow")


def _swap_graph(model_dir, data: bytes) -> None:
    """Another graph with a card that vouches for it, as an attacker could write."""
    (model_dir / "model.onnx").write_bytes(data)
    card = json.loads((model_dir / "model_card.json").read_text())
    entry = next(a for a in card["artifacts"] if a["file"] == "model.onnx")
    entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    (model_dir / "model_card.json").write_text(json.dumps(card))
