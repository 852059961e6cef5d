"""The serving image's build context, assembled, never the working tree.

The serving code and the model card package exported from an exact git commit (`git
archive`, so uncommitted edits cannot leak in), the wheel cache, and one verified model.
serving/Dockerfile orders the layers base, dependencies, code, model, so a model-only or
code-only change makes one new layer: the model layer comes from a tar with fixed headers
(`write_model_tar`), so rebuilding it after a code change reproduces it exactly.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

from liveline import git
from modelcard import CARD_FILE, ONNX, SKOPS, ModelCard

DOCKERFILE = "serving/Dockerfile"
# Each runtime's requirements in serving/ (serving/Dockerfile's REQUIREMENTS argument).
REQUIREMENTS = {SKOPS: "requirements.txt", ONNX: "requirements-onnx.txt"}
# What a commit's build context takes from it: the app, and the card package it reads
# (commits from before modelcard/ existed have serving/ alone).
SOURCE_PATHS = ("serving", "modelcard")
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


def export_commit(
    repo: Path, commit: str, dest: Path, paths: tuple[str, ...] = SOURCE_PATHS
) -> str:
    """Extract `paths` at `commit` into dest with git archive (those the commit has);
    return the full commit sha."""
    try:
        sha = git.resolve(repo, commit).sha
        present = tuple(p for p in paths if git.has_path(repo, sha, p))
        if not present:
            raise git.GitError(f"the commit has none of {', '.join(paths)}")
        archive = git.archive(repo, sha, present, timeout=GIT_TIMEOUT_S)
    except git.GitError as e:
        raise ImageError(f"cannot export {paths} at {commit!r} from {repo}: {e}") from e
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return sha


def assemble_context(context: Path, source: Path, model_dir: Path, wheels: Path) -> Path:
    """Lay out serving/ and modelcard/ (from `source`), wheels/, model/ and model.tar in
    `context`."""
    context.mkdir(parents=True, exist_ok=True)
    for path in SOURCE_PATHS:
        if (source / path).is_dir():
            shutil.copytree(source / path, context / path, dirs_exist_ok=True)
    # Hard links: the wheel cache is large and read-only, copying it on every build is waste.
    shutil.copytree(wheels, context / "wheels", copy_function=_link_or_copy, dirs_exist_ok=True)
    # model/ is what the Dockerfile of older commits COPYs, and any commit may be built.
    (context / "model").mkdir(exist_ok=True)
    for name in model_files(model_dir):
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
        for name in model_files(model_dir):
            path = model_dir / name
            info = entry(
                f"{MODEL_TAR_DIRS[-1]}/{name}", tarfile.REGTYPE, 0o644, path.stat().st_size
            )
            with path.open("rb") as f:
                tar.addfile(info, f)


def model_files(model_dir: Path) -> list[str]:
    """The card and every artifact it lists (the skops one, and an ONNX graph if any)."""
    card = ModelCard.read(model_dir)
    return sorted({CARD_FILE, *(a.file for a in card.artifacts)})


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def image_tag(revision: str, model_version: str) -> str:
    return f"{revision[:12]}-{model_version}"


def build_args(
    card: ModelCard,
    revision: str,
    source: str,
    base_image: str,
    build_image: str,
    created: str,
    port: int = 8080,
    onnx: bool = True,
) -> dict[str, str]:
    """Build arguments for serving/Dockerfile: base (as configured: build() pins it),
    lineage labels and the model's identity."""
    return {
        "BASE_IMAGE": base_image,
        "BUILD_IMAGE": build_image,
        "REVISION": revision,
        "SOURCE": source,
        "CREATED": created,
        "PORT": str(port),
        "MODEL_NAME": card.model_name,
        "MODEL_VERSION": card.model_version,
        "SKLEARN_VERSION": card.sklearn_version,
        **runtime_args(card, onnx),
    }


def runtime_args(card: ModelCard, onnx: bool = True) -> dict[str, str]:
    """The runtime the image carries: onnxruntime for a card with an ONNX graph (no
    scikit-learn in the image), else skops on the scikit-learn that trained the model.
    onnx=False: the commit's serving code predates the ONNX runtime."""
    if card.onnx is None or not onnx:
        return {"RUNTIME": SKOPS, "REQUIREMENTS": REQUIREMENTS[SKOPS],
                "RUNTIME_VERSION": card.sklearn_version}  # fmt: skip
    opset = ",".join(f"{domain}={v}" for domain, v in sorted(card.onnx.opset.items()))
    version = card.libraries.get("onnxruntime", "unknown")
    return {"RUNTIME": ONNX, "REQUIREMENTS": REQUIREMENTS[ONNX], "RUNTIME_VERSION": version,
            "ONNX_OPSET": opset}  # fmt: skip
