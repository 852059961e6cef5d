"""The model store's contract, against each store's real local server (Azurite for Azure
Blob Storage, SeaweedFS for S3): publish, republish, list since a cursor, partial and
tampered uploads, a version that already exists, the store down."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

import devplatform
from liveline import modelstore
from liveline.modelstore import watch
from liveline.modelstore.base import ObjectExists
from liveline.modelstore.objects import NewObject, listing
from liveline.project import Gates
from liveline_cli import publish
from modelcard import sha256
from tests.support import models
from tests.support.stores import Kit

pytestmark = pytest.mark.integration


def _card(model_dir: Path) -> dict:
    return json.loads((model_dir / "model_card.json").read_text())


def _name(model_dir: Path, file: str) -> str:
    card = _card(model_dir)
    return f"{card['model_name']}/{card['model_version']}/{file}"


def test_publish_writes_artifact_and_card_with_hashes_into_a_private_store(
    store: Kit, model_dir_pristine, card
):
    done = modelstore.publish(store.bucket, model_dir_pristine)
    assert done.uploaded
    prefix = f"{card['model_name']}/{card['model_version']}"
    blobs = {b.name: store.bucket.head(b.name) for b in listing(store.bucket)}
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
    assert store.is_private()
    assert done.model.card_url == f"{store.bucket.url}/{prefix}/model_card.json"
    assert modelstore.scan(store.bucket).valid == [done.model]


def test_republishing_a_version_keeps_the_published_objects(
    store: Kit, model_dir_pristine, tmp_path
):
    first = modelstore.publish(store.bucket, model_dir_pristine).model
    # The same model trained and serialized again (as another process would) has the same
    # version and other skops bytes.
    models.write(models.train(), tmp_path / "again")
    assert _card(tmp_path / "again")["artifacts"][0]["sha256"] != first.artifact_sha256
    done = modelstore.publish(store.bucket, tmp_path / "again")
    assert not done.uploaded
    assert done.model == first
    assert store.bucket.head(_name(model_dir_pristine, "model.skops")).etag == first.artifact_etag


def test_republishing_over_inconsistent_objects_is_an_error(store: Kit, model_dir_pristine):
    modelstore.publish(store.bucket, model_dir_pristine)
    artifact = _name(model_dir_pristine, "model.skops")
    store.raw_put(artifact, b"not the model", store.bucket.head(artifact).metadata or {})
    with pytest.raises(modelstore.ModelStoreError, match=r"inconsistent.*never overwritten"):
        modelstore.publish(store.bucket, model_dir_pristine)
    assert store.raw_get(artifact) == b"not the model"  # left for investigation


def test_a_version_that_exists_is_never_overwritten_even_racing(store: Kit, model_dir_pristine):
    """Create-only writes are conditional on the server: of two writers of one new name
    exactly one wins, and the loser's bytes never land."""
    store.bucket.ensure()
    name = _name(model_dir_pristine, "model_card.json")
    store.bucket.put(NewObject(name, b"first", {"sha256": sha256(b"first")}, "application/json"))
    with pytest.raises(ObjectExists):
        store.bucket.put(
            NewObject(name, b"second", {"sha256": sha256(b"second")}, "application/json")
        )
    assert store.raw_get(name) == b"first"


def test_a_partial_upload_is_ignored_and_completed_by_the_next_publish(
    store: Kit, model_dir_pristine, other_model_dir
):
    modelstore.publish(store.bucket, model_dir_pristine)
    # An interrupted publish of the newer model: its artifact without a card.
    artifact = (other_model_dir / "model.skops").read_bytes()
    sha = _card(other_model_dir)["artifacts"][0]["sha256"]
    store.raw_put(_name(other_model_dir, "model.skops"), artifact, {"sha256": sha})
    found = modelstore.scan(store.bucket)
    assert [m.version for m in found.valid] == [_card(model_dir_pristine)["model_version"]]
    (reason,) = found.passed_over.values()
    assert reason.startswith("incomplete")
    assert modelstore.publish(store.bucket, other_model_dir).uploaded
    newest = modelstore.newest_valid(store.bucket)[0]
    assert newest.version == _card(other_model_dir)["model_version"]


