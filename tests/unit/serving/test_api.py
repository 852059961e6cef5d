"""Every endpoint through the Flask test client, including every kind of bad input."""

from __future__ import annotations

import json
import math

import pytest

from serving import create_app
from serving.model import ModelLoadError


def _score(client, payload):
    return client.post("/score", data=json.dumps(payload), content_type="application/json")


def test_score_rows_in_card_order(client, card, trained):
    rows = card["golden"]["inputs"][:3]
    r = _score(client, {"input": rows})
    assert r.status_code == 200
    body = r.get_json()
    assert body["model_version"] == trained.described.version
    assert body["model_name"] == card["model_name"]
    assert body["classes"] == [0, 1]
    for got, want in zip(body["probabilities"], card["golden"]["probabilities"][:3], strict=True):
        assert got == pytest.approx(want)
    expected = [max((p, c) for c, p in enumerate(ps))[1] for ps in body["probabilities"]]
    assert body["predictions"] == expected


def test_score_instances_by_feature_name(client, card):
    names = [f["name"] for f in card["features"]]
    rows = card["golden"]["inputs"][:2]
    instances = [dict(reversed(list(zip(names, row, strict=True)))) for row in rows]
    by_name = _score(client, {"instances": instances}).get_json()
    by_row = _score(client, {"input": rows}).get_json()
    assert by_name == by_row


def test_integers_are_numbers(client, card):
    row = [round(v) for v in card["golden"]["inputs"][0]]
    assert _score(client, {"input": [row]}).status_code == 200


def test_batch_at_the_limit(client, card):
    r = _score(client, {"input": [card["golden"]["inputs"][0]] * 50})
    assert r.status_code == 200
    assert len(r.get_json()["predictions"]) == 50


def test_every_response_names_model_and_code(client, trained):
    for r in (client.get("/healthz"), client.get("/nope"), _score(client, {})):
        assert r.headers["X-Model-Version"] == trained.described.version
        assert r.headers["X-Code-Revision"] == "0123abc"


def test_an_identity_that_is_no_header_value_stops_the_start(model_dir):
    with pytest.raises(ValueError, match="newline"):
        create_app({"MODEL_DIR": str(model_dir), "CODE_REVISION": "abc\nSet-Cookie: x"})


ROW = [1.0] * 30


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([ROW], "must be a JSON object"),
        ({}, "exactly one of 'input' or 'instances'"),
        ({"input": [ROW], "instances": []}, "exactly one"),
        ({"input": [ROW], "extra": 1}, "unknown field(s) ['extra']"),
        ({"input": ROW}, "input[0] must be a list of 30 numbers, got a number"),
        ({"input": {"a": 1}}, "'input' must be a list, got an object"),
        ({"input": []}, "'input' is an empty batch"),
        ({"input": [ROW] * 51}, "batch of 51 rows exceeds the limit of 50"),
        ({"input": [ROW[:29]]}, "input[0] has 29 values; the model expects 30"),
        ({"input": [ROW, [*ROW, 1.0]]}, "input[1] has 31 values"),
        (
            {"input": [[*ROW[:3], "abc", *ROW[4:]]]},
            "input[0], feature 3 ('mean area') is not a number: \"abc\"",
        ),
        (
            {"input": [[*ROW[:5], None, *ROW[6:]]]},
            "feature 5 ('mean compactness') is not a number: null",
        ),
        ({"input": [[True, *ROW[1:]]]}, "feature 0 ('mean radius') is not a number: true"),
        (
            {"input": [[*ROW[:2], [1.0], *ROW[3:]]]},
            "feature 2 ('mean perimeter') is not a number: [1.0]",
        ),
        ({"input": [ROW, [*ROW[:1], {"x": 1}, *ROW[2:]]]}, "input[1], feature 1"),
        ({"input": [[*ROW[:29], "NaN"]]}, 'is not a number: "NaN"'),
        ({"instances": [ROW]}, "instances[0] must be an object"),
        ({"instances": [{"mean radius": 1.0}]}, "instances[0] lacks feature(s) ['mean texture'"),
    ],
)
def test_bad_payloads_are_400_with_a_message(client, payload, message):
    r = _score(client, payload)
    assert r.status_code == 400, r.get_json()
    assert message in r.get_json()["error"]
    assert r.get_json()["status"] == 400


def test_unknown_feature_name_is_400(client, card):
    instance = dict.fromkeys([f["name"] for f in card["features"]], 1.0)
    instance["mean colour"] = 2.0
    r = _score(client, {"instances": [instance]})
    assert r.status_code == 400
    assert "unknown feature(s) ['mean colour']" in r.get_json()["error"]


