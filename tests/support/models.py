"""The project's own model for tests and benchmarks, trained the one way Liveline trains
(the recipe in pyproject.toml, through liveline.training), and edits of a written model
folder that they share."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

import modelcard
from liveline import project, settings, training
from liveline.training import Trained
from modelcard import CARD_FILE
from modelcard.onnx import ONNX_FILE, SKIPPED

PROJECT_FILE = settings.REPO_ROOT / "pyproject.toml"


@functools.cache
def _declared() -> tuple[project.Project, pd.DataFrame, str]:
    declared = project.load(PROJECT_FILE)
    table, source = training.load_table(declared, settings.load())
    return declared, table, source


def train(created_at: datetime | None = None, **overrides: Any) -> Trained:
    """The project's model; `overrides` are the recipe's fields (random_state,
    model_name, ...) or, for any other name (C, max_iter), its entry point's params."""
    declared, table, source = _declared()
    fields = {k: v for k, v in overrides.items() if k in training.RECIPE_KEYS}
    params = {k: v for k, v in overrides.items() if k not in training.RECIPE_KEYS}
    recipe = training.recipe(declared, **fields, params=params or None)
    return training.train_table(recipe, table.copy(), source, created_at=created_at)


def write(trained: Trained, out: Path) -> Path:
    """The model folder as publishing reads it (artifacts, then the card); its path."""
    modelcard.write_model_dir(out, trained.described.artifacts, trained.described.card)
    return out


def skops_only(model_dir: Path, reason: str = "test: served by skops") -> Path:
    """The model without its ONNX graph, as publishing leaves a model it cannot convert."""
    card_path = model_dir / CARD_FILE
    card = json.loads(card_path.read_text())
    card["artifacts"] = [a for a in card["artifacts"] if a["format"] == "skops"]
    card["onnx"] = {"status": SKIPPED, "reason": reason}
    card_path.write_text(json.dumps(card))
    (model_dir / ONNX_FILE).unlink()
    return model_dir
