"""Fixtures that hand integration tests real clients for the local platform.

The platform is brought up once per session with the same `up()` that
`python -m liveline.localplatform up` runs; on a fresh machine that installs and builds
(a few minutes), afterwards it takes about a second. If it cannot come up, every test
that needs it FAILS with the reason: a missing platform is a broken build, not a skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import kubernetes
import pytest
from azure.storage.blob import BlobServiceClient

from liveline import localplatform
from liveline.localplatform import azurite, docker_engine, k8s_cluster, registry
from liveline.localplatform.layout import Layout
from liveline.localplatform.layout import load as load_layout


@pytest.fixture(scope="session")
def local_platform() -> Layout:
    """The running local platform's layout (settings and state paths)."""
    lay = load_layout()
    try:
        localplatform.up(lay)
    except localplatform.PlatformError as e:
        pytest.fail(f"the local platform could not come up:\n{e}", pytrace=False)
    return lay


@pytest.fixture(scope="session")
def docker_client(local_platform: Layout) -> Iterator[docker.DockerClient]:
    client = docker_engine.client(local_platform)
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry_url(local_platform: Layout) -> str:
    """e.g. http://127.0.0.1:5000"""
    return registry.url(local_platform)


@pytest.fixture(scope="session")
def blob_service(local_platform: Layout) -> Iterator[BlobServiceClient]:
    """Azurite through the dev account key (Azurite runs with --skipApiVersionCheck)."""
    with azurite.blob_service(local_platform) as client:
        yield client


@pytest.fixture(scope="session")
def kube_api(local_platform: Layout) -> Iterator[kubernetes.client.ApiClient]:
    """The local cluster's API (the kubeconfig `up` wrote into the state folder)."""
    with k8s_cluster.api_client(local_platform) as api:
        yield api
