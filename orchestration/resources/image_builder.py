"""The Docker engine that builds serving images, with the base image and the wheel cache."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import docker
from dagster import ConfigurableResource
from pydantic import Field

from liveline import images, sbom, settings
from liveline.localplatform import docker_engine, ensure_wheels
from liveline.localplatform.layout import Layout


class ImageBuilderResource(ConfigurableResource):
    """Builds and runs serving images on a Docker engine (the local one by default)."""

    docker_host: str = Field(
        default="",
        description="Engine address. Empty: LIVELINE_DOCKER_HOST, DOCKER_HOST, else the socket.",
    )
    base_image: str = Field(
        default="", description="Image to build on. Empty: LIVELINE_BASE_IMAGE (offline base)."
    )
    wheels_dir: str = Field(
        default="", description="Wheel cache for the image's requirements. Empty: <state>/wheels."
    )
    build_timeout_s: int = Field(default=900, description="Longest a build may take.")

    def resolved(self) -> settings.Settings:
        s = settings.load()
        return replace(
            s,
            docker_host=self.docker_host or s.docker_host,
            base_image=self.base_image or s.base_image,
        )

    @contextmanager
    def client(self) -> Iterator[docker.DockerClient]:
        client = docker_engine.client(Layout(self.resolved()))
        try:
            yield client
        finally:
            client.close()

    def build_serving_image(
        self,
        client: docker.DockerClient,
        repo: Path,
        commit: str,
        model_dir: Path,
        reference: str,
        created: str,
    ) -> images.BuiltImage:
        """serving/ exported at commit (never the working tree), the wheels and the model."""
        s = self.resolved()
        wheels_dir = Path(self.wheels_dir) if self.wheels_dir else s.wheels_dir
        with tempfile.TemporaryDirectory(prefix="liveline-build-") as tmp:
            source = Path(tmp) / "source"
            revision = images.export_commit(repo, commit, source)
            if revision != commit:
                raise images.ImageError(f"{commit} resolved to {revision} in {repo}")
            # The wheels must match the requirements at this commit, not the working tree's.
            wheels = ensure_wheels(source / "serving" / "requirements.txt", wheels_dir)
            context = images.assemble_context(Path(tmp) / "context", source, model_dir, wheels)
            card = json.loads((model_dir / "model_card.json").read_text())
            args = images.build_args(card, revision, str(repo), s.base_image, created)
            return images.build(client, context, reference, args, timeout_s=self.build_timeout_s)

    def write_sbom(
        self, client: docker.DockerClient, built: images.BuiltImage
    ) -> tuple[sbom.ImageSbom, Path]:
        """The built image's CycloneDX SBOM, from what is installed in it, kept in
        <state>/sboms/ (the path is returned)."""
        document = sbom.for_image(client, built.image_id)
        return document, document.write(self.resolved().sboms_dir)
