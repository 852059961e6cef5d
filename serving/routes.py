"""The scoring API: /score, /healthz, /readyz, /version, /metrics, /openapi.json."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from serving.errors import ApiError
from serving.scoring import JSON, Scoring, dump_json, read_body

blueprint = Blueprint("api", __name__)


def json_response(body: object, status: int = 200) -> Response:
    return Response(dump_json(body), status=status, mimetype=JSON)


@blueprint.post("/score")
def score() -> Response:
    # serving.fast answers most of these requests before Flask; what it leaves to this
    # view (another Content-Type, a chunked body, every error) is answered alike.
    if request.mimetype != JSON:
        raise ApiError(415, f"Content-Type must be {JSON}, got {request.mimetype or 'none'!r}")
    scoring: Scoring = current_app.extensions["scoring"]
    return Response(scoring.score(read_body(request.environ, scoring.max_body)), mimetype=JSON)


@blueprint.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "alive"})


@blueprint.get("/readyz")
def readyz() -> Response:
    model = current_app.extensions.get("model")
    if model is None:
        return json_response({"status": "not ready", "reason": "no model loaded"}, 503)
    return json_response({"status": "ready", "model_version": model.card.model_version})


@blueprint.get("/version")
def version() -> Response:
    model = current_app.extensions["model"]
    card = model.card
    return json_response(
        {
            "code_revision": current_app.config["CODE_REVISION"],
            "build_time": current_app.config["BUILD_TIME"],
            "model_name": card.model_name,
            "model_version": card.model_version,
            "task": card.task,
            "model_created_at": card.raw.get("created_at"),
            "sklearn_version": card.sklearn_version,
            "runtime": model.runtime.name,
            "runtime_version": model.runtime.version,
            "artifact": model.runtime.artifact,
        }
    )


@blueprint.get("/metrics")
def metrics() -> Response:
    registry = current_app.extensions["metrics"]
    return Response(registry.render(), mimetype=registry.content_type)


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return json_response(current_app.extensions["openapi"])
