"""Every task through the real app: a multiclass classifier with string labels and a
regressor, each published by the one card writer and loaded for real, on each runtime
(the ONNX graph on onnxruntime, skops on scikit-learn). Answers equal the estimator's own
(the ONNX graph's within the tolerance its card records); /openapi.json describes exactly
that model's request and response; a malformed request is a 4xx naming the problem,
whatever the task and the runtime."""

from __future__ import annotations

import jsonschema_rs
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier

import modelcard
from model_training.describe import describe
from model_training.tables import eval_data
from serving import create_app

JSON = "application/json"


def _wine():
    data = load_wine(as_frame=True)
    y = data.target.map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return RandomForestClassifier(15, random_state=0).fit(data.data, y), data.data, y


def _diabetes():
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    return HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(x, y), x, y


@pytest.fixture(scope="module", params=["multiclass", "regression"])
def published(request, tmp_path_factory):
    model, x, y = {"multiclass": _wine, "regression": _diabetes}[request.param]()
    done = describe(model, eval_data(x, y), name=f"test-{request.param}")
    assert done.card["onnx"]["status"] == "converted", done.card["onnx"]
    model_dir = tmp_path_factory.mktemp(request.param)
    modelcard.write_model_dir(model_dir, done.artifacts, done.card)
    return request.param, model, x, model_dir, done.card


RUNTIMES = {"onnx": "onnxruntime/", "skops": "scikit-learn/"}


@pytest.fixture(scope="module", params=list(RUNTIMES))
def served(request, published):
    task, model, x, model_dir, card = published
    client = create_app({"MODEL_DIR": str(model_dir), "RUNTIME": request.param}).test_client()
    # The skops runtime runs the estimator itself; the graph is within its card's tolerance.
    close = {"rtol": card["onnx"]["rtol"], "atol": card["onnx"]["atol"]} if (
        request.param == "onnx") else {"rtol": 1e-12}  # fmt: skip
    return task, model, x, client, RUNTIMES[request.param], close


def _scores_schema(client):
    spec = client.get("/openapi.json").get_json()
    ok = spec["paths"]["/score"]["post"]["responses"]["200"]["content"][JSON]["schema"]
    return spec, jsonschema_rs.validator_for({**ok, "components": spec["components"]})


def test_answers_equal_the_estimators_own_and_match_the_document(served):
    task, model, x, client, runtime, close = served
    rows = x.iloc[:25]
    r = client.post("/score", json={"instances": rows.to_dict(orient="records")})
    assert r.status_code == 200, r.get_json()
    assert r.headers["X-Model-Runtime"].startswith(runtime)
    body = r.get_json()
    _, validator = _scores_schema(client)
    validator.validate(body)
    if task == "regression":
        assert set(body) == {"model_name", "model_version", "predictions"}
        np.testing.assert_allclose(body["predictions"], model.predict(rows), **close)
    else:
        assert body["classes"] == ["barbera", "barolo", "grignolino"]
        assert body["predictions"] == list(model.predict(rows))
        np.testing.assert_allclose(body["probabilities"], model.predict_proba(rows), **close)
    version = client.get("/version").get_json()
    assert version["task"] == (
        "regression" if task == "regression" else "multiclass_classification"
    )
    assert f"{version['runtime']}/{version['runtime_version']}" == r.headers["X-Model-Runtime"]


def test_the_document_names_this_models_features_and_outputs(served):
    task, _, x, client, _, _ = served
    spec, _ = _scores_schema(client)
    schemas = spec["components"]["schemas"]
    instance = schemas["InstancesBatch"]["properties"]["instances"]["items"]
    assert instance["required"] == list(x.columns)
    scores = schemas["Scores"]["properties"]
    if task == "regression":
        assert "probabilities" not in scores and "classes" not in scores
        assert scores["predictions"]["items"]["type"] == "number"
    else:
        assert scores["predictions"]["items"] == {
            "type": "string", "enum": ["barbera", "barolo", "grignolino"]}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda x: {"input": [[1.0, 2.0]]}, "has 2 values; the model expects"),
        (lambda x: {"input": [["a"] * x.shape[1]]}, "is not a number"),
        (lambda x: {"instances": [{x.columns[0]: 1.0}]}, "lacks feature(s)"),
        (lambda x: {"rows": []}, "unknown field(s)"),
        (lambda x: {"input": []}, "empty batch"),
        (lambda x: {"input": [[1e300] * x.shape[1]]}, "outside the accepted range"),
    ],
    ids=["row-length", "not-a-number", "missing-feature", "unknown-field", "empty", "range"],
)
def test_malformed_requests_are_4xx_naming_the_problem(served, body, message):
    _, _, x, client, _, _ = served
    r = client.post("/score", json=body(x))
    assert r.status_code == 400
    assert message in r.get_json()["error"]
