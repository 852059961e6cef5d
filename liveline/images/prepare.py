"""A serving image build made ready: its context and arguments, for the model's runtime.

The one place that decides what an image of a commit and a model carries: the runtime
the model's card calls for (its ONNX graph on onnxruntime, else skops on scikit-learn),
if the commit's serving code offers it; that runtime's requirements and their wheels.
"""

from __future__ import annotations

from pathlib import Path

from liveline.images.context import REQUIREMENTS, assemble_context, build_args
from liveline.images.wheels import ensure_wheels
from modelcard import ONNX, ModelCard


def prepare(
    source: Path,
    model_dir: Path,
    context_dir: Path,
    wheels_cache: Path,
    *,
    revision: str,
    source_label: str,
    base_image: str,
    build_image: str,
    created: str,
    port: int = 8080,
) -> tuple[Path, dict[str, str]]:
    """The build context (in context_dir) and build arguments for the serving code
    exported in `source` with the model in model_dir."""
    card = ModelCard.read(model_dir)
    # A commit from before the ONNX runtime has no requirements for it: skops.
    onnx = (source / "serving" / REQUIREMENTS[ONNX]).is_file()
    args = build_args(
        card, revision, source_label, base_image, build_image, created, port=port, onnx=onnx
    )
    # The wheels must match the requirements at this commit, not the working tree's.
    wheels = ensure_wheels(source / "serving" / args["REQUIREMENTS"], wheels_cache)
    return assemble_context(context_dir, source, model_dir, wheels), args
