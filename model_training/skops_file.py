"""Loading a skops file that someone else saved, without running its code: a pickle is
refused, and so are types outside Liveline's allow-list (modelcard.trust)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import skops.io

import modelcard
from model_training.refused import Refused

PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".sav", ".dill"})
SKOPS_SAVE = 'import skops.io; skops.io.dump(model, "model.skops")'


def load_skops(path: Path) -> object:
    """An estimator from a skops file; a pickle is refused, and so are untrusted types."""
    if path.suffix.lower() in PICKLE_SUFFIXES or not zipfile.is_zipfile(path):
        pickled = path.suffix.lower() in PICKLE_SUFFIXES or _pickle_magic(path)
        kind = "a pickle/joblib file" if pickled else "not a skops archive"
        raise Refused(
            f"{path} is {kind}. Liveline never loads pickles: loading one runs whatever "
            f"code it holds. Save the estimator with skops instead: {SKOPS_SAVE}"
        )
    return loads_skops(path.read_bytes(), str(path))


def loads_skops(data: bytes, what: str) -> object:
    """An estimator from skops bytes (what names them in errors); untrusted types refused."""
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as e:  # skops raises many types on a corrupt archive
        raise Refused(f"{what} is not a readable skops archive: {e}") from e
    refused = modelcard.refused_types(untrusted)
    if refused:
        raise Refused(
            f"{what} contains types that Liveline does not trust to load: {refused}. "
            "Only scikit-learn's own types and skops' defaults load without running code"
        )
    return skops.io.loads(data, trusted=untrusted)


def _pickle_magic(path: Path) -> bool:
    try:
        head = path.read_bytes()[:2]
    except OSError as e:
        raise Refused(f"cannot read {path}: {e}") from e
    # Pickle protocol 2+ starts with PROTO (0x80); joblib compresses with zlib (0x78).
    return head[:1] in (b"\x80", b"\x78")
