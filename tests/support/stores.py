"""Each model store's real local server, seen the way the contract tests need it: a
container or bucket of the test's own, and raw writes that bypass the model store's
rules (what a tamperer, an interrupted upload or a careless admin would do)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from azure.storage.blob import BlobServiceClient

import devplatform
from devplatform.layout import Layout
from liveline.modelstore import (
    AzureBucket,
    ModelStore,
    ObjectStore,
    PublishedModel,
    S3Bucket,
    mlflow_rest,
)
from liveline.modelstore.mlflow_registry import MlflowStore
from liveline.modelstore.objects import Bucket, ObjectNotFound
from modelcard import CARD_FILE

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STORES = ("azure", "s3")


class Kit:
    """One store under test: `bucket` for the code under test, the rest for the test."""

    def __init__(self, kind: str, name: str, bucket: Bucket, component: str) -> None:
        self.kind, self.name, self.bucket, self.component = kind, name, bucket, component

    def raw_put(self, name: str, data: bytes, metadata: Mapping[str, str]) -> None:
        raise NotImplementedError

    def raw_delete(self, name: str) -> None:
        raise NotImplementedError

    def raw_get(self, name: str) -> bytes:
        return self.bucket.get(name).data

    def create(self) -> None:
        raise NotImplementedError

    def create_public(self) -> None:
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    def is_private(self) -> bool:
        raise NotImplementedError

    def delete(self) -> None:
        raise NotImplementedError


class AzureKit(Kit):
    """bounded: the client of the code under test, with the retries production uses (the
    SDK's defaults take 80 s to give up on a stopped Azurite)."""

    def __init__(self, service: BlobServiceClient, name: str, bounded: BlobServiceClient) -> None:
        super().__init__("azure", name, AzureBucket(bounded.get_container_client(name)), "azurite")
        self.container = service.get_container_client(name)

    def raw_put(self, name: str, data: bytes, metadata: Mapping[str, str]) -> None:
        self.container.upload_blob(name, data, overwrite=True, metadata=dict(metadata))

    def raw_delete(self, name: str) -> None:
        self.container.delete_blob(name)

    def create(self) -> None:
        self.container.create_container()

    def create_public(self) -> None:
        self.container.create_container(public_access="blob")

    def exists(self) -> bool:
        return bool(self.container.exists())

    def is_private(self) -> bool:
        return self.container.get_container_properties().public_access is None

    def delete(self) -> None:
        if self.exists():
            self.container.delete_container()


class S3Kit(Kit):
    def __init__(self, client: S3Client, name: str) -> None:
        super().__init__("s3", name, S3Bucket(client, name), "seaweedfs")
        self.s3 = client

    def raw_put(self, name: str, data: bytes, metadata: Mapping[str, str]) -> None:
        self.s3.put_object(Bucket=self.name, Key=name, Body=data, Metadata=dict(metadata))

    def raw_delete(self, name: str) -> None:
        self.s3.delete_object(Bucket=self.name, Key=name)

    def create(self) -> None:
        self.s3.create_bucket(Bucket=self.name)

    def create_public(self) -> None:
        self.s3.create_bucket(Bucket=self.name, ACL="public-read")

    def exists(self) -> bool:
        try:
            next(self.bucket.pages("", 1))
            return True
        except ObjectNotFound:
            return False

    def is_private(self) -> bool:
        grants = self.s3.get_bucket_acl(Bucket=self.name).get("Grants", [])
        return all("URI" not in g.get("Grantee", {}) for g in grants)

    def delete(self) -> None:
        if not self.exists():
            return
        for page in self.bucket.pages("", 1000):
            if page.objects:
                keys = [{"Key": o.name} for o in page.objects]
                self.s3.delete_objects(Bucket=self.name, Delete={"Objects": keys})
        self.s3.delete_bucket(Bucket=self.name)


# --- the model stores behind liveline.modelstore.ModelStore, all three ------------------
MODEL_STORES = ("azure", "s3", "mlflow")


class StoreKit:
    """One ModelStore under test, chosen by configuration (env), with raw writes that
    bypass its rules."""

    kind: str
    component: str  # the platform component that serves it
    store: ModelStore

    def env(self) -> dict[str, str]:
        """The LIVELINE_ settings (without the prefix) that choose this store."""
        raise NotImplementedError

    def overwrite(self, model: PublishedModel, file: str, data: bytes) -> None:
        """Replace one of a published version's files behind the store's back."""
        raise NotImplementedError

    def delete(self) -> None:
        raise NotImplementedError

    def stop_during_publish(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        """Stop the real server when a publish has uploaded its files but not yet made
        them a version (the card of an object store, the registry version of MLflow)."""
        raise NotImplementedError

    def stop_during_poll(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        """Stop the real server when a poll has found a new version, before verifying it."""
        raise NotImplementedError

    def restart(self, layout: Layout) -> None:
        devplatform.up(layout)


def _stop_at(
    monkeypatch: pytest.MonkeyPatch, layout: Layout, component: str, owner: object,
    method: str, when: Callable[[str], bool],
) -> None:  # fmt: skip
    """Stop component the first time owner.method is called for a name that `when` picks,
    then make that very call: the outage reaches the step it is about."""
    real = getattr(owner, method)

    def then_down(name: str, /, *args: object, **kwargs: object) -> object:
        if when(name):
            monkeypatch.setattr(owner, method, real)
            devplatform.down(layout, [component])
        return real(name, *args, **kwargs)

    monkeypatch.setattr(owner, method, then_down)


def _is_card(name: str) -> bool:
    return name.endswith(f"/{CARD_FILE}")


class ObjectKit(StoreKit):
    """A container or bucket of the test's own, through the ObjectStore."""

    def __init__(self, kit: Kit) -> None:
        self.kit, self.kind, self.component = kit, kit.kind, kit.component
        self.store = ObjectStore(kit.bucket)

    def env(self) -> dict[str, str]:
        return {"MODEL_STORE": self.kind, "MODELS_CONTAINER": self.kit.name,
                "MODELS_BUCKET": self.kit.name}  # fmt: skip

    def overwrite(self, model: PublishedModel, file: str, data: bytes) -> None:
        name = f"{model.name}/{model.version}/{file}"
        self.kit.raw_put(name, data, self.kit.bucket.head(name).metadata or {})

    def delete(self) -> None:
        self.kit.delete()

    def stop_during_publish(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        _stop_at(monkeypatch, layout, self.component, self.kit.bucket, "put", _is_card)

    def stop_during_poll(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        _stop_at(monkeypatch, layout, self.component, self.kit.bucket, "get", _is_card)

    def restart(self, layout: Layout) -> None:
        devplatform.up(layout)
        if self.kind == "s3":
            devplatform.control.up_s3(layout)


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
        _stop_at(monkeypatch, layout, self.component, self.client, "post",
                 lambda endpoint: endpoint == "model-versions/create")  # fmt: skip

    def stop_during_poll(self, monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
        monkeypatch.setattr(self.client, "attempts", 2)
        _stop_at(monkeypatch, layout, self.component, self.client, "get",
                 lambda endpoint: endpoint == "model-versions/search")  # fmt: skip

    def restart(self, layout: Layout) -> None:
        devplatform.control.up_mlflow(layout)

    def delete(self) -> None:
        for name in self.models:
            with contextlib.suppress(mlflow_rest.RegistryError):
                self.client.delete("registered-models/delete", name=name)
