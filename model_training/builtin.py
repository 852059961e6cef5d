"""The default recipe: a scaled logistic regression on scikit-learn's breast-cancer set.

Written the way a team writes its own: a loader returning a DataFrame with a label
column, and an entry point taking the training rows and params, returning the fitted
estimator. `[tool.liveline.training]` in pyproject.toml names both.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def breast_cancer() -> pd.DataFrame:
    """569 rows, 30 numeric features, `target` 0 (malignant) or 1 (benign)."""
    return load_breast_cancer(as_frame=True).frame


def logistic_regression(x: pd.DataFrame, y: pd.Series, params: dict[str, Any]) -> Pipeline:
    """Preprocessing lives inside the model, so the artifact is self-contained."""
    model = Pipeline([
        ("scale", StandardScaler()),
        ("classify", LogisticRegression(C=params.get("C", 1.0),
                                        max_iter=params.get("max_iter", 1000),
                                        random_state=params.get("random_state", 42))),
    ])  # fmt: skip
    return model.fit(x, y)
