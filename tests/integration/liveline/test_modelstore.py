"""The model store against the real Azurite: publish, republish, partial and tampered blobs."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from liveline import modelstore
from liveline.project import Gates
from liveline_cli import publish
from model_training import TrainingConfig, train
from model_training.artifact import write_model
from modelcard import sha256

pytestmark = pytest.mark.integration


@pytest.fixture
def container(blob_service: BlobServiceClient) -> Iterator[ContainerClient]:
    """A container name of its own per test (created by the code under test), then deleted."""
    client = blob_service.get_container_client(f"test-models-{uuid.uuid4().hex[:12]}")
    yield client
    if client.exists():
        client.delete_container()


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory, dataset) -> Path:
    """Another version of the model (another C), published after the default one."""
    out = tmp_path_factory.mktemp("other")
    write_model(train(TrainingConfig(C=0.5), dataset), out)
    return out


def _card(model_dir: Path) -> dict:
    return json.loads((model_dir / "model_card.json").read_text())


def _blob(container: ContainerClient, model_dir: Path, file: str):
    card = _card(model_dir)
    return container.get_blob_client(f"{card['model_name']}/{card['model_version']}/{file}")


def test_publish_writes_artifact_and_card_with_hashes_into_a_private_container(
    container, model_dir_pristine, card
):
    done = modelstore.publish(container, model_dir_pristine)
    assert done.uploaded
    prefix = f"{card['model_name']}/{card['model_version']}"
    blobs = {b.name: b for b in container.list_blobs(include=["metadata"])}
    # After the card, one journal entry names the version (the release sensor reads it).
    journal = {n for n in blobs if n.startswith("_journal/")}
    assert [n.endswith(f"/{prefix}") for n in journal] == [True]
    assert blobs[journal.pop()].last_modified >= blobs[f"{prefix}/model_card.json"].last_modified
    assert set(blobs) - {n for n in blobs if n.startswith("_journal/")} == {
        f"{prefix}/model.onnx",
        f"{prefix}/model.skops",
        f"{prefix}/model_card.json",
    }
    graph = blobs[f"{prefix}/model.onnx"]
    assert graph.metadata["sha256"] == card["artifacts"][1]["sha256"]
    artifact, card_blob = blobs[f"{prefix}/model.skops"], blobs[f"{prefix}/model_card.json"]
    assert (
        artifact.metadata["sha256"] == card["artifacts"][0]["sha256"] == done.model.artifact_sha256
    )
    assert card_blob.metadata["sha256"] == done.model.card_sha256
    assert card_blob.metadata["artifact_sha256"] == card["artifacts"][0]["sha256"]
    # The graph, then the skops artifact, then the card.
    assert card_blob.last_modified >= artifact.last_modified >= graph.last_modified
    assert container.get_container_properties().public_access is None
    assert done.model.card_url == f"{container.url}/{prefix}/model_card.json"
    assert modelstore.scan(container).valid == [done.model]


def test_republishing_a_version_keeps_the_published_blobs(
    container, model_dir_pristine, trained, tmp_path
):
    first = modelstore.publish(container, model_dir_pristine).model
    # The same model serialized again (as another process would) has other skops bytes.
    again = dataclasses.replace(trained, pipeline=copy.deepcopy(trained.pipeline))
    write_model(again, tmp_path / "again")
    assert _card(tmp_path / "again")["artifacts"][0]["sha256"] != first.artifact_sha256
    done = modelstore.publish(container, tmp_path / "again")
    assert not done.uploaded
    assert done.model == first
    etag = _blob(container, model_dir_pristine, "model.skops").get_blob_properties().etag
    assert etag.strip('"') == first.artifact_etag


def test_republishing_over_inconsistent_blobs_is_an_error(container, model_dir_pristine):
    modelstore.publish(container, model_dir_pristine)
    artifact = _blob(container, model_dir_pristine, "model.skops")
    metadata = artifact.get_blob_properties().metadata
    artifact.upload_blob(b"not the model", overwrite=True, metadata=metadata)
    with pytest.raises(modelstore.ModelStoreError, match=r"inconsistent.*never overwritten"):
        modelstore.publish(container, model_dir_pristine)
    assert artifact.download_blob().readall() == b"not the model"  # left for investigation


def test_a_partial_upload_is_ignored_and_completed_by_the_next_publish(
    container, model_dir_pristine, other_model_dir
):
    modelstore.publish(container, model_dir_pristine)
    # An interrupted publish of the newer model: its artifact without a card.
    artifact = (other_model_dir / "model.skops").read_bytes()
    sha = _card(other_model_dir)["artifacts"][0]["sha256"]
    _blob(container, other_model_dir, "model.skops").upload_blob(artifact, metadata={"sha256": sha})
    found = modelstore.scan(container)
    assert [m.version for m in found.valid] == [_card(model_dir_pristine)["model_version"]]
    (reason,) = found.passed_over.values()
    assert reason.startswith("incomplete")
    assert modelstore.publish(container, other_model_dir).uploaded
    assert modelstore.newest_valid(container)[0].version == _card(other_model_dir)["model_version"]


def test_a_young_foreign_partial_upload_is_left_alone_a_stale_one_replaced(
    container, model_dir_pristine
):
    modelstore.ensure_container(container)
    foreign = _blob(container, model_dir_pristine, "model.skops")
    foreign.upload_blob(b"someone else's bytes", metadata={"sha256": "0" * 64})
    with pytest.raises(modelstore.ModelStoreError, match="in progress"):
        modelstore.publish(container, model_dir_pristine)
    assert not modelstore.scan(container).valid
    done = modelstore.publish(container, model_dir_pristine, stale_after=timedelta(0))
    assert done.uploaded
    assert foreign.download_blob().readall() == (model_dir_pristine / "model.skops").read_bytes()


def test_newest_valid_is_the_last_published(container, model_dir_pristine, other_model_dir):
    modelstore.publish(container, other_model_dir)
    modelstore.publish(container, model_dir_pristine)
    newest, passed_over = modelstore.newest_valid(container)
    assert newest.version == _card(model_dir_pristine)["model_version"]
    assert passed_over == {}
    versions = [m.version for m in modelstore.scan(container).valid]
    assert versions == [_card(d)["model_version"] for d in (model_dir_pristine, other_model_dir)]


def _flip_a_byte(blob) -> None:
    """Rewrite the blob with one bit flipped, keeping its metadata (the claimed sha256)."""
    data = bytearray(blob.download_blob().readall())
    data[len(data) // 2] ^= 0x01
    blob.upload_blob(bytes(data), overwrite=True, metadata=blob.get_blob_properties().metadata)


def test_download_verifies_and_refuses_a_flipped_byte(container, model_dir_pristine, tmp_path):
    published = modelstore.publish(container, model_dir_pristine).model
    out = modelstore.download(container, published, tmp_path / "ok")
    assert (out / "model.skops").read_bytes() == (model_dir_pristine / "model.skops").read_bytes()

    # The tamperer keeps the metadata, so listing still believes the claimed sha256 ...
    _flip_a_byte(_blob(container, model_dir_pristine, "model.skops"))
    newest, _ = modelstore.newest_valid(container)
    # ... but the download hashes the bytes: refused, and nothing is written.
    with pytest.raises(modelstore.ModelStoreError, match="changed or vanished"):
        modelstore.download(container, published, tmp_path / "stale")
    with pytest.raises(modelstore.ModelStoreError, match=r"sha256 .* does not match|tampered"):
        modelstore.download(container, newest, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_download_refuses_a_tampered_or_missing_graph(container, model_dir_pristine, tmp_path):
    published = modelstore.publish(container, model_dir_pristine).model
    out = modelstore.download(container, published, tmp_path / "ok")
    assert (out / "model.onnx").read_bytes() == (model_dir_pristine / "model.onnx").read_bytes()
    graph = _blob(container, model_dir_pristine, "model.onnx")
    _flip_a_byte(graph)
    with pytest.raises(modelstore.ModelStoreError, match=r"model.onnx sha256 \w+ does not match"):
        modelstore.download(container, published, tmp_path / "bad")
    graph.delete_blob()
    with pytest.raises(modelstore.ModelStoreError, match="changed or vanished"):
        modelstore.download(container, published, tmp_path / "gone")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "gone").exists()


def test_metadata_that_lies_about_the_hash_is_passed_over(
    container, model_dir_pristine, other_model_dir
):
    modelstore.publish(container, other_model_dir)
    modelstore.publish(container, model_dir_pristine)
    forged = b"forged model"
    artifact = _blob(container, model_dir_pristine, "model.skops")
    artifact.upload_blob(forged, overwrite=True, metadata={"sha256": sha256(forged)})
    newest, passed_over = modelstore.newest_valid(container)
    assert newest.version == _card(other_model_dir)["model_version"]
    (reason,) = passed_over.values()
    assert "metadata sha256" in reason and "is not the card's" in reason


def test_a_container_with_nothing_valid_is_an_error(container, model_dir_pristine):
    with pytest.raises(modelstore.ModelStoreError, match="no models container"):
        modelstore.newest_valid(container)
    modelstore.ensure_container(container)
    _blob(container, model_dir_pristine, "model.skops").upload_blob(b"x", metadata={"sha256": "0"})
    with pytest.raises(modelstore.ModelStoreError, match=r"(?s)no valid published.*incomplete"):
        modelstore.newest_valid(container)


def test_a_model_below_the_gate_is_not_published(container, model_dir_pristine):
    with pytest.raises(modelstore.ModelStoreError, match="below the quality gate: accuracy"):
        modelstore.publish(container, model_dir_pristine, Gates(override={"accuracy": 0.999}))
    assert not container.exists()


def test_a_public_container_is_refused(container, model_dir_pristine):
    container.create_container(public_access="blob")
    with pytest.raises(modelstore.ModelStoreError, match="public 'blob' access"):
        modelstore.publish(container, model_dir_pristine)
    assert list(container.list_blobs()) == []


def test_a_local_folder_whose_files_disagree_is_not_published(container, model_dir):
    (model_dir / "model.skops").write_bytes(b"edited after training")
    with pytest.raises(modelstore.ModelStoreError, match=r"refusing to publish.*sha256"):
        modelstore.publish(container, model_dir)
    assert not container.exists()


def test_the_publish_command(container, model_dir_pristine, card, capsys, caplog):
    caplog.set_level(logging.INFO, logger="liveline_cli")
    caplog.set_level(logging.INFO, logger="liveline")
    args = ["--container", container.container_name]
    assert publish.main(["--model-dir", str(model_dir_pristine), *args]) == 0
    assert publish.main(["--model-dir", str(model_dir_pristine), *args]) == 0
    assert "already published, kept" in caplog.text
    assert publish.main(["--list", *args]) == 0
    assert card["model_version"] in capsys.readouterr().out
    strict = ["--gate", "accuracy=0.999"]
    assert publish.main(["--model-dir", str(model_dir_pristine), *args, *strict]) == 1
    assert "below the quality gate" in caplog.text
