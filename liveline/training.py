"""The project's training: its recipe and its data, from the project configuration.

`[tool.liveline.training]` (liveline.project) names the recipe (model_training.recipe)
and `[tool.liveline.training.data]` exactly one source: a Python `loader`
(`module:function` returning a DataFrame), a CSV or Parquet `path` (relative to the
project file), or a CSV or Parquet `blob` in the blob account (Azurite locally) with its
`container`. Changing the configuration changes what the graph trains; Liveline's code
stays as it is.
"""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from liveline import git, modelstore
from liveline.project import Project, ProjectError
from liveline.settings import Settings
from model_training.describe import Described, describe
from model_training.recipe import DEFAULT_LOADER, Fitted, Recipe, fit, resolve, table_summary
from model_training.refused import Refused
from model_training.tables import read_table

SOURCES = ("loader", "path", "blob")
RECIPE_KEYS = {f.name for f in dataclasses.fields(Recipe)}


def recipe(project: Project, **overrides: Any) -> Recipe:
    """The recipe declared by the project, with run-time overrides (None: keep)."""
    table = {k: v for k, v in project.training.items() if k != "data"}
    unknown = sorted(set(table) - RECIPE_KEYS)
    if unknown:
        raise ProjectError(f"{project.source('training')}: unknown key(s) {unknown}; "
                           f"known: {sorted(RECIPE_KEYS)}")  # fmt: skip
    data = project.training.get("data", {})
    if "target" in data:
        table["target"] = data["target"]
    given = {k: v for k, v in overrides.items() if v is not None}
    if "params" in given:
        given["params"] = {**table.get("params", {}), **given["params"]}
    try:
        return Recipe(**{**table, **given})
    except (TypeError, ValueError) as e:
        raise ProjectError(f"{project.source('training')}: {e}") from e


def load_table(project: Project, s: Settings) -> tuple[pd.DataFrame, str]:
    """The training table and a name for where it came from."""
    data = dict(project.training.get("data", {"loader": DEFAULT_LOADER}))
    chosen = [k for k in SOURCES if k in data]
    if len(chosen) != 1:
        raise ProjectError(f"{project.source('training.data')}: give exactly one of "
                           f"{list(SOURCES)}, got {chosen or 'none'}")  # fmt: skip
    (kind,) = chosen
    if kind == "loader":
        frame = resolve(data["loader"], "training data loader")()
        if not isinstance(frame, pd.DataFrame):
            raise Refused(f"loader {data['loader']} returned a {type(frame).__name__}, "
                          "not a pandas DataFrame")  # fmt: skip
        return frame, f"loader {data['loader']}"
    if kind == "path":
        path = (project.path.parent / data["path"]).resolve()
        return read_table(path), str(path)
    return _read_blob(s, str(data.get("container") or ""), str(data["blob"]), project), (
        f"blob {data.get('container')}/{data['blob']}"
    )


def _read_blob(s: Settings, container: str, name: str, project: Project) -> pd.DataFrame:
    if not container:
        raise ProjectError(f"{project.source('training.data')}: a blob needs its container")
    with modelstore.connect(modelstore.account_url(s)) as service:
        content = service.get_blob_client(container, name).download_blob().readall()
    with tempfile.TemporaryDirectory(prefix="liveline-data-") as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(content)
        return read_table(path)


@dataclasses.dataclass(frozen=True)
class Trained:
    fitted: Fitted
    described: Described
    source: str
    summary: dict[str, Any]  # of the training table: rows, columns, fingerprint


def train(
    project: Project,
    s: Settings,
    recipe: Recipe,
    *,
    expected_fingerprint: str | None = None,
    run_id: str | None = None,
) -> Trained:
    """Load the declared data, fit the recipe on it and describe the model (no upload).

    expected_fingerprint: refuse data whose content changed since it was recorded.
    """
    table, source = load_table(project, s)
    return train_table(recipe, table, source, expected_fingerprint=expected_fingerprint,
                       run_id=run_id, git_commit=git.head_or_none(s.app_repo))  # fmt: skip


def train_table(
    recipe: Recipe, table: pd.DataFrame, source: str, *, expected_fingerprint: str | None = None,
    run_id: str | None = None, git_commit: str | None = None, created_at: datetime | None = None,
) -> Trained:  # fmt: skip
    """Fit the recipe on a loaded table and describe the model; the lineage names the
    data, the recipe, the run and the commit that trained it."""
    summary = table_summary(table)
    if expected_fingerprint is not None and summary["fingerprint"] != expected_fingerprint:
        raise Refused(f"the training data is no longer {expected_fingerprint}: it changed "
                      "since training_data was recorded; rematerialize training_data")  # fmt: skip
    fitted = fit(recipe, table, source)
    data = {"name": source, "fingerprint": summary["fingerprint"], "rows": summary["rows"],
            "n_train": fitted.n_train, "n_test": len(fitted.evaluation.features)}  # fmt: skip
    described = describe(
        fitted.estimator,
        fitted.evaluation,
        name=recipe.model_name,
        golden_rows=recipe.golden_rows,
        lineage={"training_data": data, "config": recipe.to_dict(), "dagster_run_id": run_id,
                 "git_commit": git_commit},
        created_at=created_at,
    )  # fmt: skip
    return Trained(fitted, described, source, summary)
