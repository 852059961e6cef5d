"""The scoring requests answered by plain WSGI in front of Flask: `POST /score` and the V2
infer endpoint of the served model, when they succeed.

Hand-written because Flask's own machinery was most of a request's cost. Measured
in-process (the WSGI app called directly, no network) on a one-row /score: 171 us through
Flask against 51 us for a Flask app answering a constant; of the difference, the model
took about 26 us and parsing about 25 us, and the rest was Flask's: the request context,
about 16 context-local lookups (request, current_app), routing, the Request and Response
objects. Under gunicorn that held /score to 0.60-0.72 of the constant app's req/s.
Here, each request is a dict lookup on the path, one read of Content-Length bytes, the
scoring code the Flask views call too (serving.scoring, serving.v2.infer_answer) and a
header list: about 45 us in-process for that one-row /score, 245 us for 100 rows (395
before).

Flask still answers everything else, untouched: other paths and methods (404, 405 and its
Allow header), another Content-Type (415), a body without Content-Length or over the limit
(413, chunked bodies too). And every request that fails here is replayed into Flask with
the body already read: its error handlers write every error (400, 404, 500) as before,
and the envelope (serving.envelope) adds the identity headers and the metrics, with the
latency counted from this handler's start.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header
from werkzeug.routing import Map
from werkzeug.wsgi import get_content_length

from serving.envelope import STARTED, Envelope, WsgiApp
from serving.scoring import JSON, Scoring
from serving.v2 import infer_answer

# body -> (answer, Content-Type, further headers); the environ for the request's headers.
Answer = Callable[[bytes, dict[str, Any]], tuple[bytes, str, list[tuple[str, str]]]]
INFER_HEADER_LENGTH = "HTTP_INFERENCE_HEADER_CONTENT_LENGTH"  # V2's binary extension


class FastPath:
    def __init__(self, envelope: Envelope, scoring: Scoring, url_map: Map) -> None:
        self.app: WsgiApp = envelope
        self.scoring = scoring
        self.identity = envelope.identity  # the headers the envelope adds to Flask's answers
        card = scoring.model.card
        score: Answer = lambda body, _: (scoring.score(body), JSON, [])  # noqa: E731
        infer: Answer = lambda body, environ: infer_answer(  # noqa: E731
            scoring, body, environ.get(INFER_HEADER_LENGTH)
        )
        paths = {
            "/score": ("api.score", score, True),
            f"/v2/models/{card.model_name}/infer": ("v2.infer", infer, False),
            f"/v2/models/{card.model_name}/versions/{card.model_version}/infer": (
                "v2.infer",
                infer,
                False,
            ),
        }
        # path in the environ (WSGI's latin-1 form) -> (Flask's rule, answer, JSON only)
        self.routes: dict[str, tuple[str, Answer, bool]] = {}
        adapter = url_map.bind("localhost")
        for path, (endpoint, answer, json_only) in paths.items():
            # Flask's own router names the rule, as the request metrics label it. A model
            # name or version it cannot route (one with a slash) stays Flask's to refuse.
            try:
                rule, _ = adapter.match(path, method="POST", return_rule=True)
            except HTTPException:
                continue
            if rule.endpoint == endpoint:
                self.routes[path.encode().decode("latin-1")] = (rule.rule, answer, json_only)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        route = self.routes.get(environ.get("PATH_INFO", ""))
        if route is None or environ["REQUEST_METHOD"] != "POST":
            return self.app(environ, start_response)
        rule, answer, json_only = route
        length = get_content_length(environ)
        limit = self.scoring.max_body
        if (
            length is None
            or (limit is not None and length > limit)
            or (json_only and not _is_json(environ.get("CONTENT_TYPE", "")))
        ):
            return self.app(environ, start_response)
        body = b""
        try:
            # Content-Length is known and within the limit: a read of that many bytes is
            # what werkzeug would read. A shorter body (the client went away) is Flask's.
            body = environ["wsgi.input"].read(length)
            answered = answer(body, environ) if len(body) == length else None
        except Exception:  # every error is Flask's to answer, below
            answered = None
        if answered is None:
            # Flask answers from the same bytes, as if it had read them itself.
            environ["wsgi.input"] = io.BytesIO(body)
            environ[STARTED] = started
            return self.app(environ, start_response)
        content, content_type, headers = answered
        start_response(
            "200 OK",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(content))),
                *headers,
                *self.identity,
            ],
        )
        self.scoring.metrics.observe(rule, "POST", 200, time.perf_counter() - started)
        return [content]


def _is_json(content_type: str) -> bool:
    """Whether werkzeug's `request.mimetype` would be application/json."""
    return content_type == JSON or parse_options_header(content_type)[0].lower() == JSON
