"""The scoring API: /score, /healthz, /readyz, /version, /metrics, /openapi.json."""

from __future__ import annotations

import numpy as np
import orjson
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from serving.errors import ApiError
from serving.model import LoadedModel, Scores
from serving.payload import parse_rows

blueprint = Blueprint("api", __name__)

JSON = "application/json"


def json_response(body: object, status: int = 200) -> Response:
    # orjson serialises numpy arrays directly, several times faster than flask.json.
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status=status, mimetype=JSON
    )


@blueprint.post("/score")
def score() -> Response:
    if request.mimetype != JSON:
        raise ApiError(415, f"Content-Type must be {JSON}, got {request.mimetype or 'none'!r}")
    model = current_app.extensions["model"]
    rows = parse_rows(
        read_body(),
        model.card.feature_names,
        current_app.config["MAX_BATCH_ROWS"],
        current_app.config["MAX_ABS_VALUE"],
    )
    scores = checked_scores(model, rows)
    body = {
        "model_name": model.card.model_name,
        "model_version": model.card.model_version,
        "predictions": scores.predictions,
    }
    if scores.probabilities is not None:
        body |= {"classes": list(model.card.classes), "probabilities": scores.probabilities}
    return json_response(body)


def checked_scores(model: LoadedModel, rows: np.ndarray) -> Scores:
    """The model's answers for validated rows, refused (400) where they overflowed."""
    scores = model.predict(rows)
    numbers = scores.predictions if scores.probabilities is None else scores.probabilities
    if not np.isfinite(numbers).all():
        bad = int(np.argwhere(~np.isfinite(numbers))[0][0])
        raise ApiError(
            400, f"input[{bad}] is out of the range the model can score (numeric overflow)"
        )
    current_app.extensions["metrics"].scored(len(rows))
    return scores


def read_body() -> bytes:
    """The request body; 413 if it is over the limit, streamed (chunked) bodies too."""
    body = request.get_data(cache=False)
    limit = request.max_content_length
    # werkzeug ends a streamed body at the limit without an error (gunicorn streams
    # chunked requests), so a longer body would be scored truncated. One more byte from
    # the server's stream tells a body of exactly the limit from a longer one.
    if (
        request.content_length is None
        and limit is not None
        and len(body) >= limit
        and request.environ["wsgi.input"].read(1)
    ):
        raise RequestEntityTooLarge()
    return body


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
