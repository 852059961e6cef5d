"""Publish a model trained anywhere: `liveline.publish_model(estimator, X, y, name=...)`.

For notebooks and scripts, and `liveline publish --estimator`: the estimator is checked
and measured on the held-out data it is given (model_training.describe), its card is
written, the quality gate applied, and only then are the artifact and the card uploaded
(liveline.modelstore). Any refusal raises before a byte leaves the machine.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import modelcard
from liveline import git, modelstore, project
from liveline.modelstore.publishing import SAFE_NAME
from liveline.settings import Settings, load
from model_training.describe import GOLDEN_ROWS, describe
from model_training.refused import Refused
from model_training.tables import eval_data

log = logging.getLogger(__name__)


def publish_model(
    estimator: object,
    x_eval: Any,
    y_eval: Any,
    *,
    name: str,
    feature_names: Sequence[str] | None = None,
    class_names: Mapping[Any, str] | None = None,
    gate: Mapping[str, float] | str | None = None,
    golden_rows: int = GOLDEN_ROWS,
    source: str = "in-memory data",
    settings: Settings | None = None,
) -> modelstore.PublishedModel:
    """Evaluate, gate and publish a fitted estimator; return the published version.

    x_eval: a pandas DataFrame (feature names from its columns) or a 2-D array with
    feature_names=. y_eval: the true labels or values. gate: metric thresholds for this
    publish (e.g. "r2=0.5,rmse=40"), over the project's gates. A version already
    published is returned as it is. Raises model_training.Refused, ModelStoreError.
    """
    s = settings or load()
    if not SAFE_NAME.match(name):
        raise Refused(f"model name {name!r} must be letters, digits, '.', '_' or '-'")
    data = eval_data(x_eval, y_eval, feature_names=feature_names, class_names=class_names,
                     source=source)  # fmt: skip
    described = describe(
        estimator, data, name=name, golden_rows=golden_rows,
        lineage={"git_commit": git.head_or_none(Path.cwd())},
    )  # fmt: skip
    gates = project.from_settings(s).gates
    if gate is not None:
        gates = project.Gates(override=modelcard.parse_gate(gate) if isinstance(gate, str)
                              else dict(gate))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="liveline-publish-") as tmp:
        model_dir = Path(tmp)
        modelcard.write_model_dir(model_dir, described.artifacts, described.card)
        with modelstore.open_store(s) as store:
            done = store.publish(model_dir, gates)
    verb = "published" if done.uploaded else "already published, kept"
    log.info("%s %s %s (%s)", verb, name, done.model.version, described.card["task"])
    return done.model
