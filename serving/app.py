"""Flask app factory: load and verify the model once, then serve it.

Configuration: defaults, then SERVING_* environment variables (Flask's
`from_prefixed_env`), then `test_config`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from serving.errors import ApiError
from serving.metrics import ServiceMetrics
from serving.model import ModelLoadError, load_model
from serving.routes import blueprint as routes
from serving.routes import json_response

log = logging.getLogger("serving")

DEFAULTS = {
    "MODEL_DIR": "/app/model",
    "MAX_BATCH_ROWS": 1000,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "CODE_REVISION": "unknown",
    "BUILD_TIME": "unknown",
}


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; raises ModelLoadError (after logging why) if the model is unfit."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("SERVING")
    if test_config:
        app.config.update(test_config)
    try:
        model = load_model(Path(app.config["MODEL_DIR"]))
    except ModelLoadError as e:
        log.critical("refusing to start: %s", e)
        raise
    app.extensions["model"] = model
    metrics = ServiceMetrics(
        model.card.model_name, model.card.model_version, str(app.config["CODE_REVISION"])
    )
    app.extensions["metrics"] = metrics
    identity = {
        "X-Model-Name": model.card.model_name,
        "X-Model-Version": model.card.model_version,
        "X-Code-Revision": str(app.config["CODE_REVISION"]),
    }

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def identify_and_measure(response: Response) -> Response:
        response.headers.update(identity)
        rule = request.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"
        started = g.get("started")
        if started is not None:
            metrics.observe(
                endpoint, request.method, response.status_code, time.perf_counter() - started
            )
        return response

    @app.errorhandler(ApiError)
    def api_error(e: ApiError) -> Response:
        return json_response({"error": e.message, "status": e.status}, e.status)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        message = e.description or e.name
        if e.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            message = f"request body is larger than the limit of {limit} bytes"
        return json_response({"error": message, "status": e.code}, e.code or 500)

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"error": "internal error; see the service log", "status": 500}, 500)

    app.register_blueprint(routes)
    log.info(
        "serving %s version %s (code %s)",
        model.card.model_name,
        model.card.model_version,
        app.config["CODE_REVISION"],
    )
    return app
