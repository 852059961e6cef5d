"""Blocking asset checks: a model below the quality gate never reaches blob storage, and
an image that fails its smoke test is never pushed."""

from pathlib import Path

from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check

from liveline import project, settings
from liveline.constants import QUALITY_GATE_CHECK, SMOKE_CHECK
from liveline.images import smoke
from modelcard import ModelCard, shortfalls
from orchestration.assets.image import serving_image
from orchestration.assets.model import trained_model
from orchestration.facts import ImageFacts, TrainedModelFacts
from orchestration.faults import RETRY, classified
from orchestration.resources.blob_store import BlobStoreResource
from orchestration.resources.image_builder import ImageBuilderResource


@asset_check(asset=trained_model, name=QUALITY_GATE_CHECK, blocking=True)
def trained_model_quality_gate(context: AssetCheckExecutionContext) -> AssetCheckResult:
    """Held-out metrics reach the model's quality gate (the project's gates)."""
    facts = TrainedModelFacts.latest(context.instance)
    card = ModelCard.read(Path(facts.path))
    gate = project.from_settings(settings.load()).gates.for_model(card.model_name, card.task)
    problems = shortfalls(card.metrics, gate)
    return AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or "every metric passes its threshold",
        metadata={
            "model_version": facts.model_version,
            "task": card.task,
            **{f"gate_{name}": MetadataValue.float(value) for name, value in gate.items()},
        },
    )


@asset_check(asset=serving_image, name=SMOKE_CHECK, blocking=True, retry_policy=RETRY)
@classified
def serving_image_smoke_test(
    context: AssetCheckExecutionContext,
    image_builder: ImageBuilderResource,
    blob_store: BlobStoreResource,
) -> AssetCheckResult:
    """The container starts hardened, names its commit and model, and scores the golden set."""
    facts = ImageFacts.latest(context.instance)
    with blob_store.models() as store:
        model = store.get(facts.model_name, facts.model_version)
    metadata = {"image_id": facts.image_id, "model_version": model.version}
    if model.card_etag != facts.model_card_etag:
        return AssetCheckResult(
            passed=False, metadata=metadata, description="the model card changed since the build"
        )
    with image_builder.client() as client:
        try:
            # By image id: the tag may have moved since the build.
            name = f"liveline-smoke-{context.run.run_id[:12]}"
            with smoke.running(client, facts.image_id, name=name) as base:
                version = smoke.smoke_test(base, model.card, facts.revision)
        except smoke.SmokeTestError as e:
            context.log.error("%s", e)
            return AssetCheckResult(passed=False, metadata=metadata, description=str(e)[:1000])
    return AssetCheckResult(
        passed=True, metadata={**metadata, "version": MetadataValue.json(version)}
    )
