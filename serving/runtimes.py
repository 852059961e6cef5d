"""The two ways to run a model: its ONNX graph on onnxruntime, or skops + scikit-learn.

The card says which artifacts a model has; `choose` takes the ONNX graph when the card
lists one and onnxruntime is installed (SERVING_RUNTIME=skops or onnx forces one). Each
runtime answers the same thing for the same rows: class probabilities in the card's
class order, or a regressor's predictions, as float64. Each is imported only when
chosen: an image built for one runtime does not carry the other's libraries.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from modelcard import (
    ONNX,
    SKOPS,
    CardError,
    ModelCard,
    check_sklearn_version,
    onnx_session,
    refused_types,
    verify_artifact,
)

AUTO = "auto"
CHOICES = (AUTO, ONNX, SKOPS)


@dataclass(frozen=True)
class Runtime:
    """A loaded model's scorer: `answer(rows)` for finite float64 rows."""

    name: str  # "onnxruntime" or "scikit-learn"
    version: str
    artifact: str  # the file it runs
    run: Any  # rows -> float64 answers

    def answer(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.run(rows), dtype=np.float64)


def choose(card: ModelCard, wanted: str = AUTO) -> str:
    """The artifact format to serve: ONNX if the card has a graph and onnxruntime is here."""
    if wanted not in CHOICES:
        raise CardError(f"SERVING_RUNTIME must be one of {list(CHOICES)}, got {wanted!r}")
    if wanted == ONNX and card.onnx is None:
        raise CardError(
            f"SERVING_RUNTIME is onnx but model {card.model_version} has no ONNX graph "
            f"({card.raw.get('onnx', {}).get('reason', 'none was published')}): "
            "serve it with SERVING_RUNTIME=auto"
        )
    if wanted != AUTO:
        return wanted
    has_onnxruntime = importlib.util.find_spec("onnxruntime") is not None
    return ONNX if card.onnx is not None and has_onnxruntime else SKOPS


def load(card: ModelCard, model_dir: Path, fmt: str) -> Runtime:
    """Verify the chosen artifact against the card and load it."""
    entry = card.artifact_for(fmt)
    try:
        data = (model_dir / entry.file).read_bytes()
    except OSError as e:
        raise CardError(f"cannot read the model in {model_dir}: {e}") from e
    verify_artifact(card, data, entry.file)
    return _onnx(card, data) if fmt == ONNX else _skops(card, data)


def verify_present(card: ModelCard, model_dir: Path, loaded: str) -> None:
    """Every other artifact of the card that the folder holds is the card's, byte for
    byte (`load` verified the one it loaded; an image for one runtime may leave the
    other's artifact out)."""
    for entry in card.artifacts:
        path = model_dir / entry.file
        if entry.file != loaded and path.is_file():
            verify_artifact(card, path.read_bytes(), entry.file)


def _onnx(card: ModelCard, graph: bytes) -> Runtime:
    assert card.onnx is not None
    try:
        session = onnx_session(graph)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        raise CardError(f"the ONNX graph {card.onnx.file} does not load: {e}") from e
    inputs, outputs = session.get_inputs(), [o.name for o in session.get_outputs()]
    if [i.name for i in inputs] != ["input"] or card.onnx.output not in outputs:
        raise CardError(
            f"the ONNX graph takes {[i.name for i in inputs]} and gives {outputs}; its card "
            f"says input and {card.onnx.output}: publish the model again"
        )
    dtype, output, width = np.dtype(card.onnx.dtype), [card.onnx.output], len(card.classes)
    tensor = {"float64": "tensor(double)", "float32": "tensor(float)"}[card.onnx.dtype]
    if inputs[0].type != tensor:
        raise CardError(
            f"the ONNX graph takes {inputs[0].type}, its card says {tensor}: the graph is not "
            "this model; publish the model again"
        )

    def run(rows: np.ndarray) -> np.ndarray:
        (answer,) = session.run(output, {"input": rows.astype(dtype, copy=False)})
        return answer if width else answer.reshape(len(rows))

    check_golden(card, run)
    return Runtime("onnxruntime", metadata.version("onnxruntime"), card.onnx.file, run)


