"""Open Inference Protocol (KServe V2) tensors: a request's input in, the outputs back.

JSON tensors (FP32 and FP64, row-major data, nested or flat) and Triton's binary tensor
extension (a JSON header of `Inference-Header-Content-Length` bytes, then the tensors'
raw little-endian bytes, each sized by its `binary_data_size` parameter), which is what
`tritonclient` sends by default. Hand-written: the protocol's own servers (KServe,
Triton) are whole model servers, not libraries a Flask app can borrow a parser from.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelcard import INPUT
from serving import jsonarrays
from serving.errors import ApiError
from serving.payload import check_range

DTYPES: dict[str, np.dtype] = {"FP64": np.dtype("<f8"), "FP32": np.dtype("<f4")}
PREDICT, PREDICT_PROBA = "predict", "predict_proba"
REQUEST_FIELDS = {"id", "parameters", "inputs", "outputs"}
# Headers above this many bytes have their data read by simdjson: below it (one row of 30
# features: 309 bytes) orjson is the faster, 8.2 us against 11.7; at 539 bytes (2 rows)
# they are even, at 999 (4 rows) 19.1 against 12.8 us.
SIMDJSON_FROM = 512


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    rows: np.ndarray  # (n, features) float64, validated
    outputs: dict[str, bool]  # output name -> as binary data


def parse_infer(
    body: bytes,
    header_length: str | None,
    n_features: int,
    max_rows: int,
    max_abs: float,
    output_names: tuple[str, ...],
) -> InferRequest:
    """Validate an infer request; every problem is a 400 that names it."""
    header, binary = _split(body, header_length)
    payload = _with_data_read(header) if len(header) > SIMDJSON_FROM else None
    if payload is None:
        try:
            payload = orjson.loads(header)
        except orjson.JSONDecodeError as e:
            raise ApiError(400, f"body is not valid JSON: {e}") from e
    if not isinstance(payload, dict):
        raise ApiError(400, 'body must be a JSON object {"inputs": [...]}')
    unknown = sorted(set(payload) - REQUEST_FIELDS)
    if unknown:
        raise ApiError(400, f"unknown field(s) {unknown}; use {sorted(REQUEST_FIELDS)}")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ApiError(400, "'id' must be a string")
    params = _object(payload.get("parameters", {}), "parameters")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise ApiError(
            400,
            f"'inputs' must be a list of one tensor named {INPUT!r}, shape [rows, {n_features}]",
        )
    rows = _input(_object(inputs[0], "inputs[0]"), header, binary, n_features, max_rows)
    check_range(rows, max_abs, lambda i, j: f"input row {i}, feature {j}")
    binary_default = params.get("binary_data_output", False) is True
    return InferRequest(request_id, rows, _outputs(payload, output_names, binary_default))


def _with_data_read(header: bytes) -> dict | None:
    """The request as orjson would read it, but the one input tensor's JSON `data` read by
    simdjson straight into a flat float64 array (serving.jsonarrays; a 100-row tensor's
    numbers were most of an infer request's cost). None, for the full parse, when the
    request is not one object holding one such tensor of numbers only, or has a repeated
    key (simdjson would look up the first; orjson keeps the last)."""
    with jsonarrays.parsed(header) as doc:
        try:
            keys = _keys(doc)
            tensors = doc["inputs"] if keys is not None else None
            if keys is None or not isinstance(tensors, jsonarrays.Array) or len(tensors) != 1:
                return None
            tensor: Any = tensors[0]
            fields = _keys(tensor)
            if fields is None:
                return None
            data = tensor["data"]
            values = jsonarrays.floats(data) if isinstance(data, jsonarrays.Array) else None
            if values is None:
                return None
            # By key: items() would make Python objects of every value, the data's too.
            payload = {k: _python(doc[k]) for k in keys if k != "inputs"}
            read = {k: _python(tensor[k]) for k in fields if k != "data"}
        except Exception:  # a missing key, a 65-bit integer: the full parse names it
            return None
    return payload | {"inputs": [read | {"data": values}]}


def _keys(value: Any) -> list[str] | None:
    """An object's keys; None if it is not an object or repeats a key."""
    if not isinstance(value, jsonarrays.Object):
        return None
    keys = list(value.keys())  # a generator
    return keys if len(keys) == len(set(keys)) else None


def _python(value: Any) -> Any:
    if isinstance(value, jsonarrays.Object):
        return value.as_dict()
    return value.as_list() if isinstance(value, jsonarrays.Array) else value


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    try:
        n = int(header_length)
    except ValueError:
        n = -1
    if not 0 < n <= len(body):
        raise ApiError(
            400,
            f"Inference-Header-Content-Length {header_length!r} is not a "
            f"length within the body's {len(body)} bytes",
        )
    return body[:n], body[n:]


def _input(
    tensor: dict, header: bytes, binary: bytes, n_features: int, max_rows: int
) -> np.ndarray:
    name, datatype, shape = tensor.get("name"), tensor.get("datatype"), tensor.get("shape")
    if name != INPUT:
        raise ApiError(400, f"input is named {name!r}; this model's input is {INPUT!r}")
    if datatype not in DTYPES:
        raise ApiError(400, f"input datatype {datatype!r} is not one of {sorted(DTYPES)}")
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or shape[1] != n_features
        or not all(type(d) is int for d in shape)
    ):
        raise ApiError(400, f"input shape {shape!r} must be [rows, {n_features}]")
    if not 1 <= shape[0] <= max_rows:
        raise ApiError(400, f"input has {shape[0]} rows; send 1 to {max_rows}")
    count, dtype = shape[0] * shape[1], DTYPES[datatype]
    size = _object(tensor.get("parameters", {}), "input parameters").get("binary_data_size")
    if size is not None:
        if "data" in tensor:
            raise ApiError(400, "input has both 'data' and binary_data_size: send one")
        if size != count * dtype.itemsize or len(binary) != size:
            raise ApiError(
                400,
                f"input binary_data_size {size!r} must be {count} x "
                f"{dtype.itemsize} bytes, and the body carries {len(binary)}",
            )
        values = np.frombuffer(binary, dtype=dtype)
    else:
        if binary:
            raise ApiError(400, "the body has bytes after its JSON header that no input claims")
        values = _json_data(tensor.get("data"), count, header)
    return values.reshape(shape).astype(np.float64, copy=False)


