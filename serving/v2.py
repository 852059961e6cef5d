"""The Open Inference Protocol, REST (KServe V2): health, model metadata, readiness, infer.

The same model and the same checks as /score, in the protocol that tritonclient and the
kserve client speak. Outputs: `predict` (class labels, or a regressor's values) and, for
classifiers, `predict_proba` ([rows, classes] in the card's class order). Errors are
`{"error": "..."}` with 400 (a bad request) or 404 (another model or version).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from modelcard import INPUT, ModelCard
from serving.errors import ApiError
from serving.model import LoadedModel
from serving.routes import json_response
from serving.scoring import JSON, Scoring, dump_json, read_body
from serving.v2_tensors import PREDICT, PREDICT_PROBA, encode, parse_infer

blueprint = Blueprint("v2", __name__, url_prefix="/v2")

HEADER_LENGTH = "Inference-Header-Content-Length"
PLATFORM = "liveline"  # the same whichever runtime answers: /version names the runtime


@blueprint.errorhandler(ApiError)
def v2_error(e: ApiError) -> Response:
    return json_response({"error": e.message}, e.status)


@blueprint.get("")
def server_metadata() -> Response:
    return json_response(
        {
            "name": "liveline-serving",
            "version": current_app.config["CODE_REVISION"],
            "extensions": ["binary_tensor_data"],
        }
    )


@blueprint.get("/health/live")
def live() -> Response:
    return json_response({"live": True})


@blueprint.get("/health/ready")
def ready() -> Response:
    return json_response({"ready": "model" in current_app.extensions})


@blueprint.get("/models/<name>")
@blueprint.get("/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None) -> Response:
    card = _model(name, version).card
    return json_response(
        {
            "name": card.model_name,
            "versions": [card.model_version],
            "platform": PLATFORM,
            "inputs": [{"name": INPUT, "datatype": "FP64", "shape": [-1, len(card.feature_names)]}],
            "outputs": [
                {"name": name, "datatype": datatype, "shape": shape}
                for name, datatype, shape in _outputs(card)
            ],
            "parameters": {"feature_names": list(card.feature_names), "task": card.task}
            | ({"classes": list(card.classes)} if card.is_classifier else {}),
        }
    )


@blueprint.get("/models/<name>/ready")
@blueprint.get("/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None) -> Response:
    card = _model(name, version).card
    return json_response({"name": card.model_name, "ready": True})


@blueprint.post("/models/<name>/infer")
@blueprint.post("/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None) -> Response:
    # serving.fast answers most of these requests before Flask; what it leaves to this
    # view (another model, a chunked body, every error) is answered alike.
    _model(name, version)
    scoring: Scoring = current_app.extensions["scoring"]
    body = read_body(request.environ, scoring.max_body)
    answer, content_type, headers = infer_answer(scoring, body, request.headers.get(HEADER_LENGTH))
    response = Response(answer, content_type=content_type)
    response.headers.extend(headers)
    return response


def infer_answer(
    scoring: Scoring, body: bytes, header_length: str | None
) -> tuple[bytes, str, list[tuple[str, str]]]:
    """The answer to an infer request body: its bytes, Content-Type and further headers
    (Triton's binary extension says where the JSON header ends); ApiError if invalid."""
    card = scoring.model.card
    parsed = parse_infer(
        body,
        header_length,
        len(card.feature_names),
        scoring.max_rows,
        scoring.max_abs,
        tuple(n for n, _, _ in _outputs(card)),
    )
    scores = scoring.checked_scores(parsed.rows)
    values = {PREDICT: scores.predictions, PREDICT_PROBA: scores.probabilities}
    entries, raw = encode([(n, values[n], binary) for n, binary in parsed.outputs.items()])
    header = dump_json(
        {"model_name": card.model_name, "model_version": card.model_version, "outputs": entries}
        | ({"id": parsed.id} if parsed.id is not None else {})
    )
    if not raw:
        return header, JSON, []
    return header + raw, "application/octet-stream", [(HEADER_LENGTH, str(len(header)))]


def _model(name: str, version: str | None) -> LoadedModel:
    model = current_app.extensions["model"]
    card = model.card
    if name != card.model_name:
        raise ApiError(404, f"no model {name!r} here; this service serves {card.model_name!r}")
    if version is not None and version != card.model_version:
        raise ApiError(
            404, f"{name} version {version!r} is not served here; version {card.model_version} is"
        )
    return model


def _outputs(card: ModelCard) -> list[tuple[str, str, list[int]]]:
    if not card.is_classifier:
        return [(PREDICT, "FP64", [-1])]
    labels = "BYTES" if isinstance(card.classes[0], str) else "INT64"
    return [(PREDICT, labels, [-1]), (PREDICT_PROBA, "FP64", [-1, len(card.classes)])]
