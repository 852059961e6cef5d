"""Stage "model": the training data snapshot and the model trained on it."""

# No `from __future__ import annotations`: Dagster reads the config and resource
# parameter annotations at definition time.

from dataclasses import fields
from pathlib import Path

import dagster as dg
from pydantic import Field

from liveline import modelstore, settings
from model_training import TrainedModel, TrainingConfig, train
from model_training.artifact import write_model
from model_training.data import load_dataset
from modelcard import ModelCard
from orchestration.facts import TrainedModelFacts, TrainingDataFacts

GROUP = "model"
DEFAULTS = TrainingConfig()


class TrainingRunConfig(dg.Config):
    """Run config for trained_model: the fields of model_training.TrainingConfig."""

    model_name: str = DEFAULTS.model_name
    random_state: int = DEFAULTS.random_state
    test_size: float = Field(default=DEFAULTS.test_size, description="held-out share")
    C: float = Field(default=DEFAULTS.C, description="inverse regularisation strength")
    max_iter: int = DEFAULTS.max_iter
    golden_rows: int = Field(default=DEFAULTS.golden_rows, description="smoke-test rows")

    def training_config(self) -> TrainingConfig:
        try:
            return TrainingConfig(**{f.name: getattr(self, f.name) for f in fields(TrainingConfig)})
        except ValueError as e:
            raise dg.Failure(f"invalid training config: {e}") from e


@dg.asset(group_name=GROUP, code_version="1", kinds={"python"})
def training_data() -> dg.MaterializeResult:
    """The training data set, versioned by a fingerprint of its content."""
    data = load_dataset()
    return dg.MaterializeResult(
        metadata={
            **TrainingDataFacts(data.name, data.fingerprint).to_metadata(),
            "rows": len(data.target),
            "features": len(data.feature_names),
            "classes": dg.MetadataValue.json(list(data.target_names)),
        },
        data_version=dg.DataVersion(data.fingerprint),
    )


@dg.asset(deps=[training_data], group_name=GROUP, code_version="1", kinds={"scikitlearn"})
def trained_model(
    context: dg.AssetExecutionContext, config: TrainingRunConfig
) -> dg.MaterializeResult:
    """A classifier trained and evaluated on the training data, with its model card."""
    data = load_dataset()
    expected = TrainingDataFacts.latest(context.instance).fingerprint
    if data.fingerprint != expected:
        raise dg.Failure(f"the data set is no longer training_data's {expected}: rematerialize it")
    model = train(config.training_config(), data)
    model_dir = store_model(model, settings.load().models_dir)
    card = ModelCard.read(model_dir)
    return dg.MaterializeResult(
        metadata={
            **TrainedModelFacts(
                card.model_name, card.model_version, str(model_dir), card.artifact_sha256
            ).to_metadata(),
            "task": card.task,
            **{name: dg.MetadataValue.float(value) for name, value in card.metrics.items()},
            "model_card": dg.MetadataValue.md(card_markdown(card)),
        },
        data_version=dg.DataVersion(model.version),
    )


def store_model(model: TrainedModel, models_dir: Path) -> Path:
    """<models_dir>/<version>: an intact folder of this very model is kept, else rewritten."""
    model_dir = models_dir / model.version
    try:
        card, _, _ = modelstore.read_model_dir(model_dir)
        if card.model_name == model.config.model_name:
            return model_dir
    except modelstore.ModelStoreError:
        pass
    write_model(model, model_dir)
    return model_dir


def card_markdown(card: ModelCard) -> str:
    """The model card as a short Markdown document for the Dagster UI."""
    lineage = card.raw.get("lineage") or {}
    data = lineage.get("training_data") or {}
    evaluation = card.raw.get("evaluation") or {}
    rows = [
        ("model", f"{card.model_name} `{card.model_version}`"),
        ("task", card.task),
        *((name, f"{value:.4f}") for name, value in card.metrics.items()),
        ("training data", f"{data.get('name')} `{str(data.get('fingerprint'))[:12]}`"),
        (
            "evaluation",
            f"{evaluation.get('rows')} rows `{str(evaluation.get('fingerprint'))[:12]}`",
        ),
        ("config", ", ".join(f"{k}={v}" for k, v in (lineage.get("config") or {}).items())),
        ("libraries", ", ".join(f"{k} {v}" for k, v in card.libraries.items())),
        *(("artifact", f"{a.file} ({a.format}), sha256 `{a.sha256}`") for a in card.artifacts),
        ("features", str(len(card.features))),
        ("classes", ", ".join(card.class_names) or "none (regression)"),
        ("created", str(card.created_at)),
    ]
    lines = ["| field | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return "\n".join(lines)
