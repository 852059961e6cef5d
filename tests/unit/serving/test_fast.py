"""The fast path in front of Flask (serving.fast) answers exactly as Flask alone does: for
the same request, the same status, headers (in order) and body bytes, errors included,
and the same metrics; it answers the successful scoring requests itself and leaves the
rest to Flask."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from serving import create_app
from serving.fast import FastPath

ROW = [1.0] * 30
CONFIG = {"CODE_REVISION": "0123abc", "MAX_BATCH_ROWS": 50, "MAX_CONTENT_LENGTH": 64 * 1024}


def _v2(rows, **extra):
    shape = [len(rows), len(rows[0])]
    return {"inputs": [{"name": "input", "datatype": "FP64", "shape": shape, "data": rows}]} | extra


def _binary_v2(rows):
    """Triton's binary extension: a JSON header, then the raw tensor, binary outputs."""
    raw = np.asarray(rows, dtype="<f8").tobytes()
    tensor = {"name": "input", "datatype": "FP64", "shape": [len(rows), len(rows[0])]}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    header = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}}).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header))}


def _requests(card) -> dict[str, tuple[dict, bool]]:
    """Requests by name: EnvironBuilder arguments, and whether the fast path answers."""
    infer = f"/v2/models/{card['model_name']}/infer"
    versioned = f"/v2/models/{card['model_name']}/versions/{card['model_version']}/infer"
    golden = card["golden"]["inputs"]
    names = [f["name"] for f in card["features"]]
    binary, binary_headers = _binary_v2(golden[:2])

    def post(path, body, content_type="application/json", **kw):
        data = body if isinstance(body, bytes) else json.dumps(body)
        return {"path": path, "method": "POST", "data": data, "content_type": content_type, **kw}

    def chunked(body):
        return {
            "path": "/score",
            "method": "POST",
            "input_stream": io.BytesIO(body),
            "headers": {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            "environ_overrides": {"wsgi.input_terminated": True},
        }

    row = json.dumps({"input": [ROW]}).encode()
    charset = "application/json; charset=utf-8"
    fast = {
        "one row": post("/score", {"input": golden[:1]}),
        "all golden rows": post("/score", {"input": golden}),
        "50 rows": post("/score", {"input": [ROW] * 50}),
        "instances": post("/score", {"instances": [dict(zip(names, ROW, strict=True))]}),
        "json with a charset": post("/score", {"input": [ROW]}, charset),
        "json in capitals": post("/score", {"input": [ROW]}, "Application/JSON"),
        "infer": post(infer, _v2(golden)),
        "infer, versioned": post(versioned, _v2(golden, id="req-1")),
        "infer, any content type": post(infer, _v2([ROW]), "text/plain"),
        "infer, binary tensors": post(infer, binary, "application/x", headers=binary_headers),
    }
    flask = {
        "not json": post("/score", b"{not json"),
        "empty body": post("/score", b""),
        "empty batch": post("/score", {"input": []}),
        "too many rows": post("/score", {"input": [ROW] * 51}),
        "a string value": post("/score", {"input": [["x", *ROW[1:]]]}),
        "out of range": post("/score", {"input": [[1e300, *ROW[1:]]]}),
        "text/plain": post("/score", {"input": [ROW]}, "text/plain"),
        "no content type": post("/score", {"input": [ROW]}, None),
        "over the limit": post("/score", b" " * (64 * 1024 + 1)),
        "chunked": chunked(row),
        "shorter than its Content-Length": post(
            "/score", row, environ_overrides={"CONTENT_LENGTH": str(len(row) + 10)}
        ),
        "chunked over the limit": chunked(row + b" " * 64 * 1024),
        "GET /score": {"path": "/score", "method": "GET"},
        "PUT /score": {"path": "/score", "method": "PUT", "data": row},
        "/score/": post("/score/", {"input": [ROW]}),
        "//score": post("//score", {"input": [ROW]}),
        "infer, bad tensor": post(infer, {"inputs": [{"name": "x"}]}),
        "infer, another model": post("/v2/models/other/infer", _v2([ROW])),
        "infer, another version": post(f"{infer[:-6]}/versions/0/infer", _v2([ROW])),
        "GET infer": {"path": infer, "method": "GET"},
    }
    return {name: (args, True) for name, args in fast.items()} | {
        name: (args, False) for name, args in flask.items()
    }


def _call(wsgi, args: dict) -> tuple[str, list, bytes]:
    args = {**args}
    if "input_stream" in args:  # each call reads its own copy
        args["input_stream"] = io.BytesIO(args["input_stream"].getvalue())
    body, status, headers = run_wsgi_app(wsgi, EnvironBuilder(**args).get_environ(), True)
    return status, headers.to_wsgi_list(), b"".join(body)


@pytest.fixture
def apps(model_dir_pristine):
    """The app, and the same app's Flask alone (with its envelope), which the fast path
    falls back to: the calls that reach it are recorded."""
    app = create_app({"MODEL_DIR": str(model_dir_pristine), **CONFIG})
    fast = app.wsgi_app
    assert isinstance(fast, FastPath)
    flask_alone = fast.app
    reached: list[str] = []

    def recorded(environ, start_response):
        reached.append(environ["PATH_INFO"])
        return flask_alone(environ, start_response)

    fast.app = recorded
    return app, flask_alone, reached


def test_the_fast_path_answers_as_flask_does(apps, card):
    app, flask_alone, reached = apps
    for name, (args, fast_answers) in _requests(card).items():
        reached.clear()
        got = _call(app, args)
        assert got == _call(flask_alone, args), name
        assert not reached if fast_answers else reached, name
        assert ("X-Code-Revision", "0123abc") in got[1], name


def _counts(app) -> list[str]:
    """The metric lines that do not depend on timing: counts by label, scored rows."""
    text = app.test_client().get("/metrics").get_data(as_text=True)
    counted = re.compile(
        r"^liveline_(http_requests_total|http_request_duration_seconds_count|scored_rows_total)"
    )
    return sorted(line for line in text.splitlines() if counted.match(line))


def test_the_metrics_are_flasks(model_dir_pristine, card):
    fast = create_app({"MODEL_DIR": str(model_dir_pristine), **CONFIG})
    alone = create_app({"MODEL_DIR": str(model_dir_pristine), **CONFIG})
    for args, _ in _requests(card).values():
        _call(fast, args)
        _call(alone.wsgi_app.app, args)
    assert _counts(fast) == _counts(alone)
    assert any('endpoint="/v2/models/<name>/infer"' in line for line in _counts(fast))


def test_an_overflow_in_the_model_is_flasks_400(model_dir_pristine):
    app = create_app({"MODEL_DIR": str(model_dir_pristine), "MAX_ABS_VALUE": float("inf")})
    row = ", ".join(["1e308"] * 29 + ["-1.7e308"])
    args = {"path": "/score", "method": "POST", "data": f'{{"input": [[{row}]]}}'}
    args["content_type"] = "application/json"
    got = _call(app, args)
    assert got == _call(app.wsgi_app.app, args)
    assert got[0].startswith("400") and b"numeric overflow" in got[2]


@pytest.mark.parametrize("name", ["modèle à noter", "a/b"])
def test_model_names_are_routed_as_flask_routes_them(model_dir, name):
    # A name out of ASCII is served (WSGI paths are latin-1 text); one with a slash is
    # no route of Flask's, so infer refuses it (404) and the fast path leaves it be.
    card_file = model_dir / "model_card.json"
    card = json.loads(card_file.read_text())
    card["model_name"] = name
    card_file.write_text(json.dumps(card))
    app = create_app({"MODEL_DIR": str(model_dir)})
    args = {"path": f"/v2/models/{name}/infer", "method": "POST", "data": json.dumps(_v2([ROW]))}
    got = _call(app, args)
    assert got == _call(app.wsgi_app.app, args)
    assert got[0] == ("404 NOT FOUND" if "/" in name else "200 OK")
