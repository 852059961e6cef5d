"""The model store holding the published models (LIVELINE_MODEL_STORE): Azure Blob
Storage through dagster-azure, S3 through boto3, or an MLflow Model Registry over its
REST API.

Azure: locally the Azurite emulator with its public, well-known dev key; against a real
account (LIVELINE_MODELS_ACCOUNT_URL) DefaultAzureCredential, i.e. workload identity or
`az login`. S3: locally SeaweedFS with its development identity; elsewhere the standard
AWS credential chain. MLflow: locally the tracking server of `make up`; elsewhere
MLflow's own MLFLOW_TRACKING_TOKEN or username and password from the environment. No key
ever passes through configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from azure.storage.blob import ContainerClient, ExponentialRetry
from dagster import ConfigurableResource
from pydantic import Field

from liveline import modelstore, project, settings
from liveline.modelstore import mlflow_registry, s3, select

if TYPE_CHECKING:
    from dagster_azure.blob import AzureBlobStorageResource


class BlobStoreResource(ConfigurableResource):
    """The models container or bucket (the local Azurite by default)."""

    store: str = Field(default="azure", description="azure, s3 or mlflow (LIVELINE_MODEL_STORE).")
    account_url: str = Field(
        description="Blob account URL (LIVELINE_MODELS_ACCOUNT_URL, else the local Azurite)."
    )
    container: str = Field(description="Models container (LIVELINE_MODELS_CONTAINER).")
    s3_endpoint_url: str = Field(
        default="",
        description="S3 endpoint (LIVELINE_S3_ENDPOINT_URL; empty: AWS's own for the region).",
    )
    s3_region: str = Field(default="us-east-1", description="S3 region (LIVELINE_S3_REGION).")
    bucket: str = Field(default="liveline-models", description="Bucket (LIVELINE_MODELS_BUCKET).")
    mlflow_tracking_uri: str = Field(
        default="", description="MLflow tracking server (LIVELINE_MLFLOW_TRACKING_URI)."
    )
    mlflow_models: list[str] = Field(
        default_factory=list, description="Registered models watched (LIVELINE_MLFLOW_MODELS)."
    )
    mlflow_alias: str = Field(
        default="", description="The alias that names the version to run (LIVELINE_MLFLOW_ALIAS)."
    )

    @classmethod
    def from_settings(cls, s: settings.Settings) -> BlobStoreResource:
        return cls(
            store=select.check(s),
            account_url=modelstore.account_url(s),
            container=s.models_container,
            s3_endpoint_url=s3.endpoint_url(s) or "",
            s3_region=s.s3_region,
            bucket=s.models_bucket,
            mlflow_tracking_uri=mlflow_registry.tracking_uri(s),
            mlflow_models=mlflow_registry.watched(s),
            mlflow_alias=s.mlflow_alias,
        )

    def storage(self) -> AzureBlobStorageResource:
        """dagster-azure's resource with the credential that fits the account."""
        # Imported when used: dagster_azure brings its ADLS2 and components modules
        # (0.6 s), paid otherwise by every run worker, whichever store is chosen.
        from dagster_azure.blob import (
            AzureBlobStorageDefaultCredential,
            AzureBlobStorageKeyCredential,
            AzureBlobStorageResource,
        )

        if modelstore.is_emulator(self.account_url):
            credential = AzureBlobStorageKeyCredential(key=settings.AZURITE_KEY)
        else:
            credential = AzureBlobStorageDefaultCredential()
        return AzureBlobStorageResource(account_url=self.account_url, credential=credential)

    @contextmanager
    def models(self) -> Iterator[modelstore.ModelStore]:
        """The model store, with bounded retries and timeouts: the SDKs' defaults take
        over a minute to give up on an unreachable store, longer than a sensor tick may
        take; steps retry outages themselves (orchestration.faults)."""
        if self.store == "mlflow":
            # The project's quality gates, for versions registered without a Liveline
            # card: tables per model and task from the project file, read when used.
            gates = project.from_settings(settings.load()).gates
            with mlflow_registry.connect(self.mlflow_tracking_uri) as client:
                yield mlflow_registry.MlflowStore(
                    client, self.mlflow_models, self.mlflow_alias, gates
                )
            return
        if self.store == "s3":
            client = s3.shared_client(self.s3_endpoint_url or None, self.s3_region)
            yield modelstore.ObjectStore(modelstore.S3Bucket(client, self.bucket))
            return
        with self.storage().get_client() as service:
            container = service.get_container_client(self.container)
            with ContainerClient.from_container_url(
                container.url,
                credential=container.credential,
                retry_policy=ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2),
                connection_timeout=5,
                read_timeout=30,
            ) as bounded:
                yield modelstore.ObjectStore(modelstore.AzureBucket(bounded))
