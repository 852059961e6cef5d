"""A real Open Inference Protocol client, tritonclient[http], against the real server
process (gunicorn, the shipped config): health, readiness, metadata and infer, in JSON
mode and in its default binary mode; its answers equal the estimator's own."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier

import modelcard
from model_training.describe import describe
from model_training.evaluate import predict
from model_training.tables import eval_data
from tests.support import served


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    """A multiclass classifier with string labels (BYTES tensors)."""
    data = load_wine(as_frame=True)
    y = data.target.map({0: "barolo", 1: "grignolino", 2: "barbera"})
    model = RandomForestClassifier(15, random_state=0).fit(data.data, y)
    done = describe(model, eval_data(data.data, y), name="wine")
    model_dir = tmp_path_factory.mktemp("wine")
    modelcard.write_model_dir(model_dir, done.artifacts, done.card)
    return model, data.data, model_dir, done.card


def _client(base: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=base.removeprefix("http://"), connection_timeout=5.0)


def _infer(client, name: str, rows: np.ndarray, binary: bool):
    tensor = triton.InferInput("input", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    outputs = [triton.InferRequestedOutput(n, binary_data=binary)
               for n in ("predict", "predict_proba")]  # fmt: skip
    return client.infer(name, [tensor], outputs=outputs, request_id="t-1")


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_on_the_binary_classifier(model_dir, trained, card, tmp_path, binary):
    rows = np.asarray(card["golden"]["inputs"], dtype=np.float64)
    name = card["model_name"]
    with served.serving(model_dir, tmp_path) as base:
        client = _client(base)
        try:
            assert client.is_server_live() and client.is_server_ready()
            assert client.is_model_ready(name) and client.is_model_ready(
                name, card["model_version"]
            )
            meta = client.get_model_metadata(name)
            assert meta["inputs"][0]["shape"] == [-1, 30]
            result = _infer(client, name, rows, binary)
        finally:
            client.close()
    assert result.get_response()["id"] == "t-1"
    predictions, probabilities = predict(trained.fitted.estimator, rows)
    assert result.as_numpy("predict").tolist() == predictions.tolist()
    np.testing.assert_allclose(result.as_numpy("predict_proba"), probabilities, atol=1e-9)


def test_tritonclient_on_string_labels_with_default_outputs(wine, tmp_path):
    model, x, model_dir, card = wine
    frame = x.iloc[:20]
    rows = frame.to_numpy()
    with served.serving(model_dir, tmp_path) as base:
        client = _client(base)
        try:
            tensor = triton.InferInput("input", list(rows.shape), "FP64")
            tensor.set_data_from_numpy(rows)  # tritonclient's defaults: binary in and out
            result = client.infer("wine", [tensor])
        finally:
            client.close()
    labels = [b.decode() for b in result.as_numpy("predict")]
    assert labels == model.predict(frame).tolist()
    tolerance = card["onnx"]
    np.testing.assert_allclose(result.as_numpy("predict_proba"), model.predict_proba(frame),
                               rtol=tolerance["rtol"], atol=tolerance["atol"])  # fmt: skip
