"""The Docker engine that builds serving images, with the base image and the wheel cache."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
from dagster import ConfigurableResource
from pydantic import Field

from liveline import images
from liveline.images import sbom
from liveline.settings import Settings


class ImageBuilderResource(ConfigurableResource):
    """Builds and runs serving images on a Docker engine (the local one by default)."""

    docker_host: str = Field(
        description="Engine address (LIVELINE_DOCKER_HOST, else DOCKER_HOST, else the socket)."
    )
    base_image: str = Field(
        description="Image to build on, pinned to its digest at each build "
        "(LIVELINE_BASE_IMAGE; locally the offline base)."
    )
    build_image: str = Field(
        description="Image the dependencies are installed in: the base's Python and "
        "binutils, pinned to its digest at each build (LIVELINE_BUILD_IMAGE)."
    )
    wheels_dir: str = Field(description="Wheel cache for the image's requirements.")
    sboms_dir: str = Field(description="Where each image's CycloneDX SBOM is kept.")
    serve_port: int = Field(default=8080, description="The app's port in the container.")
    build_timeout_s: int = Field(default=900, description="Longest a build may take.")

    @classmethod
    def from_settings(cls, s: Settings) -> ImageBuilderResource:
        return cls(
            docker_host=s.docker_address,
            base_image=s.base_image,
            build_image=s.build_image,
            wheels_dir=str(s.wheels_dir),
            sboms_dir=str(s.sboms_dir),
            serve_port=s.serve_port,
        )

    @contextmanager
    def client(self) -> Iterator[docker.DockerClient]:
        client = images.engine_client(self.docker_host)
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
        with tempfile.TemporaryDirectory(prefix="liveline-build-") as tmp:
            source = Path(tmp) / "source"
            revision = images.export_commit(repo, commit, source)
            if revision != commit:
                raise images.ImageError(f"{commit} resolved to {revision} in {repo}")
            context, args = images.prepare(
                source, model_dir, Path(tmp) / "context", Path(self.wheels_dir),
                revision=revision, source_label=str(repo), base_image=self.base_image,
                build_image=self.build_image, created=created, port=self.serve_port,
            )  # fmt: skip
            return images.build(client, context, reference, args, timeout_s=self.build_timeout_s)

    def write_sbom(
        self, client: docker.DockerClient, built: images.BuiltImage
    ) -> tuple[sbom.ImageSbom, Path]:
        """The built image's CycloneDX SBOM, from what is installed in it, kept in
        sboms_dir (the path is returned)."""
        # The deps stage (the one the last stage is FROM) holds every package the SBOM
        # lists: its listing is read once and kept beside the SBOMs.
        deps = built.stage_ids[-2] if len(built.stage_ids) > 1 else ""
        document = sbom.for_image(client, built.image_id, Path(self.sboms_dir) / "packages", deps)
        return document, document.write(Path(self.sboms_dir))
