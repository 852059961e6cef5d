"""The container registry that serving images are pushed to: the local one, or ACR.

Production (LIVELINE_REGISTRY_AUTH=azure, LIVELINE_REGISTRY_HOST=<name>.azurecr.io): an
Azure AD token from DefaultAzureCredential is exchanged for an ACR refresh token, which
logs the engine in and buys pull-scoped access tokens for the registry API. Tokens live
in memory only: never logged, never in metadata. Not yet exercised against a real ACR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import docker
import requests
from dagster import ConfigurableResource
from pydantic import Field

from liveline import settings

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
AUTH_MODES = ("none", "azure")
# ACR's fixed user name for logins with a refresh token.
ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
AAD_SCOPE = "https://management.azure.com/.default"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
REPOSITORY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
HTTP_TIMEOUT_S = 30


class RegistryError(Exception):
    """The registry refused or did not confirm a push."""


@dataclass(frozen=True)
class RegistryTarget:
    host: str  # "127.0.0.1:5000", "liveline.azurecr.io"
    repository: str  # "liveline/serving"
    auth: str  # one of AUTH_MODES

    @property
    def image(self) -> str:
        return f"{self.host}/{self.repository}"

    @property
    def api(self) -> str:
        local = self.host.rsplit(":", 1)[0] in LOOPBACK_HOSTS
        return f"{'http' if local else 'https'}://{self.host}/v2"


def parse_target(host: str, repository: str, auth: str) -> RegistryTarget:
    """Validate the registry configuration; an HTTPS port is implied, so drop ":443"."""
    host = host.removesuffix(":443")
    if auth not in AUTH_MODES:
        raise ValueError(f"registry auth {auth!r} is not one of {', '.join(AUTH_MODES)}")
    if not REPOSITORY.match(repository):
        raise ValueError(f"registry repository {repository!r} is not a valid image name")
    if auth == "azure" and not host.endswith(".azurecr.io"):
        raise ValueError(f"registry auth 'azure' needs an ACR host (*.azurecr.io), got {host!r}")
    return RegistryTarget(host, repository, auth)


class RegistryResource(ConfigurableResource):
    """The registry serving images are pushed to (local 127.0.0.1:5000 by default)."""

    host: str = Field(
        default="", description="Registry host[:port]. Empty: LIVELINE_REGISTRY_HOST:_PORT."
    )
    repository: str = Field(
        default="", description="Image repository. Empty: LIVELINE_SERVING_REPOSITORY."
    )
    auth: str = Field(
        default="", description="'none' or 'azure' (ACR token). Empty: LIVELINE_REGISTRY_AUTH."
    )

    def target(self) -> RegistryTarget:
        s = settings.load()
        return parse_target(
            self.host or s.registry,
            self.repository or s.serving_repository,
            self.auth or s.registry_auth,
        )

    def login(self, client: docker.DockerClient) -> None:
        """Log the engine in (ACR only; the local registry needs no login)."""
        target = self.target()
        if target.auth == "azure":
            token = _acr_refresh_token(target.host)
            client.login(username=ACR_TOKEN_USER, password=token, registry=target.host)

    def manifest_digest(self, tag: str, repository: str = "") -> str:
        """The digest the registry serves for tag (or digest) in repository (default: the
        configured one), read with the Docker v2 media type."""
        target = self.target()
        if repository:
            target = RegistryTarget(target.host, repository, target.auth)
        headers = {"Accept": MANIFEST_V2}
        if target.auth == "azure":
            refresh = _acr_refresh_token(target.host)
            headers["Authorization"] = f"Bearer {_acr_pull_token(target, refresh)}"
        url = f"{target.api}/{target.repository}/manifests/{tag}"
        response = requests.head(url, headers=headers, timeout=HTTP_TIMEOUT_S)
        digest = response.headers.get("Docker-Content-Digest")
        if response.status_code != 200 or not digest:
            raise RegistryError(f"HEAD {url} answered {response.status_code} without a digest")
        return digest


def _acr_refresh_token(host: str) -> str:
    """Exchange an Azure AD access token for an ACR refresh token."""
    from azure.identity import DefaultAzureCredential  # only production needs it

    aad = DefaultAzureCredential().get_token(AAD_SCOPE).token
    data = {"grant_type": "access_token", "service": host, "access_token": aad}
    return _token(f"https://{host}/oauth2/exchange", data, "refresh_token")


def _acr_pull_token(target: RegistryTarget, refresh_token: str) -> str:
    data = {
        "grant_type": "refresh_token",
        "service": target.host,
        "scope": f"repository:{target.repository}:pull",
        "refresh_token": refresh_token,
    }
    return _token(f"https://{target.host}/oauth2/token", data, "access_token")


def _token(url: str, data: dict[str, str], field: str) -> str:
    response = requests.post(url, data=data, timeout=HTTP_TIMEOUT_S)
    if response.status_code != 200:  # the body may echo tokens: report the status only
        raise RegistryError(f"POST {url} answered {response.status_code}")
    return response.json()[field]
