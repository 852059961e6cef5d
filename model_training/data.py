"""The training data set: a tabular set that ships inside scikit-learn (no download)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer

DATASET_NAME = "sklearn.datasets.load_breast_cancer"


@dataclass(frozen=True)
class Dataset:
    """Features, labels and names, with a content fingerprint."""

    name: str
    features: np.ndarray
    target: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        """sha256 of the values, labels and names: equal data gives an equal fingerprint."""
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.feature_names).encode())
        digest.update(b"\x1e")
        digest.update("\x1f".join(self.target_names).encode())
        for array in (self.features, self.target):
            canonical = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            digest.update(f"{canonical.dtype.str}{canonical.shape}".encode())
            digest.update(canonical.tobytes())
        return digest.hexdigest()


def load_dataset() -> Dataset:
    """Load the breast cancer data set bundled with scikit-learn."""
    bunch = load_breast_cancer()
    return Dataset(
        name=DATASET_NAME,
        features=np.asarray(bunch.data, dtype=np.float64),
        target=np.asarray(bunch.target, dtype=np.int64),
        feature_names=tuple(str(n) for n in bunch.feature_names),
        target_names=tuple(str(n) for n in bunch.target_names),
    )
