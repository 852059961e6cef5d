"""Build, run and push the serving image with the docker SDK.

The base image is pinned before every build: a configured tag is resolved to the digest
it points to now (`resolve_base`) and the build runs FROM `name@sha256:...`, so the image
records (labels org.opencontainers.image.base.*) exactly the base it was built on.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.auth
import docker.errors
import docker.utils

from liveline.images.context import DOCKERFILE, ImageError

log = logging.getLogger(__name__)

# A reference pinned by content: name@sha256:<64 hex>. The name may carry a tag too
# (name:tag@sha256:...); the digest wins and the tag is only informative.
PINNED = re.compile(r"^(?P<name>[^@\s]+)@(?P<digest>sha256:[0-9a-f]{64})$")
IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class BaseImage:
    """The base an image is built on, pinned by content."""

    configured: str  # as configured: "liveline/python-base:3.11-bookworm-r3", "python:3.11-slim"
    reference: str  # what FROM uses: "registry/name@sha256:...", or the image id (see pinned_by)
    digest: str  # "sha256:...": the registry's manifest digest, else the engine's image id
    name: str  # fully qualified name:tag, for org.opencontainers.image.base.name
    image_id: str = ""  # the engine's id of it; empty when the engine does not have it yet
    pinned_by: str = "manifest digest"  # or "image id": in no registry, only this engine has it


@dataclass(frozen=True)
class BuiltImage:
    image_id: str
    reference: str
    size: int
    seconds: float
    steps: int
    cached_steps: int
    labels: dict[str, str]
    # Image ids of the finished stages, the last one being the image itself.
    stage_ids: tuple[str, ...] = ()
    # The base the build ran FROM, resolved from the BASE_IMAGE build argument.
    base: BaseImage | None = None


def qualified(repository: str) -> str:
    """A repository (no tag, no digest) as its registry names it: "python" is
    "docker.io/library/python", as in org.opencontainers.image.base.name."""
    # docker-py splits off the registry the way the engine does; the engine's "library/"
    # prefix for official images has no helper there, hence the two lines here.
    index, remote = docker.auth.split_repo_name(repository)
    if index == docker.auth.INDEX_NAME and "/" not in remote:
        remote = f"library/{remote}"
    return f"{index}/{remote}"


def resolve_base(client: docker.DockerClient, configured: str, registry: str = "") -> BaseImage:
    """Pin the configured base image by content, before a build.

    `name@sha256:...` is taken as is (the engine pulls it at build time if it lacks it).
    A tag is resolved to the image the engine has for it now (pulled first if it has
    none): its registry digest (RepoDigests: the configured repository's, else the one in
    `registry`, the registry the new image goes to, else any), else, for an image that
    was never pushed nor pulled, the engine's image id, which only this engine can resolve.
    """
    if pinned := PINNED.match(configured):
        repository, tag = docker.utils.parse_repository_tag(pinned["name"])
        attrs = _inspect(client, configured)
        name = qualified(repository) + (f":{tag}" if tag else "")
        return BaseImage(configured, configured, pinned["digest"], name,
                         attrs["Id"] if attrs else "")  # fmt: skip
    if IMAGE_ID.match(configured):
        if _inspect(client, configured) is None:
            raise ImageError(f"base image {configured} is not in the engine")
        return BaseImage(configured, configured, configured, configured, configured, "image id")
    repository, tag = docker.utils.parse_repository_tag(configured)
    tag = tag or "latest"
    attrs = _inspect(client, configured) or _pull(client, repository, tag)
    digests = sorted(attrs.get("RepoDigests") or [])
    # An engine keeps the digests of every registry the image went to, live or not.
    own = [d for d in digests if qualified(d.split("@", 1)[0]) == qualified(repository)]
    near = [d for d in digests if registry and d.startswith(f"{registry}/")]
    if own or near or digests:
        chosen = (own or near or digests)[0]
        name, digest = chosen.split("@", 1)
        return BaseImage(configured, chosen, digest, f"{qualified(name)}:{tag}", attrs["Id"])
    log.warning(
        "base image %s is in no registry: pinned by its image id %s, which only this engine "
        "knows (push it to a registry to pin it by manifest digest)",
        configured,
        attrs["Id"],
    )
    return BaseImage(configured, attrs["Id"], attrs["Id"], f"{qualified(repository)}:{tag}",
                     attrs["Id"], "image id")  # fmt: skip


def _inspect(client: docker.DockerClient, reference: str) -> dict[str, Any] | None:
    try:
        attrs: dict[str, Any] = client.api.inspect_image(reference)
        return attrs
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as e:
        raise ImageError(f"cannot inspect base image {reference}: {e.explanation or e}") from e


def _pull(client: docker.DockerClient, repository: str, tag: str) -> dict[str, Any]:
    log.info("base image %s:%s is not in the engine: pulling it", repository, tag)
    try:
        client.api.pull(repository, tag=tag)
        attrs: dict[str, Any] = client.api.inspect_image(f"{repository}:{tag}")
        return attrs
    except docker.errors.APIError as e:
        raise ImageError(
            f"base image {repository}:{tag} is not in the engine and cannot be pulled: "
            f"{e.explanation or e}. Pull or build it (`make up` builds the offline base)."
        ) from e


def base_build_args(base: BaseImage) -> dict[str, str]:
    """serving/Dockerfile's arguments for the base: FROM it, and its OCI labels."""
    return {"BASE_IMAGE": base.reference, "BASE_NAME": base.name, "BASE_DIGEST": base.digest}


