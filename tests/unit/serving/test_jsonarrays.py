"""The simdjson reads of the scoring bodies (serving.jsonarrays): the common bodies take
them, every other body is declined to the full parse, and whichever path reads a body the
answer or the error is the full parse's own."""

from __future__ import annotations

import json
import threading

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving import jsonarrays, payload, v2_tensors
from serving.errors import ApiError

WIDTH = 3
NAMES = ("a", "b", "c")
MAX_ROWS, MAX_ABS = 5, 1e9
OUTPUTS = ("predict", "predict_proba")

NUMBER = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0, -0.0, 1e308, 5e-324, 2**53 + 1, 2**63, -(2**63) - 1]),
)
VALUE = st.one_of(NUMBER, st.booleans(), st.none(), st.text(max_size=3), st.just([1, 2]))
ROW = st.lists(st.one_of(NUMBER, NUMBER, NUMBER, VALUE), min_size=0, max_size=WIDTH + 1)
ROWS = st.lists(st.one_of(ROW, ROW, ROW, VALUE), min_size=0, max_size=MAX_ROWS + 1)
SEPARATORS = st.sampled_from([(", ", ": "), (",", ":"), (" ,\n", " :\t")])
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(fn, *args):
    try:
        result = fn(*args)
    except ApiError as e:
        return ("error", e.status, e.message)
    return ("ok", result.shape, result.tolist(), np.signbit(result).tolist())


def _full_parse_only(monkeypatch):
    monkeypatch.setattr(payload, "_plain_input", lambda *a: None)
    monkeypatch.setattr(v2_tensors, "_with_data_read", lambda header: None)


def _score(body: bytes):
    return payload.parse_rows(body, NAMES, MAX_ROWS, MAX_ABS)


@PROPERTY
@given(rows=ROWS, separators=SEPARATORS, key=st.sampled_from(["input", "in1put", "instances"]))
def test_score_bodies_read_as_the_full_parse_reads_them(rows, separators, key):
    body = json.dumps({key: rows}, separators=separators).encode()
    fast = _outcome(_score, body)
    with pytest.MonkeyPatch.context() as mp:
        _full_parse_only(mp)
        assert _outcome(_score, body) == fast


@pytest.mark.parametrize(
    "body",
    [
        {"input": [[1, 2.5, -3e-2]]},
        {"input": [[1, 2, 3]] * MAX_ROWS},
    ],
)
@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":"), (",\n  ", ": ")])
def test_the_common_body_is_read_by_simdjson(body, separators):
    raw = json.dumps(body, separators=separators).encode()
    got = payload._plain_input(raw, WIDTH, MAX_ROWS)
    assert got is not None and got.tolist() == np.asarray(body["input"], float).tolist()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"input": [[1, 2, true]]}',  # a boolean
        b'{"input": [[1, 2, [3]]]}',  # a list in a row
        b'{"input": [[1, 2, 3, 4], [5, 6]]}',  # ragged: 6 values in 2 rows of 3
        b'{"input": [[1, 2, 100000000000000000000000]]}',  # beyond 64 bits
        b'{"input": [[1, 2, 1e999]]}',  # beyond a double
        b'[{"input": [[1, 2, 3]]}]',  # not an object
        b'{"in1put": [[1, 2, 3]]}',  # another key with the same letters
        b'{"input": []}',
        b'{"input": [[1, 2, 3]] }x',
        b'{"input": [[1, 2, 3]], "input": [[4, 5, 6]]}',
        json.dumps({"input": [[1, 2, 3]] * (MAX_ROWS + 1)}).encode(),
    ],
)
def test_other_bodies_are_declined_to_the_full_parse(raw):
    assert payload._plain_input(raw, WIDTH, MAX_ROWS) is None


def test_a_view_kept_past_its_block_does_not_break_the_next_parse():
    with jsonarrays.parsed(b'{"input": [[1, 2, 3]]}') as doc:
        kept = doc["input"]  # simdjson refuses to parse again while this lives
    assert payload._plain_input(b'{"input": [[4, 5, 6]]}', WIDTH, MAX_ROWS).tolist() == [[4, 5, 6]]
    assert kept.as_list() == [[1, 2, 3]]


def test_threads_parse_concurrently_with_their_own_parsers():
    errors: list[str] = []

    def work(k: int) -> None:
        for i in range(300):
            rows = [[k, i, j] for j in range(1 + (i + k) % MAX_ROWS)]
            got = payload._plain_input(json.dumps({"input": rows}).encode(), WIDTH, MAX_ROWS)
            if got is None or got.tolist() != rows:
                errors.append(f"thread {k}, body {i}: {got}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


DATA = st.one_of(ROWS, st.lists(st.one_of(NUMBER, NUMBER, VALUE), max_size=12))
EXTRA = st.dictionaries(
    st.sampled_from(["id", "parameters", "outputs", "junk"]),
    st.one_of(st.text(max_size=3), st.just({"binary_data_output": True}), st.just([])),
)


@PROPERTY
@given(data=DATA, shape=st.sampled_from([[1, 3], [2, 3], [4, 3], [2, 2]]), extra=EXTRA)
def test_infer_requests_read_as_the_full_parse_reads_them(data, shape, extra):
    tensor = {"name": "input", "datatype": "FP64", "shape": shape, "data": data}
    body = json.dumps({"inputs": [tensor], **extra}).encode()

    def infer(raw):
        return v2_tensors.parse_infer(raw, None, WIDTH, MAX_ROWS, MAX_ABS, OUTPUTS).rows

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(v2_tensors, "SIMDJSON_FROM", 0)  # small bodies too
        fast = _outcome(infer, body)
    with pytest.MonkeyPatch.context() as mp:
        _full_parse_only(mp)
        assert _outcome(infer, body) == fast


def test_the_common_tensor_is_read_by_simdjson():
    tensor = {"name": "input", "datatype": "FP64", "shape": [2, 3], "data": [[1, 2, 3], [4, 5, 6]]}
    got = v2_tensors._with_data_read(json.dumps({"id": "7", "inputs": [tensor]}).encode())
    assert got is not None and got["id"] == "7"
    assert got["inputs"][0]["data"].tolist() == [1, 2, 3, 4, 5, 6]
    repeated = b'{"inputs": [{"name": "input", "data": [1], "data": [2]}]}'
    assert v2_tensors._with_data_read(repeated) is None


def test_repeated_keys_inside_the_small_fields_resolve_as_the_full_parse_does():
    # The top level and the tensor refuse repeated keys (simdjson's lookup finds the
    # first); the nested objects become Python by as_dict(), which must keep the last.
    header = (
        b'{"parameters": {"binary_data_output": false, "binary_data_output": true},'
        b' "outputs": [{"name": "predict", "parameters": {"binary_data": true,'
        b' "binary_data": false}}], "inputs": [{"name": "input", "datatype": "FP64",'
        b' "shape": [1, 3], "parameters": {"x": 1, "x": 2}, "data": [1, 2, 3]}]}'
    )
    got = v2_tensors._with_data_read(header)
    assert got is not None
    got["inputs"][0]["data"] = got["inputs"][0]["data"].tolist()
    assert got == orjson.loads(header)
    fast = v2_tensors.parse_infer(header, None, WIDTH, MAX_ROWS, MAX_ABS, OUTPUTS)
    with pytest.MonkeyPatch.context() as mp:
        _full_parse_only(mp)
        full = v2_tensors.parse_infer(header, None, WIDTH, MAX_ROWS, MAX_ABS, OUTPUTS)
    assert fast.outputs == full.outputs == {"predict": False}
