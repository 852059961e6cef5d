"""Tabular data in, checked: a DataFrame or numpy arrays, or a CSV or Parquet file.

The scoring service takes finite numbers in the card's feature order, so evaluation
data is held to that here: numeric columns, no missing values, a label for every row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model_training.refused import Refused

TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class EvalData:
    """Features as a float64 matrix in column order, the target, and their names."""

    features: np.ndarray
    target: np.ndarray
    names: tuple[str, ...]
    dtypes: tuple[str, ...]
    source: str
    class_names: Mapping[Any, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """sha256 of the names, values and labels: equal data, equal fingerprint."""
        digest = hashlib.sha256("\x1f".join(self.names).encode() + b"\x1e")
        target = self.target.astype(str) if self.target.dtype.kind in "OU" else self.target
        for array in (self.features, target):
            canonical = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            digest.update(f"{canonical.dtype.str}{canonical.shape}".encode())
            digest.update(canonical.tobytes())
        return digest.hexdigest()


def eval_data(
    x: Any,
    y: Any,
    *,
    feature_names: Sequence[str] | None = None,
    source: str = "in-memory data",
    class_names: Mapping[Any, str] | None = None,
) -> EvalData:
    """Check X and y: a DataFrame names its features, numpy arrays need feature_names."""
    if isinstance(x, pd.DataFrame):
        names = tuple(str(c) for c in x.columns)
        if feature_names is not None and tuple(feature_names) != names:
            raise Refused("feature_names differ from the DataFrame's columns: drop one")
        frame = x
    else:
        matrix = np.asarray(x)
        if matrix.ndim != 2:
            raise Refused(f"X must be a 2-D table of rows, got shape {matrix.shape}")
        if feature_names is None:
            raise Refused(
                "X is an array without column names: pass feature_names=[...] (one per "
                "column, in order), or a pandas DataFrame"
            )
        names = tuple(str(n) for n in feature_names)
        if len(names) != matrix.shape[1]:
            raise Refused(
                f"feature_names has {len(names)} names but X has {matrix.shape[1]} columns"
            )
        frame = pd.DataFrame(matrix, columns=list(names))
    if len(set(names)) != len(names):
        raise Refused(f"feature names must be unique: {sorted(_dupes(names))} repeat")
    if len(frame) == 0:
        raise Refused("the evaluation data has no rows")
    return EvalData(
        features=_numeric(frame),
        target=_labels(y, len(frame)),
        names=names,
        dtypes=tuple(str(frame[c].dtype) for c in frame.columns),
        source=source,
        class_names=dict(class_names or {}),
    )


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    for column in frame.columns:
        kind = frame[column].dtype.kind
        if kind not in "biuf":
            raise Refused(
                f"column {column!r} is {frame[column].dtype}, not numeric; /score takes "
                "numbers: encode it as numbers before the model sees it"
            )
        missing = int(frame[column].isna().sum())
        if missing:
            raise Refused(
                f"column {column!r} has {missing} missing values; /score takes finite "
                "numbers: drop or fill those rows in the evaluation data"
            )
    matrix = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(matrix).all():
        raise Refused("the evaluation data holds infinite values: drop those rows")
    return matrix


def _labels(y: Any, rows: int) -> np.ndarray:
    if y is None:
        raise Refused("no labels: give y (the true target of each evaluation row)")
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y).ravel() if
                                                          np.ndim(y) > 1 else list(y))  # fmt: skip
    if len(series) != rows:
        raise Refused(f"y has {len(series)} labels for {rows} rows: give one per row")
    missing = int(series.isna().sum())
    if missing:
        raise Refused(f"y has {missing} missing labels: drop those rows from the evaluation data")
    values = series.to_numpy()
    if values.dtype.kind == "O":
        values = values.astype(str) if all(isinstance(v, str) for v in values) else values
    return values


def _dupes(names: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    return {n for n in names if n in seen or seen.add(n)}  # type: ignore[func-returns-value]


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame."""
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise Refused(f"{path}: give a .csv or .parquet file, not {path.suffix or 'none'}")
    try:
        return pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except (OSError, ValueError) as e:  # pandas and pyarrow raise ValueError subclasses
        raise Refused(f"cannot read {path} as {kind}: {e}") from e


def split_target(frame: pd.DataFrame, target: str, source: str) -> tuple[pd.DataFrame, pd.Series]:
    """A table with its label column: (the other columns, the labels)."""
    if target not in frame.columns:
        raise Refused(
            f"{source} has no column {target!r} for the labels; its columns are "
            f"{list(frame.columns)[:10]}"
        )
    return frame.drop(columns=[target]), frame[target]
