"""The ModelStore interface's contract, the same cases against each of the three stores'
real local servers (Azurite, SeaweedFS, MLflow): publish and read back verified, keep
what is published, pick the newest, poll what is new since a cursor, refuse a tampered
artifact, refuse a model below its gate, lose nothing when the store stops during a
publish or a poll. Each store's own layout has its own file
(test_modelstore_contract.py for containers and buckets, test_modelstore_mlflow.py)."""

from __future__ import annotations

import json

import pytest

from liveline import modelstore
from liveline.project import Gates
from modelcard import ARTIFACT_FILE, CARD_FILE, sha256
from tests.support.stores import StoreKit

pytestmark = pytest.mark.integration


def test_a_published_version_reads_back_verified_and_is_kept(
    model_store: StoreKit, model_dir_pristine, card
):
    done = model_store.store.publish(model_dir_pristine)
    assert done.uploaded
    model = done.model
    assert (model.name, model.version) == (card["model_name"], card["model_version"])
    assert model.artifact_sha256 == sha256((model_dir_pristine / ARTIFACT_FILE).read_bytes())
    assert model.card_sha256 == sha256((model_dir_pristine / CARD_FILE).read_bytes())
    assert model_store.store.get(model.name, model.version) == model
    assert model_store.store.scan().valid == [model]
    again = model_store.store.publish(model_dir_pristine)
    assert not again.uploaded and again.model == model  # nothing written twice
    assert model_store.store.card_of(model.version).model_version == model.version


def test_the_newest_valid_version_is_the_last_published(
    model_store: StoreKit, model_dir_pristine, other_model_dir
):
    model_store.store.publish(model_dir_pristine)
    newer = model_store.store.publish(other_model_dir).model
    newest, passed_over = model_store.store.newest_valid()
    assert newest == newer and passed_over == {}
    assert model_store.store.scan().valid[0].version == newer.version


def test_a_poll_adopts_what_is_there_then_reports_only_what_is_new(
    model_store: StoreKit, model_dir_pristine, other_model_dir
):
    first = model_store.store.publish(model_dir_pristine).model
    news = model_store.store.poll({}, now=1000.0, sweep_every_s=0)
    assert news.newest is None  # the baseline: adopted, not announced
    assert news.current == f"{first.name}/{first.version}"
    newer = model_store.store.publish(other_model_dir).model
    # The cursor survives a JSON round trip, as the sensor stores it.
    cursor = json.loads(json.dumps(news.cursor))
    news = model_store.store.poll(cursor, now=1001.0, sweep_every_s=3600)
    assert news.newest == newer and news.current == f"{newer.name}/{newer.version}"
    again = model_store.store.poll(news.cursor, now=1002.0, sweep_every_s=3600)
    assert again.newest is None and again.rejected == {} and again.current == news.current


def test_a_flipped_artifact_byte_is_refused_at_download(
    model_store: StoreKit, model_dir_pristine, tmp_path
):
    model = model_store.store.publish(model_dir_pristine).model
    data = bytearray((model_dir_pristine / ARTIFACT_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01
    model_store.overwrite(model, ARTIFACT_FILE, bytes(data))
    with pytest.raises(modelstore.ModelStoreError, match=r"tampered|changed"):
        model_store.store.download(model, tmp_path / "got")
    with pytest.raises(modelstore.ModelStoreError):
        model_store.store.get(model.name, model.version)
    assert not (tmp_path / "got" / ARTIFACT_FILE).exists()


def test_a_verified_download_holds_every_artifact_of_the_card(
    model_store: StoreKit, model_dir_pristine, card, tmp_path
):
    model = model_store.store.publish(model_dir_pristine).model
    got = model_store.store.download(model, tmp_path / "got")
    files = {a["file"] for a in card["artifacts"]} | {CARD_FILE}
    assert {p.name for p in got.iterdir()} == files
    for file in files:
        assert (got / file).read_bytes() == (model_dir_pristine / file).read_bytes()


def test_a_model_below_its_gate_is_not_published(model_store: StoreKit, model_dir_pristine):
    with pytest.raises(modelstore.ModelStoreError, match="below the quality gate"):
        model_store.store.publish(model_dir_pristine, Gates(override={"accuracy": 0.999}))
    with pytest.raises(modelstore.ModelStoreError):
        model_store.store.newest_valid()


def test_the_store_down_during_a_publish_leaves_nothing_half_published(
    model_store: StoreKit, local_platform, model_dir_pristine, monkeypatch
):
    model_store.stop_during_publish(monkeypatch, local_platform)
    try:
        with pytest.raises(modelstore.SERVICE_ERRORS):
            model_store.store.publish(model_dir_pristine)
    finally:
        model_store.restart(local_platform)
    assert model_store.store.scan().valid == []  # files without their card or version
    done = model_store.store.publish(model_dir_pristine)
    assert done.uploaded and model_store.store.scan().valid == [done.model]


def test_the_store_down_during_a_poll_loses_no_news(
    model_store: StoreKit, local_platform, model_dir_pristine, other_model_dir, monkeypatch
):
    model_store.store.publish(model_dir_pristine)
    news = model_store.store.poll({}, now=1000.0, sweep_every_s=3600)
    newer = model_store.store.publish(other_model_dir).model
    model_store.stop_during_poll(monkeypatch, local_platform)
    try:
        with pytest.raises(modelstore.SERVICE_ERRORS):
            model_store.store.poll(news.cursor, now=1001.0, sweep_every_s=3600)
    finally:
        model_store.restart(local_platform)
    # A failed poll returns no cursor: the next one, from the same, reports the news.
    assert model_store.store.poll(news.cursor, now=1002.0, sweep_every_s=3600).newest == newer
