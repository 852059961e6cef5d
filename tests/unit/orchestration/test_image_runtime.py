"""Which runtime an image carries, and the check that the image carries what it says: the
onnxruntime that checked the graph and no scikit-learn, or the scikit-learn that trained
the model."""

from __future__ import annotations

import copy
from pathlib import Path

import dagster as dg
import pytest

from liveline import images
from liveline.images.sbom import ImageSbom
from liveline.images.sbom.packages import Package
from modelcard import ModelCard
from orchestration.assets.image import image_runtime


def _skops_only(card: dict) -> ModelCard:
    card = copy.deepcopy(card)
    card["artifacts"] = [a for a in card["artifacts"] if a["format"] == "skops"]
    card["onnx"] = {"status": "skipped", "reason": "test"}
    return ModelCard.from_dict(card)


def test_a_card_with_a_graph_gets_the_onnx_runtime_unless_the_commit_predates_it(card):
    onnx = images.runtime_args(ModelCard.from_dict(card))
    assert onnx["RUNTIME"] == "onnx" and onnx["REQUIREMENTS"] == "requirements-onnx.txt"
    assert onnx["RUNTIME_VERSION"] == card["libraries"]["onnxruntime"]
    assert onnx["ONNX_OPSET"] == "ai.onnx=14,ai.onnx.ml=1"
    for args in (images.runtime_args(_skops_only(card)),
                 images.runtime_args(ModelCard.from_dict(card), onnx=False)):  # fmt: skip
        assert args == {"RUNTIME": "skops", "REQUIREMENTS": "requirements.txt",
                        "RUNTIME_VERSION": card["libraries"]["scikit-learn"]}  # fmt: skip


def _built(runtime: str) -> images.BuiltImage:
    return images.BuiltImage("sha256:img", "ref", 1, 0.1, 1, 0, {"io.liveline.runtime": runtime})


def _bom(**versions: str) -> ImageSbom:
    packages = tuple(
        Package("pypi", n, v, f"pkg:pypi/{n}@{v}", "", "", "") for n, v in versions.items()
    )
    return ImageSbom("sha256:img", "{}", packages, "debian-12")


def test_the_image_must_carry_what_its_runtime_needs(card):
    ort, sk = card["libraries"]["onnxruntime"], card["libraries"]["scikit-learn"]
    onnx_card, path = ModelCard.from_dict(card), Path("sbom.json")
    ok = image_runtime(_bom(onnxruntime=ort), onnx_card, _built("onnx"), path)
    assert ok == {"runtime": "onnxruntime", "onnxruntime_version": ort,
                  "onnx_opset": "ai.onnx 14, ai.onnx.ml 1"}  # fmt: skip
    with pytest.raises(dg.Failure, match=r"needs onnxruntime .* alone"):
        image_runtime(
            _bom(onnxruntime=ort, **{"scikit-learn": sk}), onnx_card, _built("onnx"), path
        )
    with pytest.raises(dg.Failure, match="needs onnxruntime"):
        image_runtime(_bom(onnxruntime="0.1"), onnx_card, _built("onnx"), path)
    skops = image_runtime(_bom(**{"scikit-learn": sk}), _skops_only(card), _built("skops"), path)
    assert skops == {"runtime": "scikit-learn", "sklearn_version": sk}
    with pytest.raises(dg.Failure, match="was trained with"):
        image_runtime(_bom(**{"scikit-learn": "0.1"}), _skops_only(card), _built("skops"), path)