def test_a_young_foreign_partial_upload_is_left_alone_a_stale_one_replaced(
    store: Kit, model_dir_pristine
):
    store.bucket.ensure()
    foreign = _name(model_dir_pristine, "model.skops")
    store.raw_put(foreign, b"someone else's bytes", {"sha256": "0" * 64})
    with pytest.raises(modelstore.ModelStoreError, match="in progress"):
        modelstore.publish(store.bucket, model_dir_pristine)
    assert not modelstore.scan(store.bucket).valid
    done = modelstore.publish(store.bucket, model_dir_pristine, stale_after=timedelta(0))
    assert done.uploaded
    assert store.raw_get(foreign) == (model_dir_pristine / "model.skops").read_bytes()


def test_newest_valid_is_the_last_published(store: Kit, model_dir_pristine, other_model_dir):
    modelstore.publish(store.bucket, other_model_dir)
    modelstore.publish(store.bucket, model_dir_pristine)
    newest, passed_over = modelstore.newest_valid(store.bucket)
    assert newest.version == _card(model_dir_pristine)["model_version"]
    assert passed_over == {}
    versions = [m.version for m in modelstore.scan(store.bucket).valid]
    assert versions == [_card(d)["model_version"] for d in (model_dir_pristine, other_model_dir)]


def test_the_watch_lists_what_is_new_since_its_cursor(
    store: Kit, model_dir_pristine, other_model_dir
):
    """What the release sensor asks each tick: the first poll adopts what is there, a
    later one names a version published since, and the next one nothing."""
    modelstore.publish(store.bucket, other_model_dir)
    cursor, now = watch.ModelCursor(), 1000.0
    found = watch.poll(store.bucket, cursor, now, sweep_every_s=300)
    assert found.newest is None and found.swept  # the baseline: adopted, not announced
    assert (
        found.cursor.newest
        == f"{_card(other_model_dir)['model_name']}/" + _card(other_model_dir)["model_version"]
    )
    modelstore.publish(store.bucket, model_dir_pristine)
    found = watch.poll(store.bucket, found.cursor, now + 4, sweep_every_s=300)
    assert found.newest is not None and not found.swept  # through the journal alone
    assert found.newest.version == _card(model_dir_pristine)["model_version"]
    again = watch.poll(store.bucket, found.cursor, now + 8, sweep_every_s=300)
    assert again.newest is None and again.rejected == {}


