"""The object store holding the published models: Azure Blob Storage through
dagster-azure, or S3 through boto3 (LIVELINE_MODEL_STORE).

Azure: locally the Azurite emulator with its public, well-known dev key; against a real
account (LIVELINE_MODELS_ACCOUNT_URL) DefaultAzureCredential, i.e. workload identity or
`az login`. S3: locally SeaweedFS with its development identity; elsewhere the standard
AWS credential chain. No key ever passes through configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.storage.blob import ContainerClient, ExponentialRetry
from dagster import ConfigurableResource
from dagster_azure.blob import (
    AzureBlobStorageDefaultCredential,
    AzureBlobStorageKeyCredential,
    AzureBlobStorageResource,
)
from pydantic import Field

from liveline import modelstore, settings
from liveline.modelstore import s3, select


class BlobStoreResource(ConfigurableResource):
    """The models container or bucket (the local Azurite by default)."""

    store: str = Field(default="azure", description="azure or s3 (LIVELINE_MODEL_STORE).")
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

    @classmethod
    def from_settings(cls, s: settings.Settings) -> BlobStoreResource:
        return cls(
            store=select.check(s),
            account_url=modelstore.account_url(s),
            container=s.models_container,
            s3_endpoint_url=s3.endpoint_url(s) or "",
            s3_region=s.s3_region,
            bucket=s.models_bucket,
        )

    def storage(self) -> AzureBlobStorageResource:
        """dagster-azure's resource with the credential that fits the account."""
        if modelstore.is_emulator(self.account_url):
            credential = AzureBlobStorageKeyCredential(key=settings.AZURITE_KEY)
        else:
            credential = AzureBlobStorageDefaultCredential()
        return AzureBlobStorageResource(account_url=self.account_url, credential=credential)

    @contextmanager
    def models(self) -> Iterator[modelstore.Bucket]:
        """The models container or bucket, with bounded retries and timeouts: the SDKs'
        defaults take over a minute to give up on an unreachable store, longer than a
        sensor tick may take; steps retry outages themselves (orchestration.faults)."""
        if self.store == "s3":
            client = s3.shared_client(self.s3_endpoint_url or None, self.s3_region)
            yield modelstore.S3Bucket(client, self.bucket)
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
                yield modelstore.AzureBucket(bounded)
