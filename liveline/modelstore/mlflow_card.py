"""The card of a version someone registered in MLflow without one: built from what the
registry holds (the skops artifact, the signature's columns, the logged input example,
the run's metrics and commit) by model_training.registered, the same checks as any
model. Built again on each read, identically: nothing is written to the owner's records.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import yaml

import modelcard
from liveline.modelstore.base import ModelStoreError
from liveline.modelstore.mlflow_rest import Client, RegistryError
from liveline.project import Gates
from model_training.refused import Refused

EXAMPLE_FIX = (
    "log the model with an input example (log_model(..., input_example=X_eval[:8])) so "
    "that Liveline can check it and smoke-test what it serves"
)


def build(
    client: Client,
    v: dict[str, Any],
    path: str,
    mlmodel: dict[str, Any],
    artifact: bytes,
    gates: Gates,
) -> bytes:
    """The card's bytes for version v, whose files are at path (artifact: the skops
    file's bytes, read once by the caller); refusals name the fix."""
    # Imported here, not at the top: every run worker and the code location import the
    # model store, and only a version registered without a Liveline card needs
    # scikit-learn, skops and pandas (3-4 s to import).
    from model_training.registered import describe_registered

    what = f"{v['name']} version {v['version']}"
    trained = str((mlmodel.get("flavors", {}).get("sklearn") or {}).get("sklearn_version"))
    installed = metadata.version("scikit-learn")
    if trained != installed:
        raise ModelStoreError(
            f"{what} was trained with scikit-learn {trained} but Liveline serves "
            f"{installed}: log it again from an environment with scikit-learn=={installed}"
        )
    rows = _example(client, path, mlmodel, what)
    run = _run(client, v.get("run_id") or "")
    tags = {t["key"]: t.get("value") for t in run.get("data", {}).get("tags", [])}
    measured = {m["key"]: m["value"] for m in run.get("data", {}).get("metrics", [])}
    created = datetime.fromtimestamp(int(v["creation_timestamp"]) / 1000, UTC)
    try:
        card = describe_registered(
            artifact, rows, name=v["name"],
            version=str(v["version"]), measured=measured, source=f"MLflow {what}",
            created_at=created,
            lineage={"git_commit": tags.get("mlflow.source.git.commit"),
                     "mlflow_run_id": v.get("run_id") or None},
        )  # fmt: skip
    except Refused as e:
        raise ModelStoreError(f"refusing {what}: {e}") from e
    card_bytes = modelcard.card_json(card)
    parsed = modelcard.ModelCard.from_json(card_bytes, source=f"{what}'s card")
    gate = gates.for_model(parsed.model_name, parsed.task)
    if problems := modelcard.shortfalls(parsed.metrics, gate):
        raise ModelStoreError(
            f"refusing {what}: its run's metrics are below the quality gate: "
            + "; ".join(problems)
            + " (log the metrics with mlflow.log_metrics, or set the model's gate)"
        )
    return card_bytes


def _example(client: Client, path: str, mlmodel: dict[str, Any], what: str) -> Any:
    """The logged input example as a DataFrame (named columns) or a 2-D list."""
    import pandas as pd  # only with describe_registered (see build)

    info = mlmodel.get("saved_input_example_info") or {}
    if not info.get("artifact_path"):
        raise ModelStoreError(f"{what} has no input example: {EXAMPLE_FIX}")
    raw = json.loads(client.download(f"{path}/{info['artifact_path']}"))
    if info.get("type") == "dataframe" and isinstance(raw, dict) and "columns" in raw:
        return pd.DataFrame(raw["data"], columns=raw["columns"])
    if isinstance(raw, list) and raw and isinstance(raw[0], list):
        names = _signature_names(mlmodel)  # none for a tensor: the estimator's own, if any
        return pd.DataFrame(raw, columns=names) if names else raw
    raise ModelStoreError(
        f"{what}'s input example is a {info.get('type')} Liveline cannot read as rows of "
        f"features: {EXAMPLE_FIX} as a pandas DataFrame"
    )


def _signature_names(mlmodel: dict[str, Any]) -> list[str]:
    inputs = (mlmodel.get("signature") or {}).get("inputs")
    specs = yaml.safe_load(inputs) if isinstance(inputs, str) else []
    return [s["name"] for s in specs or [] if isinstance(s, dict) and s.get("name")]


def _run(client: Client, run_id: str) -> dict[str, Any]:
    if not run_id:
        return {}
    try:
        return dict(client.get("runs/get", run_id=run_id)["run"])
    except RegistryError as e:
        if e.code == "RESOURCE_DOES_NOT_EXIST":
            return {}
        raise
