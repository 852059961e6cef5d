"""What publishing and reading share: the error, the account, the container."""

from __future__ import annotations

from typing import TypedDict
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContainerClient

from liveline.settings import AZURITE_ACCOUNT, AZURITE_KEY, Settings

EMULATOR_HOSTS = frozenset({"127.0.0.1", "localhost"})


class Unchanged(TypedDict):
    """Keyword arguments for a read or write that must see exactly the blob an etag names."""

    match_condition: MatchConditions


UNCHANGED: Unchanged = {"match_condition": MatchConditions.IfNotModified}


class ModelStoreError(Exception):
    """A model cannot be published or used; the message says why and what to do."""


def account_url(settings: Settings) -> str:
    """LIVELINE_MODELS_ACCOUNT_URL if set, else the local Azurite."""
    return settings.models_account_url or settings.blob_account_url


def is_emulator(url: str) -> bool:
    return urlsplit(url).hostname in EMULATOR_HOSTS


def connect(url: str) -> BlobServiceClient:
    """Azurite's well-known dev key locally; DefaultAzureCredential for a real account."""
    if is_emulator(url):
        key = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
        return BlobServiceClient(url, credential=key)
    from azure.identity import DefaultAzureCredential  # only real Azure needs it

    return BlobServiceClient(url, credential=DefaultAzureCredential())


def ensure_container(container: ContainerClient) -> None:
    """Create the container private; refuse one that allows public access."""
    try:
        container.create_container()  # no public_access argument: private
    except ResourceExistsError:
        access = container.get_container_properties().public_access
        if access:
            raise ModelStoreError(
                f"container {container.url} allows public {access!r} access; models must "
                "stay private: turn public access off for it"
            ) from None
