"""A client for the Docker engine that builds and runs serving images."""

from __future__ import annotations

import docker


def engine_client(docker_host: str = "", timeout: int = 120) -> docker.DockerClient:
    """The engine at docker_host; empty: the environment's (DOCKER_HOST, and
    DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, through from_env), else the default socket."""
    if docker_host:
        return docker.DockerClient(base_url=docker_host, timeout=timeout)
    return docker.from_env(timeout=timeout)
