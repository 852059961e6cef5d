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
    ImageError,
    assemble_context,
    build_args,
    export_commit,
    image_tag,
    model_files,
    write_model_tar,
)
from liveline.images.engine import engine_client

__all__ = [
    "DOCKERFILE",
    "IMAGE_ID",
    "MODEL_TAR",
    "PINNED",
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
    "push",
    "qualified",
    "resolve_base",
    "write_model_tar",
]
