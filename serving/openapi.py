"""The OpenAPI 3.1 description of the scoring API, built from the loaded model and config.

Hand-written (no framework generates it) and exact: feature names, class labels, the
batch limit and the value range come from the same objects the handlers enforce, so
the document cannot drift from what the service accepts and answers.
"""

from __future__ import annotations

import math

from modelcard import TASKS, ModelCard

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
IDENTITY_HEADERS = ("X-Model-Name", "X-Model-Version", "X-Code-Revision", "X-Model-Runtime")


def build_openapi(
    card: ModelCard,
    *,
    max_rows: int,
    max_abs_value: float,
    max_body_bytes: int,
    code_revision: str,
    metrics_content_type: str,
) -> dict:
    """The OpenAPI document served at /openapi.json."""
    value: dict = {"type": "number"}
    if math.isfinite(max_abs_value):
        value |= {"minimum": -max_abs_value, "maximum": max_abs_value}
    n = len(card.feature_names)
    batch = {"type": "array", "minItems": 1, "maxItems": max_rows}
    schemas = {
        "InputBatch": _closed(
            {
                "input": {
                    **batch,
                    "items": {"type": "array", "minItems": n, "maxItems": n, "items": value},
                }
            },
            description=f"Rows of {n} numbers in the model card's feature order.",
        ),
        "InstancesBatch": _closed(
            {"instances": {**batch, "items": _closed(dict.fromkeys(card.feature_names, value))}},
            description="Rows as objects of feature name: value; every feature, no other key.",
        ),
        "Scores": _closed(_scores_properties(card)),
        "Error": _closed(
            {
                "error": {"type": "string", "minLength": 1},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
            },
            description="Every error: a message naming the problem and the HTTP status.",
        ),
    }
    score = {
        "summary": "Score a batch of rows",
        "requestBody": {
            "required": True,
            "description": f"At most {max_body_bytes} bytes.",
            "content": {
                JSON: {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/InputBatch"},
                            {"$ref": "#/components/schemas/InstancesBatch"},
                        ]
                    }
                }
            },
        },
        "responses": {
            "200": _json(
                "One prediction per input row"
                + (", and one row of class probabilities." if card.is_classifier else "."),
                "Scores",
            ),
            "400": _json(
                "Not JSON, wrong shape, a bad value or one the model cannot score.", "Error"
            ),
            "413": _json(f"The body is larger than {max_body_bytes} bytes.", "Error"),
            "415": _json(f"The Content-Type is not {JSON}.", "Error"),
        },
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Liveline scoring API",
            "version": code_revision,
            "description": f"Serves model {card.model_name} version {card.model_version}.",
        },
        "paths": {
            "/score": {"post": score},
            "/healthz": _get("The process is alive.", _status_body("alive")),
            "/readyz": {
                "get": {
                    "summary": "The model is loaded.",
                    "responses": {
                        "200": _json("Ready.", _status_body("ready", model_version=_STRING)),
                        "503": _json(
                            "Not ready.", _status_body("not ready", reason={"type": "string"})
                        ),
                    },
                }
            },
            "/version": _get("Code and model identity.", _closed(_version_properties())),
            "/metrics": _get(
                "Prometheus text exposition.", {"type": "string"}, media=metrics_content_type
            ),
            "/openapi.json": _get("This document.", {"type": "object"}),
        },
        "components": {
            "schemas": schemas,
            "headers": {name: {"required": True, "schema": _STRING} for name in IDENTITY_HEADERS},
        },
    }


_STRING = {"type": "string"}


def _closed(properties: dict, description: str | None = None) -> dict:
    """An object schema with exactly these properties, all required."""
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _scores_properties(card: ModelCard) -> dict:
    identity = {
        "model_name": {"const": card.model_name},
        "model_version": {"const": card.model_version},
    }
    if not card.is_classifier:
        value = {"type": "number", "description": f"The predicted value ({card.task})."}
        return identity | {"predictions": {"type": "array", "minItems": 1, "items": value}}
    k = len(card.classes)
    kind = "string" if isinstance(card.classes[0], str) else "integer"
    label = {"type": kind, "enum": list(card.classes)}
    probability = {"type": "number", "minimum": 0, "maximum": 1}
    return identity | {
        "classes": {"const": list(card.classes)},
        "predictions": {"type": "array", "minItems": 1, "items": label},
        "probabilities": {
            "type": "array",
            "minItems": 1,
            "description": "One row per input row, one column per class, in classes order.",
            "items": {"type": "array", "minItems": k, "maxItems": k, "items": probability},
        },
    }


def _version_properties() -> dict:
    return {
        "code_revision": _STRING,
        "build_time": _STRING,
        "model_name": _STRING,
        "model_version": _STRING,
        "task": {"enum": list(TASKS)},
        "model_created_at": {"type": ["string", "null"]},
        "sklearn_version": _STRING,
        "runtime": {"enum": ["onnxruntime", "scikit-learn"]},
        "runtime_version": _STRING,
        "artifact": _STRING,
    }


def _status_body(status: str, **extra: dict) -> dict:
    return _closed({"status": {"const": status}, **extra})


def _json(description: str, schema: dict | str, media: str = JSON) -> dict:
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    return {
        "description": description,
        "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in IDENTITY_HEADERS},
        "content": {media: {"schema": schema}},
    }


def _get(summary: str, schema: dict, media: str = JSON) -> dict:
    return {"get": {"summary": summary, "responses": {"200": _json("OK.", schema, media)}}}
