"""The release sensor and published models, against the real Azurite: which versions
count (whole, verified, journaled or found by the sweep) and which are reported.

Each test has its own repository, models container and Dagster instance; ticks are
evaluated as the daemon evaluates them (build_sensor_context + evaluate_tick), each
starting from the cursor the previous tick returned.
"""

from __future__ import annotations

import pytest
from dagster import (
    AssetMaterialization,
    materialize,
)

from liveline import modelstore, settings
from liveline.modelstore import AzureBucket, journal
from orchestration.definitions import ASSETS, CHECKS, resources
from orchestration.sensors.release import ReleaseCursor, model_blob_event
from tests.support.gitrepo import git
from tests.support.release_world import deployed, publish, retrain, tick

pytestmark = pytest.mark.integration


def test_a_partial_upload_is_ignored_until_its_card_lands(world, model_dir_pristine, monkeypatch):
    monkeypatch.setenv("LIVELINE_MODEL_SWEEP_S", "0")  # sweep the container every tick
    tick(world)
    card, _, artifacts = modelstore.read_model_dir(model_dir_pristine)
    prefix = f"{card.model_name}/{card.model_version}"
    AzureBucket(world.container).ensure()
    world.container.upload_blob(
        f"{prefix}/model.skops", artifacts["model.skops"], metadata={"sha256": card.artifact_sha256}
    )
    result = tick(world)
    assert result.run_requests == [] and result.asset_events == []
    model = publish(world, model_dir_pristine, entry=False)  # completes it: the card
    result = tick(world)
    assert [e.tags["dagster/data_version"] for e in result.asset_events] == [model.version]
    assert "waits" not in (result.skip_message or "")
    assert len(result.run_requests) == 1


def test_a_tampered_model_is_passed_over(world, model_dir_pristine, tmp_path):
    publish(world, model_dir_pristine)
    tick(world)
    newer = publish(world, retrain(tmp_path, C=0.5))
    blob = world.container.get_blob_client(f"{newer.name}/{newer.version}/model.skops")
    data = bytearray(blob.download_blob().readall())
    data[len(data) // 2] ^= 0x01
    blob.upload_blob(bytes(data), overwrite=True, metadata=blob.get_blob_properties().metadata)
    result = tick(world)
    assert result.run_requests == [] and result.asset_events == []
    rejected = ReleaseCursor.load(world.cursor).models["rejected"]
    assert list(rejected) == [f"{newer.name}/{newer.version}"]


def test_a_model_published_without_a_journal_entry_is_found_by_the_sweep(
    world, model_dir_pristine, monkeypatch
):
    tick(world)
    model = publish(world, model_dir_pristine, entry=False)
    assert tick(world).asset_events == []  # no journal entry, no sweep due yet
    monkeypatch.setenv("LIVELINE_MODEL_SWEEP_S", "0")  # a sweep is due at once
    result = tick(world)
    assert [e.tags["dagster/data_version"] for e in result.asset_events] == [model.version]
    (request,) = result.run_requests
    assert request.tags["liveline/trigger"] == "model"


def test_a_model_published_by_a_run_is_not_reported_twice_nor_released_if_live(world):
    tick(world)
    result = materialize(
        [*ASSETS, *CHECKS],
        instance=world.instance,
        resources=resources(settings.load()),
        selection=["training_data", "trained_model", "model_blob"],
    )
    recorded = result.asset_materializations_for_node("model_blob")[0]
    facts = {k: v.value for k, v in recorded.metadata.items()}
    model = modelstore.get(
        AzureBucket(world.container), facts["model_name"], facts["model_version"]
    )
    journal.record(AzureBucket(world.container), model)
    head = git(world.repo, "rev-parse", "HEAD")
    world.instance.report_runless_asset_event(
        AssetMaterialization("cluster_deployment", metadata=deployed(head, model.version))
    )
    result = tick(world)
    assert result.asset_events == []  # the run recorded it already
    assert result.run_requests == [] and "is live already" in result.skip_message
    # What the sensor reports for model_blob carries everything the asset records.
    assert set(recorded.metadata) <= set(model_blob_event(model).metadata)


def test_a_model_published_to_each_store_is_reported_and_released(
    world, model_store, monkeypatch, model_dir_pristine, other_model_dir
):
    """With the store chosen by configuration alone, the release sensor adopts what is
    there, then reports a newly published version and requests its release."""
    for key, value in model_store.env().items():
        monkeypatch.setenv(f"LIVELINE_{key}", value)
    model_store.store.publish(model_dir_pristine)
    tick(world)  # the baseline
    newer = model_store.store.publish(other_model_dir).model
    result = tick(world)
    assert [e.tags["dagster/data_version"] for e in result.asset_events] == [newer.version]
    (run,) = result.run_requests
    assert newer.version in (run.run_key or "")
    assert tick(world).asset_events == []
