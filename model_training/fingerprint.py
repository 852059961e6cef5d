"""A model version that is identical whenever the same config trains the same model.

The skops archive cannot serve: its zip timestamps and object-id file names change from
one dump to the next. Instead we hash a canonical form of the fitted estimator: class
names, constructor parameters and every fitted attribute (the trailing-underscore ones,
and for estimators outside a Pipeline's own steps list the private ones too: a
HistGradientBoosting model keeps its trees in `_predictors`). Objects that are not
estimators (a tree's `Tree`, a random generator, a loss) are hashed by their pickling
state, functions by their qualified name, so no memory address reaches the digest.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

VERSION_LENGTH = 16


def _update(digest: Any, value: object) -> None:
    if isinstance(value, np.ndarray):
        if value.dtype.names:  # structured (a Tree's nodes): field by field, never padding
            digest.update(f"struct{value.shape}".encode())
            for name in value.dtype.names:
                _update(digest, name)
                _update(digest, np.ascontiguousarray(value[name]))
            return
        if value.dtype == object:
            for item in value.ravel():
                _update(digest, item)
            digest.update(f"objarray{value.shape}".encode())
            return
        canonical = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<"))
        digest.update(f"array{canonical.dtype.str}{canonical.shape}".encode())
        digest.update(canonical.tobytes())
    elif isinstance(value, BaseEstimator):
        _update_estimator(digest, value)
    elif isinstance(value, list | tuple):
        digest.update(f"seq{len(value)}[".encode())
        for item in value:
            _update(digest, item)
        digest.update(b"]")
    elif isinstance(value, dict):
        digest.update(f"dict{len(value)}{{".encode())
        for key in sorted(value, key=str):
            _update(digest, str(key))
            _update(digest, value[key])
        digest.update(b"}")
    elif isinstance(value, np.generic):
        _update(digest, np.asarray(value))
    elif value is None or isinstance(value, int | float | complex | str | bytes | type):
        # repr of floats is exact (shortest round-trip form), of ints and str unambiguous.
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif callable(value) and hasattr(value, "__qualname__"):
        digest.update(f"callable:{getattr(value, '__module__', '')}.{value.__qualname__};".encode())
    else:
        cls = type(value)
        digest.update(f"object:{cls.__module__}.{cls.__qualname__}(".encode())
        _update(digest, value.__getstate__())
        digest.update(b")")


def _update_estimator(digest: Any, estimator: BaseEstimator) -> None:
    cls = type(estimator)
    digest.update(f"estimator:{cls.__module__}.{cls.__qualname__}(".encode())
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps:
            _update(digest, name)
            _update_estimator(digest, step)
    else:
        _update(digest, estimator.get_params(deep=False))
    fitted = {k: v for k, v in vars(estimator).items() if _is_fitted_state(k)}
    _update(digest, fitted)
    digest.update(b")")


def _is_fitted_state(name: str) -> bool:
    """Public fitted attributes (`coef_`) and private state (`_predictors`), no dunders."""
    return (name.endswith("_") and not name.startswith("__")) or (
        name.startswith("_") and not name.startswith("__")
    )


def model_version(estimator: BaseEstimator) -> str:
    """Short hex fingerprint of a fitted estimator's parameters and fitted state."""
    digest = hashlib.sha256()
    _update_estimator(digest, estimator)
    return digest.hexdigest()[:VERSION_LENGTH]
