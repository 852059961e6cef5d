"""What every response carries, added around the Flask app: the identity headers and the
request's metrics (count and latency by endpoint and status).

A WSGI middleware (the pattern Flask documents: wrap `app.wsgi_app`) rather than
before/after_request hooks: measured in-process on a one-row /score, the two hooks with
werkzeug's per-header validation cost about 30 us of a 400 us request, this about 5 us.
The identity headers are checked once here, not validated again per response.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.datastructures import Headers

from serving.metrics import ServiceMetrics

# werkzeug's Request keeps itself in the environ under this key until the request ends;
# start_response runs before that, so the matched rule can be read there.
_REQUEST = "werkzeug.request"
# When a request reaches Flask after a first attempt (serving.fast), its latency counts
# from this perf_counter() time, kept in the environ.
STARTED = "liveline.started"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Envelope:
    def __init__(self, app: WsgiApp, identity: dict[str, str], metrics: ServiceMetrics) -> None:
        self.app = app
        # Headers() refuses values with newlines: a bad revision fails at start, not later.
        self.identity = list(Headers(identity).items())
        self.metrics = metrics

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = environ.get(STARTED) or time.perf_counter()

        def identified(status: str, headers: list, exc_info: Any = None) -> Any:
            headers.extend(self.identity)
            request = environ.get(_REQUEST)
            rule = request.url_rule if request is not None else None
            self.metrics.observe(
                rule.rule if rule is not None else "unmatched",
                environ["REQUEST_METHOD"],
                int(status[:3]),
                time.perf_counter() - started,
            )
            return start_response(status, headers, exc_info)

        return self.app(environ, identified)
