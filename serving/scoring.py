"""What /score and the V2 infer endpoint do with a request, free of Flask: read the body,
score the rows, count them. Bound once at app creation (`Scoring`), then called both by
the Flask views (serving.routes, serving.v2) and by the plain WSGI fast path in front of
them (serving.fast), so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_content_length, get_input_stream

from serving.errors import ApiError
from serving.metrics import ServiceMetrics
from serving.model import LoadedModel, Scores
from serving.payload import parse_rows

JSON = "application/json"


def dump_json(body: object) -> bytes:
    # orjson serialises numpy arrays directly, several times faster than flask.json.
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def read_body(environ: dict[str, Any], limit: int | None) -> bytes:
    """The request body, read as werkzeug's Request does; 413 if it is over the limit,
    streamed (chunked) bodies too."""
    body = get_input_stream(environ, max_content_length=limit).read()
    # werkzeug ends a streamed body at the limit without an error (gunicorn streams
    # chunked requests), so a longer body would be scored truncated. One more byte from
    # the server's stream tells a body of exactly the limit from a longer one.
    if (
        get_content_length(environ) is None
        and limit is not None
        and len(body) >= limit
        and environ["wsgi.input"].read(1)
    ):
        raise RequestEntityTooLarge()
    return body


@dataclass(frozen=True)
class Scoring:
    """The served model with the app's limits and metrics."""

    model: LoadedModel
    metrics: ServiceMetrics
    max_rows: int
    max_abs: float
    max_body: int | None  # bytes; None: no limit

    def checked_scores(self, rows: np.ndarray) -> Scores:
        """The model's answers for validated rows, refused (400) where they overflowed;
        the rows are counted as scored only once they are answered."""
        scores = self.model.predict(rows)
        numbers = scores.predictions if scores.probabilities is None else scores.probabilities
        if not np.isfinite(numbers).all():
            bad = int(np.argwhere(~np.isfinite(numbers))[0][0])
            raise ApiError(
                400, f"input[{bad}] is out of the range the model can score (numeric overflow)"
            )
        self.metrics.scored(len(rows))
        return scores

    def score(self, body: bytes) -> bytes:
        """The /score answer (JSON) to a request body; ApiError (400) if it is invalid."""
        rows = parse_rows(body, self.model.card.feature_names, self.max_rows, self.max_abs)
        scores = self.checked_scores(rows)
        card = self.model.card
        answer = {
            "model_name": card.model_name,
            "model_version": card.model_version,
            "predictions": scores.predictions,
        }
        if scores.probabilities is not None:
            answer |= {"classes": list(card.classes), "probabilities": scores.probabilities}
        return dump_json(answer)