def check_golden(card: ModelCard, run: Any) -> None:
    """The graph answers the card's golden rows as the estimator did at publish, within
    the tolerance the card records: it is this model, for this task and these classes."""
    assert card.onnx is not None
    golden = card.golden
    expected = np.asarray(
        golden.probabilities if card.is_classifier else golden.predictions, dtype=np.float64
    )
    try:
        answers = np.asarray(run(np.asarray(golden.inputs, dtype=np.float64)), dtype=np.float64)
    except Exception as e:  # onnxruntime's own error types
        raise CardError(f"the ONNX graph cannot score the card's golden rows: {e}") from e
    if answers.shape != expected.shape or not np.allclose(
        answers, expected, rtol=card.onnx.rtol, atol=card.onnx.atol
    ):
        raise CardError(
            f"the ONNX graph answers the golden rows with shape {answers.shape}, not the "
            f"card's {card.task} answers {expected.shape} within rtol {card.onnx.rtol}: the "
            "graph is not this model; publish the model again"
        )


NO_FEATURE_NAMES = "X does not have valid feature names"


def _skops(card: ModelCard, artifact: bytes) -> Runtime:
    check_sklearn_version(card)
    import sklearn  # seconds to import: only for the runtime that needs it

    estimator: Any = load_estimator(artifact)
    check_estimator(card, estimator)
    # A model fitted on a DataFrame warns on every call that the rows have no names; the
    # card's feature order stands in for them, checked at publish. Filtered for the whole
    # process, once: warnings.catch_warnings() per call swaps the process's filter list,
    # so with gunicorn's threads one request's exit could unfilter another's predict.
    warnings.filterwarnings("ignore", message=NO_FEATURE_NAMES, category=UserWarning)

    def run(rows: np.ndarray) -> np.ndarray:
        # Rows arrive validated as finite float64 (serving.payload), so scikit-learn's own
        # finiteness scan is redundant. numpy's overflow warnings are off too: the caller
        # refuses non-finite answers itself (errstate, like config_context, is per thread).
        with (
            sklearn.config_context(assume_finite=True, skip_parameter_validation=True),
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        ):
            if card.is_classifier:
                return estimator.predict_proba(rows)
            return estimator.predict(rows)

    return Runtime("scikit-learn", card.sklearn_version, card.artifact_file, run)


def load_estimator(artifact: bytes) -> object:
    """skops load that trusts the default types plus scikit-learn's own (modelcard.trust)."""
    import skops.io

    try:
        untrusted = set(skops.io.get_untrusted_types(data=artifact))
    except Exception as e:  # skops raises many types on a corrupt archive
        raise CardError(f"artifact is not a readable skops archive: {e}") from e
    refused = refused_types(untrusted)
    if refused:
        raise CardError(f"artifact contains types this service does not trust: {refused}")
    try:
        return skops.io.loads(artifact, trusted=sorted(untrusted))
    except Exception as e:
        raise CardError(f"artifact could not be loaded: {e}") from e


def check_estimator(card: ModelCard, estimator: Any) -> None:
    """The estimator is the model its card describes: task, classes, feature count."""
    import sklearn.base

    if card.is_classifier != sklearn.base.is_classifier(estimator):
        kind = "a classifier" if sklearn.base.is_classifier(estimator) else "not a classifier"
        raise CardError(f"the card says {card.task} but the artifact is {kind}")
    if card.is_classifier:
        labels = getattr(estimator, "classes_", [])
        fitted = [c.item() if isinstance(c, np.generic) else c for c in labels]
        if fitted != list(card.classes):
            raise CardError(
                f"artifact classes {fitted} differ from the card's {list(card.classes)}"
            )
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in != len(card.feature_names):
        raise CardError(
            f"artifact expects {n_in} features, the card names {len(card.feature_names)}"
        )
