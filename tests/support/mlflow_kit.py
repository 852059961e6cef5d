"""The local MLflow tracking server as a model store under test (tests/support/stores.py
has the object stores): its registered models, and versions logged the way a user logs
them, with MLflow's own client."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

import devplatform
from devplatform.layout import Layout
from liveline.modelstore import PublishedModel, mlflow_rest
from liveline.modelstore.mlflow_registry import MlflowStore
from tests.support.stores import StoreKit, stop_at

# What a data scientist runs: MLflow's own client (in the server's environment) logging
# a scikit-learn model, with its run's metrics and, unless told not to, an input example.
LOG_MODEL = """
import json, sys, mlflow, mlflow.sklearn
import pandas as pd
from sklearn.linear_model import LogisticRegression
url, name, fmt, example, metrics = sys.argv[1:]
mlflow.set_tracking_uri(url)
X = pd.DataFrame({"a": [float(i) for i in range(40)], "b": [float(i % 3) for i in range(40)]})
y = [int(i >= 20) for i in range(40)]
with mlflow.start_run():
    mlflow.log_metrics(json.loads(metrics))
    mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model",
                             serialization_format=fmt, pip_requirements=["scikit-learn"],
                             input_example=X.iloc[18:22] if example == "1" else None,
                             registered_model_name=name)
"""
GOOD_METRICS = {"accuracy": 0.95, "f1": 0.95, "roc_auc": 0.97}


class MlflowKit(StoreKit):
    """The local MLflow tracking server, its registered models deleted before and after;
    `log_model` registers a version as a user does, with MLflow's own client."""

    kind, component = "mlflow", "mlflow"

    def __init__(
        self,
        client: mlflow_rest.Client,
        models: list[str],
        artifacts: Path,
        python: Path,
        env: Mapping[str, str],
    ) -> None:
        self.client, self.models, self.artifacts = client, models, artifacts
        self.python, self.python_env = python, env
        self.store = MlflowStore(client, models)
        self.delete()

    def log_model(
        self, fmt: str = "skops", example: bool = True, metrics: Mapping[str, float] = GOOD_METRICS
    ) -> str:
        """Log and register a model with mlflow.sklearn; the new version's number."""
        args = [self.client.url, self.models[0], fmt, "1" if example else "0", json.dumps(metrics)]
        done = subprocess.run(
            [str(self.python), "-c", LOG_MODEL, *args], capture_output=True, text=True,
            timeout=300, check=False, env={**self.python_env, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        where = f"name='{self.models[0]}'"
        page = self.client.get("model-versions/search", filter=where,
                               order_by="version_number DESC", max_results=1)  # fmt: skip
        return str(page["model_versions"][0]["version"])

    def aliased(self, alias: str) -> MlflowStore:
        return MlflowStore(self.client, self.models, alias)

    def env(self) -> dict[str, str]:
        return {"MODEL_STORE": "mlflow", "MLFLOW_MODELS": ",".join(self.models)}

    def file(self, model: PublishedModel, file: str) -> Path:
        """Where the server keeps one of the version's files (its artifacts destination)."""
        prefix = f"{self.client.url}{mlflow_rest.ARTIFACTS}/"
        return self.artifacts / model.card_url.removeprefix(prefix).rpartition("/")[0] / file

    def overwrite(self, model: PublishedModel, file: str, data: bytes) -> None:
        self.file(model, file).write_bytes(data)

    def stop_during_publish(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        monkeypatch.setattr(self.client, "attempts", 2)  # its bounded retries, shortened
        stop_at(monkeypatch, layout, self.component, self.client, "post",
                 lambda endpoint: endpoint == "model-versions/create")  # fmt: skip

    def stop_during_poll(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        monkeypatch.setattr(self.client, "attempts", 2)
        stop_at(monkeypatch, layout, self.component, self.client, "get",
                 lambda endpoint: endpoint == "model-versions/search")  # fmt: skip

    def restart(self, layout: Layout) -> None:
        devplatform.control.up_mlflow(layout)

    def delete(self) -> None:
        for name in self.models:
            with contextlib.suppress(mlflow_rest.RegistryError):
                self.client.delete("registered-models/delete", name=name)
