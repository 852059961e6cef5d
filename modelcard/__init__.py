"""The model card: the contract between training, publishing and serving, owned here.

A published model is a folder (or a blob prefix) holding the artifact and a JSON card
that describes it. Training writes cards, the model store and the image build verify
them, and the serving app reads them: all through this package, which imports only the
standard library so that the serving image and a notebook can carry it alike.
"""

from modelcard.card import (
    ARTIFACT_FILE,
    CARD_FILE,
    SCHEMA_VERSION,
    CardError,
    ModelCard,
    artifact_entry,
    card_json,
    check_sklearn_version,
    sha256,
    verify_artifact,
    write_model_dir,
)

__all__ = [
    "ARTIFACT_FILE",
    "CARD_FILE",
    "SCHEMA_VERSION",
    "CardError",
    "ModelCard",
    "artifact_entry",
    "card_json",
    "check_sklearn_version",
    "sha256",
    "verify_artifact",
    "write_model_dir",
]
