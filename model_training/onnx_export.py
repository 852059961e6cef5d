"""Convert a fitted estimator to ONNX (skl2onnx), and prove the graph answers as it does.

The ONNX graph is a second artifact beside the skops one, served by onnxruntime without
scikit-learn. It is published only when onnxruntime, run as serving runs it, gives the
estimator's own answers on every golden and evaluation row: the same most probable
class, probabilities or predictions within the tolerance the card records. A double-
precision graph is tried first (the converters that have one match scikit-learn to
about 1e-16), then single precision. A model that does not convert or does not match
is still published, with its skops artifact alone and the reason in the card: never a
failed publish for that.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

import modelcard

log = logging.getLogger(__name__)

# Per precision: (rtol, atol) for np.allclose against the estimator's own answers.
TOLERANCE = {"float64": (1e-9, 1e-9), "float32": (1e-4, 1e-5)}
LIBRARIES = ("skl2onnx", "onnx", "onnxruntime")


@dataclass(frozen=True)
class Conversion:
    """The ONNX artifact (None when there is none) and the card's `onnx` section."""

    artifact: bytes | None
    section: dict[str, Any]

    @property
    def libraries(self) -> dict[str, str]:
        return {lib: metadata.version(lib) for lib in LIBRARIES} if self.artifact else {}


def convert(
    estimator: Any, rows: np.ndarray, task: str, expected: np.ndarray, classifier: bool
) -> Conversion:
    """The estimator as a checked ONNX graph, or the reason there is none. expected: the
    estimator's own answers for rows (probabilities, or a regressor's predictions)."""
    reasons: dict[str, list[str]] = {}  # why -> the precisions it applies to
    for dtype in TOLERANCE:
        try:
            graph = _to_onnx(estimator, rows.shape[1], dtype, task)
            section = _check(graph, rows, dtype, expected, classifier)
        except Exception as e:  # skl2onnx and onnxruntime raise many types
            why = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
            reasons.setdefault(why, []).append(dtype)
            continue
        log.info("ONNX %s graph matches the estimator on %d rows (max error %.2g)",
                 dtype, len(rows), section["max_abs_error"])  # fmt: skip
        return Conversion(graph, section)
    reason = "; ".join(f"{' and '.join(dtypes)}: {why}" for why, dtypes in reasons.items())
    log.warning("no ONNX artifact for this %s: %s; the skops artifact is served",
                type(estimator).__name__, reason)  # fmt: skip
    return Conversion(None, {"status": modelcard.SKIPPED, "reason": reason})


def _to_onnx(estimator: Any, n_features: int, dtype: str, task: str) -> bytes:
    from skl2onnx import to_onnx  # imported here: seconds, and only publishing needs it
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    tensor = DoubleTensorType if dtype == "float64" else FloatTensorType
    # zipmap off: probabilities as one [N, classes] tensor, not a list of dicts.
    options = {"zipmap": False} if task != modelcard.REGRESSION else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # converters warn about opsets and feature names
        model = to_onnx(estimator, initial_types=[(modelcard.INPUT, tensor([None, n_features]))],
                        options=options)  # fmt: skip
    return bytes(model.SerializeToString())


def _check(
    graph: bytes, rows: np.ndarray, dtype: str, expected: np.ndarray, classifier: bool
) -> dict[str, Any]:
    """Run the graph as serving will; raise unless it answers as the estimator does."""
    import onnx

    session = modelcard.onnx_session(graph)
    outputs = session.run(None, {modelcard.INPUT: rows.astype(dtype)})
    # A regressor's graph answers [rows, 1]; reshape raises on any other size.
    answers = np.asarray(outputs[-1], dtype=np.float64).reshape(expected.shape)
    rtol, atol = TOLERANCE[dtype]
    error = float(np.abs(answers - expected).max())
    if not np.allclose(answers, expected, rtol=rtol, atol=atol):
        raise ValueError(f"answers differ from the estimator's by up to {error:.3g} "
                         f"(tolerance rtol {rtol}, atol {atol})")  # fmt: skip
    if classifier:
        differ = int((answers.argmax(axis=1) != expected.argmax(axis=1)).sum())
        if differ:
            raise ValueError(f"the most probable class differs on {differ} of {len(rows)} rows")
    imports = onnx.load_from_string(graph).opset_import
    opset = {op.domain or "ai.onnx": int(op.version) for op in imports}
    return {
        "status": modelcard.CONVERTED,
        "file": modelcard.ONNX_FILE,
        "input": modelcard.INPUT,
        "dtype": dtype,
        "outputs": [o.name for o in session.get_outputs()],
        "opset": opset,
        "rows_checked": len(rows),
        "rtol": rtol,
        "atol": atol,
        "max_abs_error": error,
    }