def test_unknown_feature_replacing_a_known_one_is_400(client, card):
    instance = dict.fromkeys([f["name"] for f in card["features"]][1:], 1.0)
    instance["bogus"] = 1.0
    r = _score(client, {"instances": [instance]})
    assert r.status_code == 400
    assert "lacks feature(s) ['mean radius']" in r.get_json()["error"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"", "body is not valid JSON"),
        (b'{"input": [[NaN]]}', "body is not valid JSON"),
        (b'{"input": [[1e999]]}', "body is not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "body is not valid JSON"),
        (b"\xff\xfe", "body is not valid JSON"),
    ],
)
def test_raw_bodies_that_are_not_json_are_400(client, raw, message):
    r = client.post("/score", data=raw, content_type="application/json")
    assert r.status_code == 400
    assert message in r.get_json()["error"]


def test_huge_numbers_are_400(client, model_dir_pristine):
    row = ", ".join(["1e308"] * 29 + ["-1.7e308"])
    body = f'{{"input": [[{row}]]}}'
    r = client.post("/score", data=body, content_type="application/json")
    assert r.status_code == 400
    message = "feature 0 ('mean radius') is 1e+308, outside the accepted range -1e+15 to 1e+15"
    assert message in r.get_json()["error"]
    # Without the range limit they reach the model: finite, but they overflow the scaler.
    limitless = create_app({"MODEL_DIR": str(model_dir_pristine), "MAX_ABS_VALUE": math.inf})
    r = limitless.test_client().post("/score", data=body, content_type="application/json")
    assert r.status_code == 400
    assert "input[0] is out of the range the model can score" in r.get_json()["error"]
    big_int = str(10**400)
    r = client.post("/score", data=f'{{"input": [[{big_int}]]}}', content_type="application/json")
    assert r.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_not_json_is_415(client, content_type):
    r = client.post("/score", data=json.dumps({"input": [ROW]}), content_type=content_type)
    assert r.status_code == 415
    assert "Content-Type must be application/json" in r.get_json()["error"]


def test_oversized_body_is_413(client):
    r = client.post("/score", data=b" " * (64 * 1024 + 1), content_type="application/json")
    assert r.status_code == 413
    assert "larger than the limit of 65536 bytes" in r.get_json()["error"]


def test_wrong_method_and_path_are_json(client):
    r = client.get("/score")
    assert r.status_code == 405 and r.get_json()["status"] == 405
    r = client.get("/missing")
    assert r.status_code == 404 and r.get_json()["status"] == 404


def test_health_ready_version(client, trained, card):
    assert client.get("/healthz").get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["model_version"] == trained.described.version
    version = client.get("/version").get_json()
    assert version["code_revision"] == "0123abc"
    assert version["build_time"] == "2026-01-01T00:00:00Z"
    assert version["model_version"] == trained.described.version
    assert version["model_name"] == card["model_name"]
    assert version["sklearn_version"] == card["libraries"]["scikit-learn"]


def test_metrics_count_requests_by_endpoint_and_status(client, trained):
    _score(client, {"input": [ROW]})
    _score(client, {"input": []})
    client.get("/no/such/path")
    text = client.get("/metrics").get_data(as_text=True)
    v = trained.described.version
    assert "# TYPE liveline_http_request_duration_seconds histogram" in text
    assert (
        f'liveline_http_requests_total{{endpoint="/score",method="POST",model_version="{v}",'
        f'status="200"}} 1.0' in text
    )
    assert f'endpoint="/score",method="POST",model_version="{v}",status="400"}} 1.0' in text
    assert 'endpoint="unmatched",method="GET"' in text
    assert f'liveline_scored_rows_total{{model_version="{v}"}} 1.0' in text
    assert "liveline_model_info{" in text


def test_app_refuses_to_start_on_tampered_model(model_dir, caplog):
    artifact = model_dir / "model.skops"
    data = bytearray(artifact.read_bytes())
    data[100] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError):
        create_app({"MODEL_DIR": str(model_dir)})
    assert "refusing to start" in caplog.text
    assert "does not match the model card" in caplog.text


def test_config_from_environment(monkeypatch, model_dir_pristine):
    monkeypatch.setenv("SERVING_MODEL_DIR", str(model_dir_pristine))
    monkeypatch.setenv("SERVING_MAX_BATCH_ROWS", "2")
    monkeypatch.setenv("SERVING_CODE_REVISION", "feedbeef")
    client = create_app().test_client()
    assert client.get("/version").get_json()["code_revision"] == "feedbeef"
    r = _score(client, {"input": [ROW] * 3})
    assert "exceeds the limit of 2" in r.get_json()["error"]
