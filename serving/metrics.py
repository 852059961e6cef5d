"""Prometheus metrics: request counts and latency by endpoint and status.

Each app gets its own registry, so tests can build many apps in one process. Under
gunicorn, PROMETHEUS_MULTIPROC_DIR is set (see gunicorn.conf.py) and every worker writes
its values to files there; /metrics then aggregates all workers.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LABELS = ("endpoint", "method", "status", "model_version")


class ServiceMetrics:
    """The service's metrics; children are cached because `.labels()` is not free."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, model_name: str, model_version: str, code_revision: str) -> None:
        self.model_version = model_version
        # The *_created series double the output and nobody graphs them.
        disable_created_metrics()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "liveline_http_requests_total",
            "HTTP requests by endpoint and status.",
            LABELS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "liveline_http_request_duration_seconds",
            "HTTP request latency by endpoint and status.",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "liveline_scored_rows_total",
            "Rows scored.",
            ("model_version",),
            registry=self.registry,
        )
        info = Gauge(
            "liveline_model_info",
            "The model and code this process serves (value is always 1).",
            ("model_name", "model_version", "code_revision"),
            registry=self.registry,
            multiprocess_mode="max",
        )
        info.labels(model_name, model_version, code_revision).set(1)
        self._children: dict[tuple[str, str, int], tuple] = {}
        self._rows = self.rows.labels(model_version)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, status)
        children = self._children.get(key)
        if children is None:
            labels = (endpoint, method, str(status), self.model_version)
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def scored(self, rows: int) -> None:
        self._rows.inc(rows)

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
