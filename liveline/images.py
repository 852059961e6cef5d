"""Build, run and push the serving image with the docker SDK.

The build context is assembled, never the working tree: the serving code exported from
an exact git commit (`git archive`, so uncommitted edits cannot leak in), the wheel
cache, and one verified model. serving/Dockerfile orders the layers base, dependencies,
code, model, so a model-only or code-only change makes one new layer: the model layer
comes from a tar with fixed headers (`write_model_tar`), so rebuilding it after a code
change reproduces it exactly.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from liveline import gitrepo

log = logging.getLogger(__name__)

DOCKERFILE = "serving/Dockerfile"
MODEL_FILES = ("model.skops", "model_card.json")
# serving/Dockerfile ADDs this at /, and ADD unpacks a local tar keeping its headers.
MODEL_TAR = "model.tar"
# The model's folder in the image (SERVING_MODEL_DIR in serving/Dockerfile) and its parent:
# /app must be in the tar too, else unpacking app/model into it stamps /app with the time.
MODEL_TAR_DIRS = ("app", "app/model")
# Any constant would do; it must not be the build time nor the commit time.
MODEL_TAR_MTIME = 0
GIT_TIMEOUT_S = 60


class ImageError(Exception):
    """An image could not be built or pushed; the message says why and what to do."""


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


def export_commit(
    repo: Path, commit: str, dest: Path, paths: tuple[str, ...] = ("serving",)
) -> str:
    """Extract `paths` at `commit` into dest with git archive; return the full commit sha."""
    try:
        sha = gitrepo.resolve(repo, commit).sha
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", sha, *paths],
            capture_output=True,
            check=True,
            timeout=GIT_TIMEOUT_S,
        ).stdout
    except gitrepo.GitError as e:
        raise ImageError(f"cannot export {paths} at {commit!r} from {repo}: {e}") from e
    except subprocess.CalledProcessError as e:
        why = e.stderr.decode(errors="replace").strip()
        raise ImageError(f"cannot export {paths} at {commit!r} from {repo}: {why}") from e
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return sha


def assemble_context(context: Path, source: Path, model_dir: Path, wheels: Path) -> Path:
    """Lay out serving/ (from `source`), wheels/, model/ and model.tar in `context`."""
    context.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "serving", context / "serving", dirs_exist_ok=True)
    # Hard links: the wheel cache is large and read-only, copying it on every build is waste.
    shutil.copytree(wheels, context / "wheels", copy_function=_link_or_copy, dirs_exist_ok=True)
    # model/ is what the Dockerfile of older commits COPYs, and any commit may be built.
    (context / "model").mkdir(exist_ok=True)
    for name in MODEL_FILES:
        shutil.copy2(model_dir / name, context / "model" / name)
    write_model_tar(model_dir, context / MODEL_TAR)
    return context


def write_model_tar(model_dir: Path, dest: Path) -> None:
    """Write the model layer as a tar whose bytes depend on the model files' bytes alone.

    The classic builder gives the folders a COPY creates or fills (/app, /app/model) the
    build time as mtime, so the model layer, rebuilt after every code change, would come
    out with a new digest: two new layers to push instead of one. ADD unpacks a tar with
    the owner, mode and mtime of its entries, /app's included, so these are fixed here. The
    modes also keep the model readable by the image's non-root user whatever the umask.
    """

    def entry(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
        # TarInfo's defaults: owner 0:0 (root, like COPY), no user or group names.
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.size, info.mtime = kind, mode, size, MODEL_TAR_MTIME
        return info

    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for folder in MODEL_TAR_DIRS:
            tar.addfile(entry(folder, tarfile.DIRTYPE, 0o755))
        for name in MODEL_FILES:
            path = model_dir / name
            info = entry(
                f"{MODEL_TAR_DIRS[-1]}/{name}", tarfile.REGTYPE, 0o644, path.stat().st_size
            )
            with path.open("rb") as f:
                tar.addfile(info, f)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def image_tag(revision: str, model_version: str) -> str:
    return f"{revision[:12]}-{model_version}"


def build(
    client: docker.DockerClient,
    context: Path,
    reference: str,
    buildargs: dict[str, str],
    timeout_s: int = 900,
    nocache: bool = False,
) -> BuiltImage:
    """Build serving/Dockerfile in context; raise ImageError with the log tail on failure."""
    started = time.monotonic()
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
    return BuiltImage(
        image_id=image.id,
        reference=reference,
        size=int(image.attrs["Size"]),
        seconds=time.monotonic() - started,
        steps=steps,
        cached_steps=cached,
        labels=dict(image.labels),
        stage_ids=tuple(stage_ids),
    )


def push(client: docker.DockerClient, repository: str, tag: str) -> str:
    """Push repository:tag; return the manifest digest the registry reported."""
    digest = None
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


def build_args(
    card: dict, revision: str, source: str, base_image: str, created: str
) -> dict[str, str]:
    """Build arguments for serving/Dockerfile: base, lineage labels and the model's identity."""
    return {
        "BASE_IMAGE": base_image,
        "REVISION": revision,
        "SOURCE": source,
        "CREATED": created,
        "MODEL_NAME": str(card["model_name"]),
        "MODEL_VERSION": str(card["model_version"]),
        "SKLEARN_VERSION": str(card["sklearn_version"]),
    }
