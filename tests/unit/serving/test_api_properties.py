"""Property-based tests of /score through the Flask test client: hostile input gets a 4xx.

The oracle for a JSON body is the app's own /openapi.json: a body is scored (200) if and
only if it matches the documented request schema, and is otherwise a 400 with the JSON
error body. Wrong content types are 415, bodies over the limit 413, never a 5xx.
"""

from __future__ import annotations

import io
import json
import math

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from serving import create_app
from serving.app import DEFAULTS
from tests.support.mutations import mutate

BATCH_ROWS = 20
BODY_LIMIT = 64 * 1024
MAX_ABS = DEFAULTS["MAX_ABS_VALUE"]
FEATURES = 30  # the model card's; checked below
# Deterministic in CI: the same examples every run, no example database.
PROPERTY = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
JSON = "application/json"


@pytest.fixture(scope="module")
def client(model_dir_pristine):
    """One app for the module (hypothesis runs many examples per test)."""
    app = create_app(
        {
            "MODEL_DIR": str(model_dir_pristine),
            "MAX_BATCH_ROWS": BATCH_ROWS,
            "MAX_CONTENT_LENGTH": BODY_LIMIT,
        }
    )
    return app.test_client()


@pytest.fixture(scope="module")
def spec(client) -> dict:
    return client.get("/openapi.json").get_json()


@pytest.fixture(scope="module")
def names(card) -> list[str]:
    return [f["name"] for f in card["features"]]


@pytest.fixture(scope="module")
def documented(spec):
    """A validator for the documented /score request body."""
    body = spec["paths"]["/score"]["post"]["requestBody"]["content"][JSON]["schema"]
    return jsonschema_rs.validator_for({**body, "components": spec["components"]})


NUMBER = st.one_of(
    st.floats(min_value=-MAX_ABS, max_value=MAX_ABS),
    st.integers(min_value=-int(MAX_ABS), max_value=int(MAX_ABS)),
)
ROWS = st.lists(
    st.lists(NUMBER, min_size=FEATURES, max_size=FEATURES), min_size=1, max_size=BATCH_ROWS
)
FORMS = st.sampled_from(["input", "instances"])
HUGE = st.sampled_from(
    [10**400, -(10**400), 2**64, 2**63, -(2**63) - 1, 10**15 + 1, 1e16, -1.7976931348623157e308]
)
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=8)
    | HUGE
)
JUNK = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# What a tree edit puts in: numbers in and out of range, other scalars, any JSON value,
# rows one too short or too long.
REPLACEMENT = st.one_of(
    NUMBER,
    HUGE,
    st.floats(min_value=MAX_ABS, max_value=1e20, exclude_min=True),  # finite, still scorable
    st.floats(min_value=-1e20, max_value=-MAX_ABS, exclude_max=True),
    SCALAR,
    JUNK,
    st.lists(NUMBER, min_size=FEATURES - 1, max_size=FEATURES + 1),
)
# Literal tokens spliced in for one number: JSON's non-numbers, numbers a double cannot
# hold, numbers past the documented range, near-JSON syntax, and values of other types.
TOKENS = [
    "NaN", "-NaN", "Infinity", "-Infinity", "nan", "inf", "1e400", "-1e999",
    "1" + "0" * 400, "-" + "9" * 400, "1e16", "-1.0000001e15", str(2**64), str(-(2**63) - 1),
    "0x1F", "01", "+1", ".5", "1.", "1e", "--1", "1_000",
    "true", "false", "null", '"1"', '""', "[]", "{}", "[1]", '{"a": 1}',
]  # fmt: skip
WRONG_TYPES = st.one_of(
    st.sampled_from(
        [
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "application/jsonl",
            "application/json-patch+json",
            "application/vnd.api+json",
            "application/*",
            "*/*",
            "json",
            "",
        ]
    ),
    st.from_regex(r"\A[a-z]{1,12}/[a-z0-9.+-]{1,20}(; ?[a-z]{1,8}=[a-z0-9-]{1,8})?\Z"),
).filter(lambda content_type: content_type.split(";")[0].strip().lower() != JSON)


def _post(client, body: bytes | str, content_type: str | None = JSON, **kwargs):
    return client.post("/score", data=body, content_type=content_type, **kwargs)


def _assert_error(response, status: int) -> None:
    assert response.status_code == status, response.get_data()[:300]
    body = response.get_json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert isinstance(body["error"], str) and body["error"]


def _as_payload(rows: list[list], form: str, names: list[str]) -> dict:
    if form == "input":
        return {"input": rows}
    return {"instances": [dict(zip(names, row, strict=True)) for row in rows]}


def test_the_document_states_the_features_and_limits(spec, names):
    schemas = spec["components"]["schemas"]
    rows = schemas["InputBatch"]["properties"]["input"]
    instances = schemas["InstancesBatch"]["properties"]["instances"]
    value = {"type": "number", "minimum": -MAX_ABS, "maximum": MAX_ABS}
    assert len(names) == FEATURES
    assert rows["maxItems"] == instances["maxItems"] == BATCH_ROWS
    assert rows["items"] == {
        "type": "array",
        "minItems": FEATURES,
        "maxItems": FEATURES,
        "items": value,
    }
    assert list(instances["items"]["properties"]) == names
    assert all(v == value for v in instances["items"]["properties"].values())
    assert str(BODY_LIMIT) in spec["paths"]["/score"]["post"]["responses"]["413"]["description"]


