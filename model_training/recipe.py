"""The team's own training, declared in the project configuration and run here.

A recipe names an entry point (`module:function`, called as `function(X, y, params)`
with the training rows and returning a fitted estimator), the data's label column, the
held-out share and the seed. Liveline splits the data, calls the entry point on the
training part and describes the estimator on the held-out part (model_training.describe),
so every recipe's model meets the same checks. The built-in breast-cancer model is the
default recipe (model_training.builtin), not a special case.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from model_training.config import DEFAULT_MODEL_NAME
from model_training.refused import Refused
from model_training.tables import EvalData, eval_data

DEFAULT_ENTRY_POINT = "model_training.builtin:logistic_regression"
DEFAULT_LOADER = "model_training.builtin:breast_cancer"


@dataclass(frozen=True)
class Recipe:
    model_name: str = DEFAULT_MODEL_NAME
    entry_point: str = DEFAULT_ENTRY_POINT
    params: Mapping[str, Any] = field(default_factory=dict)
    target: str = "target"
    test_size: float = 0.25
    random_state: int = 42
    golden_rows: int = 8

    def __post_init__(self) -> None:
        if not 0.0 < self.test_size < 1.0:
            raise ValueError(f"test_size must be between 0 and 1, got {self.test_size}")
        if self.golden_rows < 1:
            raise ValueError(f"golden_rows must be at least 1, got {self.golden_rows}")
        if not self.model_name or "/" in self.model_name:
            raise ValueError(f"model_name must be non-empty with no '/', got {self.model_name!r}")
        if ":" not in self.entry_point:
            raise ValueError(f"entry_point must be module:function, got {self.entry_point!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "entry_point": self.entry_point,
                "params": dict(self.params), "target": self.target,
                "test_size": self.test_size, "random_state": self.random_state,
                "golden_rows": self.golden_rows}  # fmt: skip


def resolve(reference: str, what: str) -> Callable[..., Any]:
    """The function a `module:function` reference names."""
    module_name, _, name = reference.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as e:
        raise Refused(
            f"{what} {reference!r} cannot be found: {e}; check the module is "
            "importable from the code location and names that function"
        ) from e
    if not callable(function):
        raise Refused(f"{what} {reference!r} is not a function")
    return function


def table_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns and their types, and a fingerprint of the content."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update("\x1f".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    return {"rows": len(frame), "columns": {str(c): str(t) for c, t in frame.dtypes.items()},
            "fingerprint": digest.hexdigest()}  # fmt: skip


@dataclass(frozen=True)
class Fitted:
    """An estimator fitted by a recipe, and the held-out rows to describe it on."""

    estimator: Any
    evaluation: EvalData
    n_train: int


def fit(recipe: Recipe, frame: pd.DataFrame, source: str = "training data") -> Fitted:
    """Split off the held-out rows (stratified for labels that are not floats) and fit."""
    if recipe.target not in frame.columns:
        raise Refused(f"the training data has no label column {recipe.target!r}; its "
                      f"columns are {list(frame.columns)[:10]}: set training.target")  # fmt: skip
    x, y = frame.drop(columns=[recipe.target]), frame[recipe.target]
    stratify = y if y.dtype.kind not in "fc" else None
    x_train, x_eval, y_train, y_eval = train_test_split(
        x, y, test_size=recipe.test_size, random_state=recipe.random_state, stratify=stratify
    )
    train = resolve(recipe.entry_point, "training entry point")
    estimator = train(x_train, y_train, dict(recipe.params, random_state=recipe.random_state))
    held_out = eval_data(x_eval, y_eval, source=f"{source} (held-out {recipe.test_size:g})")
    return Fitted(estimator, held_out, len(x_train))
