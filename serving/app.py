"""Flask app factory: load and verify the model once, then serve it.

Configuration: defaults, then SERVING_* environment variables (Flask's
`from_prefixed_env`), then `test_config`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from serving.envelope import Envelope
from serving.errors import ApiError
from serving.fast import FastPath
from serving.metrics import ServiceMetrics
from serving.model import ModelLoadError, load_model
from serving.openapi import build_openapi
from serving.routes import blueprint as routes
from serving.routes import json_response
from serving.scoring import Scoring
from serving.v2 import blueprint as v2

log = logging.getLogger("serving")

DEFAULTS = {
    "MODEL_DIR": "/app/model",
    "MAX_BATCH_ROWS": 1000,
    # Far beyond any real feature value and far below where the pipeline could overflow;
    # declared in /openapi.json, so "a valid request" has one meaning.
    "MAX_ABS_VALUE": 1e15,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "CODE_REVISION": "unknown",
    "BUILD_TIME": "unknown",
    # auto: the ONNX graph on onnxruntime when the card has one, else skops (serving.runtimes).
    "RUNTIME": "auto",
}


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; raises ModelLoadError (after logging why) if the model is unfit."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("SERVING")
    if test_config:
        app.config.update(test_config)
    try:
        model = load_model(Path(app.config["MODEL_DIR"]), str(app.config["RUNTIME"]))
    except ModelLoadError as e:
        log.critical("refusing to start: %s", e)
        raise
    app.extensions["model"] = model
    # from_prefixed_env parses values as JSON: an all-digit revision would arrive as an int.
    for key in ("CODE_REVISION", "BUILD_TIME"):
        app.config[key] = str(app.config[key])
    revision = app.config["CODE_REVISION"]
    metrics = ServiceMetrics(model.card.model_name, model.card.model_version, revision)
    app.extensions["metrics"] = metrics
    scoring = Scoring(
        model,
        metrics,
        max_rows=app.config["MAX_BATCH_ROWS"],
        max_abs=app.config["MAX_ABS_VALUE"],
        max_body=app.config["MAX_CONTENT_LENGTH"],
    )
    app.extensions["scoring"] = scoring
    app.extensions["openapi"] = build_openapi(
        model.card,
        max_rows=app.config["MAX_BATCH_ROWS"],
        max_abs_value=app.config["MAX_ABS_VALUE"],
        max_body_bytes=app.config["MAX_CONTENT_LENGTH"],
        code_revision=revision,
        metrics_content_type=metrics.content_type,
    )
    identity = {
        "X-Model-Name": model.card.model_name,
        "X-Model-Version": model.card.model_version,
        "X-Code-Revision": revision,
        "X-Model-Runtime": f"{model.runtime.name}/{model.runtime.version}",
    }

    # The identity headers and the request metrics, on every response (serving.envelope).
    envelope = Envelope(app.wsgi_app, identity, metrics)

    @app.errorhandler(ApiError)
    def api_error(e: ApiError) -> Response:
        return json_response({"error": e.message, "status": e.status}, e.status)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        message = e.description or e.name
        if e.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            message = f"request body is larger than the limit of {limit} bytes"
        response = json_response({"error": message, "status": e.code}, e.code or 500)
        # Keep the exception's own headers (405's Allow, RFC 9110), not its HTML type.
        response.headers.extend(
            (name, value) for name, value in e.get_headers() if name.lower() != "content-type"
        )
        return response

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"error": "internal error; see the service log", "status": 500}, 500)

    app.register_blueprint(routes)
    app.register_blueprint(v2)
    # Successful scoring requests are answered in front of Flask (serving.fast says why).
    fast = FastPath(envelope, scoring, app.url_map)
    app.wsgi_app = fast  # type: ignore[method-assign]
    log.info(
        "serving %s version %s (code %s) on %s %s",
        model.card.model_name,
        model.card.model_version,
        app.config["CODE_REVISION"],
        model.runtime.name,
        model.runtime.version,
    )
    return app
