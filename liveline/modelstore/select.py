"""The model store that the settings choose (LIVELINE_MODEL_STORE): one place for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import AzureError
from botocore.exceptions import BotoCoreError, ClientError

from liveline import project
from liveline.modelstore import azure, mlflow_registry, s3
from liveline.modelstore.base import ModelStoreError
from liveline.modelstore.objects import Bucket
from liveline.modelstore.store import ModelStore, ObjectStore
from liveline.settings import MODEL_STORES, Settings

# What the stores' clients raise when the service fails or cannot be reached.
SERVICE_ERRORS: tuple[type[Exception], ...] = (
    AzureError,
    BotoCoreError,
    ClientError,
    mlflow_registry.RegistryUnavailable,
)


def check(settings: Settings) -> str:
    """The chosen store's name, or a ModelStoreError saying what to set."""
    if settings.model_store not in MODEL_STORES:
        raise ModelStoreError(
            f"LIVELINE_MODEL_STORE={settings.model_store!r} names no model store: set it to "
            f"one of {', '.join(MODEL_STORES)}"
        )
    return settings.model_store


def location(settings: Settings) -> str:
    """Where the chosen store keeps the models, for status and messages."""
    if check(settings) == "mlflow":
        return mlflow_registry.tracking_uri(settings)
    if settings.model_store == "s3":
        endpoint = s3.endpoint_url(settings) or f"AWS {settings.s3_region}"
        return f"s3://{settings.models_bucket} at {endpoint}"
    return f"{azure.account_url(settings)}/{settings.models_container}"


@contextmanager
def open_bucket(settings: Settings) -> Iterator[Bucket]:
    """The chosen store's models container or bucket (Azure's client closed on exit, S3's
    shared by the process)."""
    if check(settings) == "mlflow":
        raise ModelStoreError(
            "LIVELINE_MODEL_STORE=mlflow keeps the models in an MLflow registry, not in a "
            "container or bucket: use open_store"
        )
    if settings.model_store == "s3":
        client = s3.shared_client(s3.endpoint_url(settings), settings.s3_region)
        yield s3.S3Bucket(client, settings.models_bucket)
        return
    with azure.connect(azure.account_url(settings), bounded=True) as service:
        yield azure.AzureBucket(service.get_container_client(settings.models_container))


@contextmanager
def open_store(settings: Settings) -> Iterator[ModelStore]:
    """The chosen model store: a container or bucket, or an MLflow Model Registry."""
    if check(settings) == "mlflow":
        with mlflow_registry.connect(mlflow_registry.tracking_uri(settings)) as client:
            yield mlflow_registry.MlflowStore(
                client, mlflow_registry.watched(settings), settings.mlflow_alias,
                project.from_settings(settings).gates,
            )  # fmt: skip
        return
    with open_bucket(settings) as bucket:
        yield ObjectStore(bucket)
