"""Stage "model", continued: the trained model published to Azure Blob Storage."""

from pathlib import Path

from dagster import AssetExecutionContext, DataVersion, MaterializeResult, asset

from liveline import project, settings
from orchestration.assets.model import GROUP, trained_model
from orchestration.facts import PublishedModelFacts, TrainedModelFacts
from orchestration.faults import RETRY, classified
from orchestration.resources.blob_store import BlobStoreResource


@asset(
    deps=[trained_model], group_name=GROUP, code_version="1", kinds={"azure"}, retry_policy=RETRY
)
@classified
def model_blob(context: AssetExecutionContext, blob_store: BlobStoreResource) -> MaterializeResult:
    """The trained model published to blob storage: artifact first, model card last."""
    model_dir = Path(TrainedModelFacts.latest(context.instance).path)
    # The blocking quality check stops a bad model within a run; the gate is applied
    # here again so that materializing model_blob on its own cannot publish one either.
    gates = project.from_settings(settings.load()).gates
    with blob_store.models() as store:
        done = store.publish(model_dir, gates)
    model = done.model
    if not done.uploaded:
        context.log.info("%s %s was already published; kept", model.name, model.version)
    return MaterializeResult(
        metadata=PublishedModelFacts.of(model, newly_published=done.uploaded).to_metadata(),
        data_version=DataVersion(model.version),
    )
