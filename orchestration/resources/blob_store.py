"""Azure Blob Storage holding the published models, through dagster-azure.

Locally the Azurite emulator with its public, well-known dev key; against a real account
(LIVELINE_MODELS_ACCOUNT_URL) DefaultAzureCredential, i.e. workload identity or
`az login`: no account key ever passes through configuration.
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


class BlobStoreResource(ConfigurableResource):
    """The models container in Azure Blob Storage (the local Azurite by default)."""

    account_url: str = Field(
        description="Blob account URL (LIVELINE_MODELS_ACCOUNT_URL, else the local Azurite)."
    )
    container: str = Field(description="Models container (LIVELINE_MODELS_CONTAINER).")

    @classmethod
    def from_settings(cls, s: settings.Settings) -> BlobStoreResource:
        return cls(account_url=modelstore.account_url(s), container=s.models_container)

    def storage(self) -> AzureBlobStorageResource:
        """dagster-azure's resource with the credential that fits the account."""
        if modelstore.is_emulator(self.account_url):
            credential = AzureBlobStorageKeyCredential(key=settings.AZURITE_KEY)
        else:
            credential = AzureBlobStorageDefaultCredential()
        return AzureBlobStorageResource(account_url=self.account_url, credential=credential)

    @contextmanager
    def models(self) -> Iterator[ContainerClient]:
        """A client for the models container, with bounded retries and timeouts: the
        SDK's defaults take 80 s to give up on an unreachable account, longer than a
        sensor tick may take; steps retry outages themselves (orchestration.faults)."""
        with self.storage().get_client() as service:
            container = service.get_container_client(self.container)
            with ContainerClient.from_container_url(
                container.url,
                credential=container.credential,
                retry_policy=ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2),
                connection_timeout=5,
                read_timeout=30,
            ) as bounded:
                yield bounded
