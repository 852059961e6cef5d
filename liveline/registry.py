"""The one registry client: manifest digests and manifests, and the ACR token exchange.

The local registry (Debian's docker-registry on 127.0.0.1) needs no login. Production
(auth "azure", host <name>.azurecr.io): an Azure AD token from DefaultAzureCredential is
exchanged for an ACR refresh token, which logs the engine in and buys pull-scoped access
tokens for the registry API. Tokens live in memory only: never logged, never in metadata.
Not yet exercised against a real ACR.

Hand-written over `requests` because no maintained Python client of the distribution API
covers both the plain local registry and ACR's token exchange; it is three calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import docker
import requests

from liveline.constants import MANIFEST_V2

AUTH_MODES = ("none", "azure")
# ACR's fixed user name for logins with a refresh token.
ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
AAD_SCOPE = "https://management.azure.com/.default"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
REPOSITORY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
HTTP_TIMEOUT_S = 30


class RegistryError(Exception):
    """The registry refused, or did not confirm, a push or a manifest."""


@dataclass(frozen=True)
class Registry:
    """One repository in one registry, and how to authenticate to it."""

    host: str  # "127.0.0.1:5000", "liveline.azurecr.io"
    repository: str  # "liveline/serving"
    auth: str = "none"  # one of AUTH_MODES
    timeout_s: float = HTTP_TIMEOUT_S

    @classmethod
    def parse(cls, host: str, repository: str, auth: str = "none") -> Registry:
        """Validate the configuration; an HTTPS port is implied, so drop ":443"."""
        host = host.removesuffix(":443")
        if auth not in AUTH_MODES:
            raise ValueError(f"registry auth {auth!r} is not one of {', '.join(AUTH_MODES)}")
        if not REPOSITORY.match(repository):
            raise ValueError(f"registry repository {repository!r} is not a valid image name")
        if auth == "azure" and not host.endswith(".azurecr.io"):
            raise ValueError(
                f"registry auth 'azure' needs an ACR host (*.azurecr.io), got {host!r}"
            )
        return cls(host, repository, auth)

    def with_repository(self, repository: str) -> Registry:
        return replace(self, repository=repository) if repository else self

    @property
    def image(self) -> str:
        return f"{self.host}/{self.repository}"

    @property
    def api(self) -> str:
        local = self.host.rsplit(":", 1)[0] in LOOPBACK_HOSTS
        return f"{'http' if local else 'https'}://{self.host}/v2"

    def manifest_url(self, reference: str) -> str:
        return f"{self.api}/{self.repository}/manifests/{reference}"

    def login(self, client: docker.DockerClient) -> None:
        """Log the engine in (ACR only; the local registry needs no login)."""
        if self.auth == "azure":
            token = _acr_refresh_token(self.host)
            client.login(username=ACR_TOKEN_USER, password=token, registry=self.host)

    def manifest_digest(self, reference: str) -> str:
        """The digest the registry serves for a tag or digest, read with the Docker v2
        media type (an OCI-only Accept gets an old schema1 manifest, another digest)."""
        url = self.manifest_url(reference)
        response = requests.head(url, headers=self._headers(), timeout=self.timeout_s)
        digest = response.headers.get("Docker-Content-Digest")
        if response.status_code != 200 or not digest:
            raise RegistryError(f"HEAD {url} answered {response.status_code} without a digest")
        return digest

    def serves(self, reference: str) -> bool:
        """Whether the registry answers for reference; False when it does not answer."""
        try:
            return self.manifest_digest(reference) != ""
        except (RegistryError, requests.RequestException):
            return False

    def manifest(self, reference: str) -> dict[str, Any]:
        """The image manifest (Docker v2 schema 2) for a tag or digest."""
        url = self.manifest_url(reference)
        response = requests.get(url, headers=self._headers(), timeout=self.timeout_s)
        if response.status_code != 200:
            raise RegistryError(f"GET {url} answered {response.status_code}")
        manifest = response.json()
        if not isinstance(manifest, dict):
            raise RegistryError(f"GET {url} answered JSON that is not a manifest object")
        return manifest

    def delete(self, digest: str) -> None:
        """Delete a manifest by digest (the local registry has delete enabled)."""
        url = self.manifest_url(digest)
        response = requests.delete(url, headers=self._headers(), timeout=self.timeout_s)
        if response.status_code not in (202, 404):
            raise RegistryError(f"DELETE {url} answered {response.status_code}")

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": MANIFEST_V2}
        if self.auth == "azure":
            refresh = _acr_refresh_token(self.host)
            headers["Authorization"] = f"Bearer {_acr_pull_token(self, refresh)}"
        return headers


def _acr_refresh_token(host: str) -> str:
    """Exchange an Azure AD access token for an ACR refresh token."""
    from azure.identity import DefaultAzureCredential  # only production needs it

    aad = DefaultAzureCredential().get_token(AAD_SCOPE).token
    data = {"grant_type": "access_token", "service": host, "access_token": aad}
    return _token(f"https://{host}/oauth2/exchange", data, "refresh_token")


def _acr_pull_token(target: Registry, refresh_token: str) -> str:
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
    return str(response.json()[field])
