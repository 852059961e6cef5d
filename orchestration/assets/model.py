"""Stage "model": the training data snapshot and the model trained on it."""

# No `from __future__ import annotations`: Dagster reads the config and resource
# parameter annotations at definition time.

from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from liveline import project, settings
from model_training.refused import Refused
from modelcard import CardError, ModelCard, verify_artifact, write_model_dir
from orchestration.facts import TrainedModelFacts, TrainingDataFacts

if TYPE_CHECKING:
    from model_training.describe import Described

# The training stack (pandas, scikit-learn, skops: 3-5 s to import on 2 cores) is
# imported by these assets when they run, not with the module: every run worker loads the
# whole code location before its first step, and a release never trains.

GROUP = "model"


class TrainingRunConfig(dg.Config):
    """Run-time overrides of the project's [tool.liveline.training] (empty: as declared)."""

    model_name: str | None = None
    random_state: int | None = None
    test_size: float | None = Field(default=None, description="held-out share")
    golden_rows: int | None = Field(default=None, description="smoke-test rows")
    params: dict[str, Any] = Field(default={}, description="merged over the declared params")


@dg.asset(group_name=GROUP, code_version="2", kinds={"python"})
def training_data() -> dg.MaterializeResult:
    """The project's training table, versioned by a fingerprint of its content."""
    from liveline import training
    from model_training.recipe import table_summary

    table, source = training.load_table(project.from_settings(settings.load()), settings.load())
    summary = table_summary(table)
    return dg.MaterializeResult(
        metadata={
            **TrainingDataFacts(source, summary["fingerprint"]).to_metadata(),
            "rows": summary["rows"],
            "columns": dg.MetadataValue.json(summary["columns"]),
        },
        data_version=dg.DataVersion(summary["fingerprint"]),
    )


@dg.asset(deps=[training_data], group_name=GROUP, code_version="2", kinds={"scikitlearn"})
def trained_model(
    context: dg.AssetExecutionContext, config: TrainingRunConfig
) -> dg.MaterializeResult:
    """The project's estimator trained on the training data and described by its card."""
    from liveline import training

    s = settings.load()
    declared = project.from_settings(s)
    try:
        recipe = training.recipe(
            declared,
            model_name=config.model_name,
            random_state=config.random_state,
            test_size=config.test_size,
            golden_rows=config.golden_rows,
            params=config.params or None,
        )
    except ValueError as e:
        raise dg.Failure(f"invalid training config: {e}") from e  # fmt: skip
    expected = TrainingDataFacts.latest(context.instance).fingerprint
    try:
        trained = training.train(
            declared, s, recipe, expected_fingerprint=expected, run_id=context.run.run_id
        )
    except Refused as e:
        raise dg.Failure(str(e)) from e
    described = trained.described
    model_dir = store_model(described, s.models_dir)
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
        data_version=dg.DataVersion(card.model_version),
    )


def store_model(described: "Described", models_dir: Path) -> Path:
    """<models_dir>/<version>: an intact folder of this very model is kept, else rewritten."""
    model_dir = models_dir / described.version
    try:
        card = ModelCard.read(model_dir)
        verify_artifact(card, (model_dir / card.artifact_file).read_bytes())
        if card.model_name == described.card["model_name"]:
            return model_dir
    except (OSError, CardError):
        pass
    write_model_dir(model_dir, described.artifacts, described.card)
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
