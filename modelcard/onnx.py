"""The card's ONNX graph: how publishing and serving agree to run it.

A card whose `onnx` section says "converted" lists a second artifact, an ONNX graph that
takes one tensor named `input` ([rows, features], the section's dtype) and whose last
output is the answer: class probabilities ([rows, classes], in the card's class order)
or a regressor's predictions. Publishing checks the graph with `session()` and serving
runs it with `session()`, so both run it the same way. onnxruntime is imported only
there, by the callers that run graphs: reading a card needs the standard library alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

ONNX = "onnx"
ONNX_FILE = "model.onnx"
INPUT = "input"
DTYPES = ("float64", "float32")
CONVERTED, SKIPPED = "converted", "skipped"


@dataclass(frozen=True)
class OnnxGraph:
    """A converted, checked graph: its file, input precision, answer output and opsets."""

    file: str
    dtype: str
    output: str
    opset: dict[str, int]
    rtol: float
    atol: float


def parse_onnx(section: object, artifact_files: dict[str, str]) -> OnnxGraph | None:
    """The graph a card's `onnx` section describes; None when there is none.

    artifact_files maps each listed artifact's file to its format.
    """
    if section is None or (isinstance(section, dict) and section.get("status") == SKIPPED):
        return None
    if not isinstance(section, dict) or section.get("status") != CONVERTED:
        raise ValueError(f"onnx.status must be {CONVERTED!r} or {SKIPPED!r}")
    file, dtype, outputs = section["file"], section["dtype"], section["outputs"]
    if artifact_files.get(file) != ONNX:
        raise ValueError(f"onnx.file {file!r} is not among the artifacts as format {ONNX!r}")
    if dtype not in DTYPES:
        raise ValueError(f"onnx.dtype must be one of {list(DTYPES)}, got {dtype!r}")
    if section.get("input") != INPUT or not isinstance(outputs, list) or not outputs:
        raise ValueError(f"onnx needs input {INPUT!r} and a list of outputs")
    opset = section["opset"]
    if not isinstance(opset, dict) or not all(isinstance(v, int) for v in opset.values()):
        raise ValueError("onnx.opset must map each domain to an integer version")
    return OnnxGraph(file=file, dtype=dtype, output=str(outputs[-1]), opset=dict(opset),
                     rtol=float(section["rtol"]), atol=float(section["atol"]))  # fmt: skip


def session(graph: bytes) -> Any:
    """An onnxruntime session as each serving worker runs it: one intra-op and one
    inter-op thread (gunicorn's workers are the parallelism), CPU only."""
    # onnxruntime 1.32 on Linux otherwise starts Microsoft's 1DS telemetry and writes a
    # device id under ~/.cache/Microsoft (which made the image's verify layer differ on
    # every build): read when onnxruntime loads, so set before the import.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