def _json_data(data: Any, count: int, header: bytes) -> np.ndarray:
    """Row-major values, nested or flat; numbers only (not booleans), exactly `count`.
    `header` is the JSON they were read from; `data` is already a flat float64 array
    when simdjson read it (_with_data_read)."""
    if isinstance(data, np.ndarray):
        values = data
    elif not isinstance(data, list):
        raise ApiError(400, "input 'data' must be a list of numbers (nested or flat)")
    else:
        values = _json_values(data, header)
    if values.size != count:
        raise ApiError(400, f"input 'data' holds {values.size} values; its shape needs {count}")
    return values.reshape(-1)


def _json_values(data: list, header: bytes) -> np.ndarray:
    try:
        values = np.array(data)
    except ValueError:  # ragged
        values = None
    # numpy turns true/false into 1/0 beside numbers: if the JSON has any (a byte scan,
    # in C), every value is checked.
    maybe_bool = b"true" in header or b"false" in header
    if values is None or values.dtype.kind not in "fi" or maybe_bool:
        values = np.array(_flatten(data), dtype=np.float64)
    return values


def _flatten(data: Any) -> list[float]:
    out: list[float] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif type(item) in (int, float):
            out.append(item)
        else:
            shown = (
                orjson.dumps(item).decode()[:40]
                if item is None or isinstance(item, str | bool | dict)
                else type(item).__name__
            )
            raise ApiError(400, f"input 'data' holds {shown}, not a number")
    return out


def _outputs(payload: dict, names: tuple[str, ...], binary_default: bool) -> dict[str, bool]:
    requested = payload.get("outputs")
    if requested is None:
        return dict.fromkeys(names, binary_default)
    if not isinstance(requested, list) or not requested:
        raise ApiError(400, f"'outputs' must be a non-empty list of {list(names)}")
    chosen: dict[str, bool] = {}
    for i, out in enumerate(requested):
        out = _object(out, f"outputs[{i}]")
        if out.get("name") not in names:
            named = out.get("name")
            raise ApiError(400, f"outputs[{i}] names {named!r}; this model has {list(names)}")
        params = _object(out.get("parameters", {}), f"outputs[{i}].parameters")
        chosen[out["name"]] = params.get("binary_data", binary_default) is True
    return chosen


def _object(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise ApiError(400, f"'{field}' must be an object")
    return value


def encode(outputs: list[tuple[str, np.ndarray | list, bool]]) -> tuple[list[dict], bytes]:
    """Output tensors as JSON entries, and the raw bytes of those sent as binary data."""
    entries, raw = [], []
    for name, value, binary in outputs:
        is_text = isinstance(value, list) or np.asarray(value).dtype.kind in "UO"
        array = np.asarray(value, dtype=object if is_text else None)
        datatype = "BYTES" if is_text else ("FP64" if array.dtype.kind == "f" else "INT64")
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if not binary:
            entry["data"] = array.reshape(-1).tolist()
        else:
            data = (
                _bytes_tensor(array)
                if is_text
                else array.astype("<f8" if datatype == "FP64" else "<i8").tobytes()
            )
            entry["parameters"] = {"binary_data_size": len(data)}
            raw.append(data)
        entries.append(entry)
    return entries, b"".join(raw)


def _bytes_tensor(array: np.ndarray) -> bytes:
    """BYTES elements as the binary extension sends them: a 4-byte length, then UTF-8."""
    encoded = [str(v).encode() for v in array.reshape(-1)]
    return b"".join(struct.pack("<I", len(b)) + b for b in encoded)