def build(
    client: docker.DockerClient,
    context: Path,
    reference: str,
    buildargs: dict[str, str],
    timeout_s: int = 900,
    nocache: bool = False,
) -> BuiltImage:
    """Build serving/Dockerfile in context; raise ImageError with the log tail on failure.

    A BASE_IMAGE argument is pinned first (resolve_base): the build runs FROM its digest,
    and the base is returned in BuiltImage.base. A BUILD_IMAGE argument (the image the
    dependencies are installed in) is pinned the same way.
    """
    started = time.monotonic()
    base = None
    registry, _ = docker.auth.split_repo_name(docker.utils.parse_repository_tag(reference)[0])
    if "BASE_IMAGE" in buildargs:
        base = resolve_base(client, buildargs["BASE_IMAGE"], registry)
        buildargs = {**buildargs, **base_build_args(base)}
    if "BUILD_IMAGE" in buildargs:
        pinned = resolve_base(client, buildargs["BUILD_IMAGE"], registry).reference
        buildargs = {**buildargs, "BUILD_IMAGE": pinned}
    lines: list[str] = []
    steps = cached = 0
    stage_ids: list[str] = []
    try:
        # The low-level API streams the log; consume it once, as it arrives.
        for chunk in client.api.build(
            path=str(context),
            dockerfile=DOCKERFILE,
            tag=reference,
            buildargs=buildargs,
            rm=True,
            forcerm=True,
            nocache=nocache,
            decode=True,
            timeout=timeout_s,
        ):
            if "error" in chunk:
                tail = "".join(lines[-15:])
                raise ImageError(f"image build failed: {chunk['error'].strip()}\n{tail}")
            if "ID" in chunk.get("aux", {}):
                stage_ids.append(chunk["aux"]["ID"])
            text = chunk.get("stream", "")
            lines.append(text)
            steps += text.startswith("Step ")
            cached += "Using cache" in text
    except docker.errors.APIError as e:
        raise ImageError(f"the Docker engine refused the build: {e.explanation or e}") from e
    image = client.images.get(reference)
    if image.id is None:
        raise ImageError(f"the Docker engine reports no image id for {reference}")
    return BuiltImage(
        image_id=image.id,
        reference=reference,
        size=int(image.attrs["Size"]),
        seconds=time.monotonic() - started,
        steps=steps,
        cached_steps=cached,
        labels=dict(image.labels),
        stage_ids=tuple(stage_ids),
        base=base,
    )


def push(client: docker.DockerClient, repository: str, tag: str) -> str:
    """Push repository:tag; return the manifest digest the registry reported."""
    digest: str | None = None
    try:
        for chunk in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                raise ImageError(f"push of {repository}:{tag} failed: {chunk['error']}")
            digest = chunk.get("aux", {}).get("Digest", digest)
    except docker.errors.APIError as e:
        raise ImageError(f"push of {repository}:{tag} failed: {e.explanation or e}") from e
    if not digest:
        raise ImageError(f"push of {repository}:{tag} reported no digest")
    return digest
