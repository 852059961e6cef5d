"""The benchmark's ceiling: the serving image's gunicorn and Flask configuration answering
a constant, so `make bench` can print the scoring service's figures as ratios to it."""

from __future__ import annotations

import orjson
from flask import Flask, Response, request

app = Flask(__name__)
_BODY = orjson.dumps({"model_name": "constant", "model_version": "0", "predictions": [1]})


@app.post("/score")
@app.post("/v2/models/<name>/infer")
def score(name: str | None = None) -> Response:
    request.get_data()  # read the body, as the service does
    return Response(_BODY, mimetype="application/json")


@app.get("/readyz")
def ready() -> Response:
    return Response(b'{"status": "ready"}', mimetype="application/json")
