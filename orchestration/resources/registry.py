"""The container registry that serving images are pushed to: the local one, or ACR.

A thin Dagster face over liveline.registry, which holds the client and the ACR token
exchange. Production: LIVELINE_REGISTRY_AUTH=azure, LIVELINE_REGISTRY_HOST=<name>.azurecr.io.
"""

from __future__ import annotations

import docker
from dagster import ConfigurableResource
from pydantic import Field

from liveline.registry import Registry
from liveline.settings import Settings


class RegistryResource(ConfigurableResource):
    """The registry serving images are pushed to (local 127.0.0.1:5000 by default)."""

    host: str = Field(description="Registry host[:port] (LIVELINE_REGISTRY_HOST, _PORT).")
    repository: str = Field(description="Image repository (LIVELINE_SERVING_REPOSITORY).")
    auth: str = Field(
        default="none", description="'none' or 'azure': an ACR token (LIVELINE_REGISTRY_AUTH)."
    )

    @classmethod
    def from_settings(cls, s: Settings) -> RegistryResource:
        return cls(host=s.registry, repository=s.serving_repository, auth=s.registry_auth)

    def target(self) -> Registry:
        return Registry.parse(self.host, self.repository, self.auth)

    def login(self, client: docker.DockerClient) -> None:
        """Log the engine in (ACR only; the local registry needs no login)."""
        self.target().login(client)

    def manifest_digest(self, tag: str, repository: str = "") -> str:
        """The digest the registry serves for tag (or digest) in repository (default: the
        configured one)."""
        return self.target().with_repository(repository).manifest_digest(tag)
