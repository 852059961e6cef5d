"""The Open Inference Protocol (KServe V2 REST) through the real app: health, metadata,
readiness, infer in JSON and binary tensors; its answers are /score's; every malformed
request is a 400 or 404 whose {"error"} names the problem."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest


@pytest.fixture
def v2(client, card):
    name, version = card["model_name"], card["model_version"]
    return client, f"/v2/models/{name}", f"/v2/models/{name}/versions/{version}"


def _infer(client, path, body: dict, **kw):
    return client.post(f"{path}/infer", data=json.dumps(body), **kw)


def _tensor(rows, datatype="FP64", flat=False):
    rows = np.asarray(rows)
    data = rows.reshape(-1).tolist() if flat else rows.tolist()
    return {"name": "input", "datatype": datatype, "shape": list(rows.shape), "data": data}


def test_health_and_readiness(v2):
    client, model, versioned = v2
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"ready": True}
    for path in (model, versioned):
        r = client.get(f"{path}/ready")
        assert r.status_code == 200 and r.get_json()["ready"] is True
    assert "binary_tensor_data" in client.get("/v2").get_json()["extensions"]


def test_metadata_names_inputs_and_outputs(v2, card):
    client, model, versioned = v2
    meta = client.get(model).get_json()
    assert meta == client.get(versioned).get_json()
    assert meta["name"] == card["model_name"] and meta["versions"] == [card["model_version"]]
    assert meta["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 30]}]
    assert meta["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert meta["parameters"]["classes"] == card["classes"]


@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
@pytest.mark.parametrize("flat", [False, True], ids=["nested", "flat"])
def test_infer_answers_as_score_does(v2, card, datatype, flat):
    client, model, versioned = v2
    rows = card["golden"]["inputs"]
    score = client.post("/score", json={"input": rows}).get_json()
    for path in (model, versioned):
        r = _infer(client, path, {"id": "req-7", "inputs": [_tensor(rows, datatype, flat)]})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["id"] == "req-7" and body["model_version"] == card["model_version"]
        out = {o["name"]: o for o in body["outputs"]}
        assert out["predict"]["data"] == score["predictions"]
        assert out["predict"]["shape"] == [len(rows)]
        assert out["predict_proba"]["shape"] == [len(rows), 2]
        tolerance = 1e-6 if datatype == "FP32" else 1e-12
        np.testing.assert_allclose(
            np.reshape(out["predict_proba"]["data"], (-1, 2)), score["probabilities"],
            atol=tolerance,
        )  # fmt: skip


def test_requested_outputs_are_honoured(v2, card):
    client, model, _ = v2
    body = {"inputs": [_tensor(card["golden"]["inputs"])], "outputs": [{"name": "predict_proba"}]}
    outputs = _infer(client, model, body).get_json()["outputs"]
    assert [o["name"] for o in outputs] == ["predict_proba"]


def test_binary_tensors_in_and_out(v2, card):
    client, model, _ = v2
    rows = np.asarray(card["golden"]["inputs"], dtype=np.float32)
    raw = rows.astype("<f4").tobytes()
    tensor = {"name": "input", "datatype": "FP32", "shape": list(rows.shape),
              "parameters": {"binary_data_size": len(raw)}}  # fmt: skip
    header = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}}).encode()
    r = client.post(
        f"{model}/infer", data=header + raw,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )  # fmt: skip
    assert r.status_code == 200, r.data[:200]
    n = int(r.headers["Inference-Header-Content-Length"])
    meta, buffer = json.loads(r.data[:n]), r.data[n:]
    sizes = [o["parameters"]["binary_data_size"] for o in meta["outputs"]]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    labels = np.frombuffer(buffer[: sizes[0]], dtype="<i8")
    probabilities = np.frombuffer(buffer[sizes[0] :], dtype="<f8").reshape(-1, 2)
    score = client.post("/score", json={"input": rows.tolist()}).get_json()
    assert labels.tolist() == score["predictions"]
    np.testing.assert_allclose(probabilities, score["probabilities"], atol=1e-6)


def test_string_labels_are_bytes_tensors():
    from serving.v2_tensors import encode

    entries, raw = encode([("predict", ["barolo", "barbera"], True)])
    assert entries == [{"name": "predict", "datatype": "BYTES", "shape": [2],
                        "parameters": {"binary_data_size": 4 + 6 + 4 + 7}}]  # fmt: skip
    assert raw == struct.pack("<I", 6) + b"barolo" + struct.pack("<I", 7) + b"barbera"
    entries, raw = encode([("predict", ["barolo"], False)])
    assert entries[0]["data"] == ["barolo"] and raw == b""


ROW = [1.0] * 30


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": []}, "a list of one tensor named 'input'"),
        ({"inputs": [{**_tensor([ROW]), "name": "x"}]}, "named 'x'; this model's input is"),
        ({"inputs": [_tensor([ROW], "INT64")]}, "datatype 'INT64' is not one of"),
        ({"inputs": [{**_tensor([ROW]), "shape": [1, 29]}]}, "must be [rows, 30]"),
        ({"inputs": [{**_tensor([ROW]), "shape": [2, 30]}]}, "holds 30 values; its shape needs 60"),
        ({"inputs": [{**_tensor([ROW]), "data": [True] * 30}]}, "holds true, not a number"),
        ({"inputs": [{**_tensor([ROW]), "data": ["a"] * 30}]}, 'holds "a", not a number'),
        ({"inputs": [_tensor([[1e300] * 30])]}, "outside the accepted range"),
        ({"inputs": [_tensor([ROW] * 51)]}, "has 51 rows; send 1 to 50"),
        ({"inputs": [_tensor([ROW])], "outputs": [{"name": "x"}]}, "this model has"),
        ({"inputs": [_tensor([ROW])], "extra": 1}, "unknown field(s) ['extra']"),
        ({"inputs": [_tensor([ROW])], "id": 5}, "'id' must be a string"),
    ],
    ids=["no-inputs", "input-name", "datatype", "shape", "count", "bool", "string", "range",
         "too-many-rows", "unknown-output", "unknown-field", "id-type"],
)  # fmt: skip
def test_malformed_infer_is_400_naming_the_problem(v2, body, message):
    client, model, _ = v2
    r = _infer(client, model, body)
    assert r.status_code == 400
    assert list(r.get_json()) == ["error"] and message in r.get_json()["error"]


def test_bad_binary_framing_is_400(v2):
    client, model, _ = v2
    tensor = {**_tensor([ROW]), "parameters": {"binary_data_size": 240}}
    del tensor["data"]
    header = json.dumps({"inputs": [tensor]}).encode()
    for length, extra, message in [
        ("999999", b"", "not a length within"),
        (str(len(header)), b"\0" * 8, "must be 30 x 8 bytes, and the body carries 8"),
    ]:
        r = client.post(f"{model}/infer", data=header + extra,
                        headers={"Inference-Header-Content-Length": length})  # fmt: skip
        assert r.status_code == 400 and message in r.get_json()["error"]


def test_another_model_or_version_is_404(v2, card):
    client, model, _ = v2
    assert client.get("/v2/models/other").status_code == 404
    r = _infer(client, f"{model}/versions/0000", {"inputs": [_tensor([ROW])]})
    assert r.status_code == 404 and "version '0000' is not served" in r.get_json()["error"]