@PROPERTY
@given(method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE", "TRACE", "QUERY", "BREW"]))
def test_other_methods_are_405_and_say_which_is_allowed(client, method):
    response = client.open("/score", method=method)
    _assert_error(response, 405)
    assert "POST" in response.headers["Allow"]


@PROPERTY
@given(rows=ROWS, data=st.data())
def test_valid_batches_get_one_prediction_per_row_in_either_form(client, names, rows, data):
    order = data.draw(st.permutations(names))
    instances = [{name: row[names.index(name)] for name in order} for row in rows]
    by_row = _post(client, json.dumps({"input": rows}))
    by_name = _post(client, json.dumps({"instances": instances}))
    assert by_row.status_code == 200, by_row.get_json()
    body = by_row.get_json()
    assert by_name.get_json() == body
    assert len(body["predictions"]) == len(body["probabilities"]) == len(rows)
    for label, probabilities in zip(body["predictions"], body["probabilities"], strict=True):
        assert math.fsum(probabilities) == pytest.approx(1.0)
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        assert label == body["classes"][best]


@PROPERTY
@given(rows=ROWS, form=FORMS, data=st.data())
def test_a_body_is_scored_if_and_only_if_it_matches_the_document(
    client, names, documented, rows, form, data
):
    payload = _as_payload(rows, form, names)
    for _ in range(data.draw(st.integers(0, 3), label="mutations")):
        payload = mutate(data, payload, names, REPLACEMENT)
    response = _post(client, json.dumps(payload))
    valid = documented.is_valid(payload)
    event("valid" if valid else "invalid")  # pytest --hypothesis-show-statistics
    if valid:
        assert response.status_code == 200, response.get_json()
    else:
        _assert_error(response, 400)


@PROPERTY
@given(rows=ROWS, form=FORMS, token=st.sampled_from(TOKENS), data=st.data())
def test_non_numbers_and_numbers_out_of_range_are_400(client, names, rows, form, token, data):
    i = data.draw(st.integers(0, len(rows) - 1), label="row")
    j = data.draw(st.integers(0, FEATURES - 1), label="feature")
    rows = [list(row) for row in rows]
    rows[i][j] = "@@"
    body = json.dumps(_as_payload(rows, form, names)).replace('"@@"', token)
    _assert_error(_post(client, body), 400)


@PROPERTY
@given(
    depth=st.integers(1, 30_000),
    shape=st.sampled_from(["array", "object"]),
    where=st.sampled_from(["body", "batch", "value"]),
)
@example(depth=5_000, shape="array", where="batch")
@example(depth=5_000, shape="object", where="body")
@example(depth=300, shape="array", where="value")
@example(depth=300, shape="object", where="value")
def test_deeply_nested_json_is_4xx(client, names, depth, shape, where):
    nest = "[" * depth + "]" * depth if shape == "array" else '{"a": ' * depth + "1" + "}" * depth
    body = {
        "body": nest,
        "batch": f'{{"input": {nest}}}',
        "value": f'{{"input": [[{nest}{", 1.0" * (FEATURES - 1)}]]}}',
    }[where].encode()
    response = _post(client, body)
    _assert_error(response, 413 if len(body) > BODY_LIMIT else 400)
    if where == "value" and response.status_code == 400:
        error = response.get_json()["error"]
        assert f"feature 0 ({names[0]!r}) is not a number" in error or "not valid JSON" in error


@PROPERTY
@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_are_400(client, body):
    _assert_error(_post(client, body), 400)


@PROPERTY
@given(rows=ROWS, content_type=WRONG_TYPES)
def test_a_content_type_other_than_json_is_415(client, rows, content_type):
    _assert_error(_post(client, json.dumps({"input": rows}), content_type), 415)


@PROPERTY
@given(
    size=st.integers(BODY_LIMIT - 64, 4 * BODY_LIMIT),
    streamed=st.booleans(),
)
@example(size=BODY_LIMIT, streamed=True)
@example(size=BODY_LIMIT + 1, streamed=True)
def test_a_body_over_the_limit_is_413_even_when_streamed(client, size, streamed):
    # A valid payload padded with spaces: only its size can make it fail.
    payload = json.dumps({"input": [[1.0] * FEATURES]}).encode()
    body = payload + b" " * (size - len(payload))
    if streamed:  # chunked: no Content-Length, the server ends the stream (like gunicorn)
        response = client.post(
            "/score",
            input_stream=io.BytesIO(body),
            headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
    else:
        response = _post(client, body)
    if size > BODY_LIMIT:
        _assert_error(response, 413)
        assert f"larger than the limit of {BODY_LIMIT} bytes" in response.get_json()["error"]
    else:
        assert response.status_code == 200, response.get_json()
