"""Schema-driven fuzzing: schemathesis generates requests from the app's own /openapi.json.

In process through WSGI: first schemathesis' coverage cases (each boundary, wrong types,
missing and unknown fields, wrong content types, undeclared methods), then
hypothesis-generated valid and invalid bodies. Every answer must be no 5xx (an unhandled
exception in the app fails the test too) and match the document: status, content type,
headers, body schema; invalid requests must get a 4xx and valid ones a 2xx.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections import Counter

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from serving import create_app

# Small batches keep generation fast (the boundary cases build maxItems-long arrays, and
# at 50 rows schemathesis needs a minute for them); the limit is the same code at any size.
BATCH_ROWS = 8
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
# Every documented operation but GET /openapi.json, which schemathesis leaves out as the
# document it was loaded from.
OPERATIONS = {"POST /score", "GET /healthz", "GET /readyz", "GET /version", "GET /metrics"}
MIN_REQUESTS = 1000
FUZZ_EXAMPLES = 300  # per operation and generation mode; operations without inputs stop early
# Replaying every generated request once more, under tracemalloc: the Python heap the app
# still holds afterwards (gc'd; ~30 KB measured, numpy and prometheus caches settling),
# and the peak while answering (~0.7 MB; bodies are at most 64 KiB). A request that kept
# its body, or a hostile one that made the app balloon, would break these.
MAX_RETAINED_BYTES = 128 * 1024
MAX_PEAK_BYTES = 4 * 1024 * 1024
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def schema(model_dir_pristine):
    app = create_app(
        {
            "MODEL_DIR": str(model_dir_pristine),
            "MAX_BATCH_ROWS": BATCH_ROWS,
            "MAX_CONTENT_LENGTH": 64 * 1024,
        }
    )
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_generated_requests_get_documented_answers(schema):
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == OPERATIONS
    answered: Counter[tuple[str, int]] = Counter()
    sent: list[dict] = []

    def send(case: Case) -> None:
        sent.append(case.as_transport_kwargs())
        response = case.call()
        answered[(case.operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    started = time.perf_counter()
    for operation in operations:
        generation = schema.config.generation_for(operation=operation, phase="coverage")
        for case in schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode), generation_config=generation
        ):
            send(case)
        # An operation without inputs has no invalid request to generate.
        modes = list(GenerationMode) if operation.body else [GenerationMode.POSITIVE]
        for mode in modes:
            _fuzz(operation.as_strategy(generation_mode=mode), send)
    elapsed = time.perf_counter() - started

    statuses = Counter()
    for (_, status), n in answered.items():
        statuses[status] += n
    summary = f"{len(sent)} requests in {elapsed:.1f} s, by status {dict(sorted(statuses.items()))}"
    assert len(sent) >= MIN_REQUESTS, summary
    assert {label for label, _ in answered} == OPERATIONS, summary
    retained, peak = _replay_retained(schema.app, sent)
    summary += f"; replayed: retained {retained} B, peak {peak} B"
    assert retained < MAX_RETAINED_BYTES, summary
    assert peak < MAX_PEAK_BYTES, summary
    print(summary)  # shown with `pytest -s`: the figures the README quotes


def _fuzz(strategy, send) -> None:
    @FUZZ
    @given(case=strategy)
    def run(case: Case) -> None:
        send(case)

    run()


def _replay_retained(app: Flask, requests: list[dict]) -> tuple[int, int]:
    """Answer every request twice; return the heap the second round kept, and its peak."""
    client = app.test_client()
    for kwargs in requests:  # the first round fills every lazy cache
        client.open(**kwargs)
    gc.collect()
    tracemalloc.start()
    try:
        for kwargs in requests:
            client.open(**kwargs)
        gc.collect()
        return tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
