"""The serving image: its build context, the build itself, its SBOM and its smoke test.

`liveline.images` re-exports the context and build functions; `sbom`, `smoke` and
`wheels` are modules of their own.
"""

from liveline.images.build import (
    IMAGE_ID,
    PINNED,
    BaseImage,
    BuiltImage,
    base_build_args,
    build,
    push,
    qualified,
    resolve_base,
)
from liveline.images.context import (
    DOCKERFILE,
    MODEL_TAR,
    REQUIREMENTS,
    ImageError,
    assemble_context,
    build_args,
    export_commit,
    image_tag,
    model_files,
    runtime_args,
    write_model_tar,
)
from liveline.images.engine import engine_client
from liveline.images.prepare import prepare

__all__ = [
    "DOCKERFILE",
    "IMAGE_ID",
    "MODEL_TAR",
    "PINNED",
    "REQUIREMENTS",
    "BaseImage",
    "BuiltImage",
    "ImageError",
    "assemble_context",
    "base_build_args",
    "build",
    "build_args",
    "engine_client",
    "export_commit",
    "image_tag",
    "model_files",
    "prepare",
    "push",
    "qualified",
    "resolve_base",
    "runtime_args",
    "write_model_tar",
]
