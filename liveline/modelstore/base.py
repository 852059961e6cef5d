"""What publishing and reading share: blob names, the error, the account, the quality gate."""

from __future__ import annotations

from collections.abc import Mapping
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


def parse_min_metrics(text: str) -> dict[str, float]:
    """The quality gate: "accuracy=0.9,f1=0.9" -> {"accuracy": 0.9, "f1": 0.9}."""
    minimums: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip().isidentifier():
                raise ValueError(item)
            minimums[name.strip()] = float(value)
        except ValueError as e:
            raise ValueError(f"quality gate {item!r} is not metric=minimum (e.g. f1=0.9)") from e
    return minimums


def shortfalls(metrics: Mapping[str, float], minimums: Mapping[str, float]) -> list[str]:
    """Each metric below its minimum or missing, e.g. "accuracy 0.8500 < 0.9"."""
    problems = []
    for name, minimum in minimums.items():
        value = metrics.get(name)
        if value is None:
            problems.append(f"{name} is missing (needs >= {minimum})")
        elif not value >= minimum:  # also catches NaN
            problems.append(f"{name} {value:.4f} < {minimum}")
    return problems
