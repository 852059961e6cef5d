"""The registry as the stand-in for ACR: push with the docker SDK, read back over HTTP."""

from __future__ import annotations

import io
import json
import uuid

import docker
import pytest
import requests

from devplatform import registry
from devplatform.layout import Layout

pytestmark = pytest.mark.integration

DOCKER_V2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
REPOSITORY = "liveline/platform-test"


def test_registry_config_is_local_without_auth(local_platform: Layout) -> None:
    config = json.loads(registry.config_path(local_platform).read_text())
    assert config["http"]["addr"] == f"127.0.0.1:{local_platform.settings.registry_port}"
    assert "auth" not in config
    assert config["storage"]["delete"]["enabled"] is True
    assert str(local_platform.state) in config["storage"]["filesystem"]["rootdirectory"]


def test_push_tiny_image_and_read_its_digest_back(
    local_platform: Layout, docker_client: docker.DockerClient, registry_url: str
) -> None:
    tag = uuid.uuid4().hex[:12]
    reference = f"{local_platform.settings.registry}/{REPOSITORY}:{tag}"
    # A label makes the image (and so its digest) unique to this run.
    dockerfile = f"FROM {local_platform.settings.base_image}\nLABEL org.liveline.test={tag}\n"
    image, build_log = docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=reference, rm=True
    )
    for _ in build_log:  # one-shot iterator: drain it once
        pass
    try:
        pushed_digest = None
        for event in docker_client.images.push(reference, stream=True, decode=True):
            assert "error" not in event, event
            pushed_digest = event.get("aux", {}).get("Digest", pushed_digest)
        assert pushed_digest and pushed_digest.startswith("sha256:")
        repo_digests = docker_client.images.get(reference).attrs["RepoDigests"]
        assert f"{local_platform.settings.registry}/{REPOSITORY}@{pushed_digest}" in repo_digests

        resp = requests.head(
            f"{registry_url}/v2/{REPOSITORY}/manifests/{tag}",
            headers={"Accept": DOCKER_V2_MANIFEST},
            timeout=10,
        )
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == DOCKER_V2_MANIFEST
        assert resp.headers["Docker-Content-Digest"] == pushed_digest

        # Delete is enabled: clean the test manifest out of the registry.
        deleted = requests.delete(
            f"{registry_url}/v2/{REPOSITORY}/manifests/{pushed_digest}", timeout=10
        )
        assert deleted.status_code == 202
    finally:
        docker_client.images.remove(image.id, force=True)
