"""The model card: the contract between training, publishing and serving, owned here.

A published model is a folder (or a blob prefix) holding its artifacts and a JSON card
that describes them: the task, the features, the classes, the metrics, the golden set,
the library versions and the lineage. Training and publishing write cards, the model
store and the image build verify them, and the serving app reads them: all through this
package, which imports only the standard library so that the serving image and a
notebook can carry it alike. The JSON Schema is model_card.schema.json (docs/model-card.md).
"""

from modelcard.card import (
    ARTIFACT_FILE,
    CARD_FILE,
    READS,
    SCHEMA_VERSION,
    SKOPS,
    Artifact,
    CardError,
    Feature,
    Golden,
    Label,
    ModelCard,
)
from modelcard.files import (
    SCHEMA_FILE,
    artifact_entry,
    card_json,
    check_sklearn_version,
    sha256,
    verify_artifact,
    write_model_dir,
)
from modelcard.onnx import CONVERTED, INPUT, ONNX, ONNX_FILE, SKIPPED, OnnxGraph
from modelcard.onnx import session as onnx_session
from modelcard.tasks import (
    BINARY,
    CLASSIFICATION,
    METRICS,
    MULTICLASS,
    REGRESSION,
    TASKS,
    check_gate,
    metrics_for,
    parse_gate,
    shortfalls,
)
from modelcard.trust import TRUSTED_PREFIXES, refused_types

__all__ = [
    "ARTIFACT_FILE",
    "BINARY",
    "CARD_FILE",
    "CLASSIFICATION",
    "CONVERTED",
    "INPUT",
    "METRICS",
    "MULTICLASS",
    "ONNX",
    "ONNX_FILE",
    "READS",
    "REGRESSION",
    "SCHEMA_FILE",
    "SCHEMA_VERSION",
    "SKIPPED",
    "SKOPS",
    "TASKS",
    "TRUSTED_PREFIXES",
    "Artifact",
    "CardError",
    "Feature",
    "Golden",
    "Label",
    "ModelCard",
    "OnnxGraph",
    "artifact_entry",
    "card_json",
    "check_gate",
    "check_sklearn_version",
    "metrics_for",
    "onnx_session",
    "parse_gate",
    "refused_types",
    "sha256",
    "shortfalls",
    "verify_artifact",
    "write_model_dir",
]