def _flip_a_byte(store: Kit, name: str) -> None:
    """Rewrite the object with one bit flipped, keeping its metadata (the claimed sha256)."""
    data = bytearray(store.raw_get(name))
    data[len(data) // 2] ^= 0x01
    store.raw_put(name, bytes(data), store.bucket.head(name).metadata or {})


def test_download_verifies_and_refuses_a_flipped_byte(store: Kit, model_dir_pristine, tmp_path):
    published = modelstore.publish(store.bucket, model_dir_pristine).model
    out = modelstore.download(store.bucket, published, tmp_path / "ok")
    assert (out / "model.skops").read_bytes() == (model_dir_pristine / "model.skops").read_bytes()

    # The tamperer keeps the metadata, so listing still believes the claimed sha256 ...
    _flip_a_byte(store, _name(model_dir_pristine, "model.skops"))
    newest, _ = modelstore.newest_valid(store.bucket)
    # ... but the download hashes the bytes: refused, and nothing is written.
    with pytest.raises(modelstore.ModelStoreError, match="changed or vanished"):
        modelstore.download(store.bucket, published, tmp_path / "stale")
    with pytest.raises(modelstore.ModelStoreError, match=r"sha256 .* does not match|tampered"):
        modelstore.download(store.bucket, newest, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_download_refuses_a_tampered_or_missing_graph(store: Kit, model_dir_pristine, tmp_path):
    published = modelstore.publish(store.bucket, model_dir_pristine).model
    out = modelstore.download(store.bucket, published, tmp_path / "ok")
    assert (out / "model.onnx").read_bytes() == (model_dir_pristine / "model.onnx").read_bytes()
    graph = _name(model_dir_pristine, "model.onnx")
    _flip_a_byte(store, graph)
    with pytest.raises(modelstore.ModelStoreError, match=r"model.onnx sha256 \w+ does not match"):
        modelstore.download(store.bucket, published, tmp_path / "bad")
    store.raw_delete(graph)
    with pytest.raises(modelstore.ModelStoreError, match="changed or vanished"):
        modelstore.download(store.bucket, published, tmp_path / "gone")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "gone").exists()


def test_metadata_that_lies_about_the_hash_is_passed_over(
    store: Kit, model_dir_pristine, other_model_dir
):
    modelstore.publish(store.bucket, other_model_dir)
    modelstore.publish(store.bucket, model_dir_pristine)
    forged = b"forged model"
    store.raw_put(_name(model_dir_pristine, "model.skops"), forged, {"sha256": sha256(forged)})
    newest, passed_over = modelstore.newest_valid(store.bucket)
    assert newest.version == _card(other_model_dir)["model_version"]
    (reason,) = passed_over.values()
    assert "metadata sha256" in reason and "is not the card's" in reason


def test_a_store_with_nothing_valid_is_an_error(store: Kit, model_dir_pristine):
    with pytest.raises(modelstore.ModelStoreError, match="no models store"):
        modelstore.newest_valid(store.bucket)
    store.bucket.ensure()
    store.raw_put(_name(model_dir_pristine, "model.skops"), b"x", {"sha256": "0"})
    with pytest.raises(modelstore.ModelStoreError, match=r"(?s)no valid published.*incomplete"):
        modelstore.newest_valid(store.bucket)


def test_a_model_below_the_gate_is_not_published(store: Kit, model_dir_pristine):
    with pytest.raises(modelstore.ModelStoreError, match="below the quality gate: accuracy"):
        modelstore.publish(store.bucket, model_dir_pristine, Gates(override={"accuracy": 0.999}))
    assert not store.exists()


def test_a_public_store_is_refused(store: Kit, model_dir_pristine):
    store.create_public()
    with pytest.raises(modelstore.ModelStoreError, match=r"public|to everyone"):
        modelstore.publish(store.bucket, model_dir_pristine)
    assert list(listing(store.bucket)) == []


def test_a_local_folder_whose_files_disagree_is_not_published(store: Kit, model_dir):
    (model_dir / "model.skops").write_bytes(b"edited after training")
    with pytest.raises(modelstore.ModelStoreError, match=r"refusing to publish.*sha256"):
        modelstore.publish(store.bucket, model_dir)
    assert not store.exists()


def test_the_store_down_fails_a_publish_with_its_error_and_loses_nothing(
    store: Kit, local_platform, model_dir_pristine, other_model_dir
):
    first = modelstore.publish(store.bucket, other_model_dir).model
    devplatform.down(local_platform, [store.component])
    try:
        with pytest.raises(modelstore.SERVICE_ERRORS):
            modelstore.publish(store.bucket, model_dir_pristine)
    finally:
        devplatform.up(local_platform)
        if store.kind == "s3":
            devplatform.control.up_s3(local_platform)
    assert modelstore.newest_valid(store.bucket)[0] == first
    assert modelstore.publish(store.bucket, model_dir_pristine).uploaded


def test_the_publish_command(store: Kit, monkeypatch, model_dir_pristine, card, capsys, caplog):
    caplog.set_level(logging.INFO, logger="liveline_cli")
    caplog.set_level(logging.INFO, logger="liveline")
    args = ["--container", store.name]
    if store.kind == "s3":  # chosen by the settings alone, as a team on S3 would
        monkeypatch.setenv("LIVELINE_MODEL_STORE", "s3")
        monkeypatch.setenv("LIVELINE_MODELS_BUCKET", store.name)
        args = []
    assert publish.main(["--model-dir", str(model_dir_pristine), *args]) == 0
    assert publish.main(["--model-dir", str(model_dir_pristine), *args]) == 0
    assert "already published, kept" in caplog.text
    assert publish.main(["--list", *args]) == 0
    assert card["model_version"] in capsys.readouterr().out
    assert [m.version for m in modelstore.scan(store.bucket).valid] == [card["model_version"]]
    strict = ["--gate", "accuracy=0.999"]
    assert publish.main(["--model-dir", str(model_dir_pristine), *args, *strict]) == 1
    assert "below the quality gate" in caplog.text
