"""The MLflow Model Registry as the model store, against the real local tracking server:
what Liveline registers is an MLflow model that MLflow's own client loads; versions a
user logs with pickle are refused with the reason and the fix; an alias picks the version
to run and moving it releases; a duplicate or a lying publication never wins; the
server down fails with its name and loses nothing (during a publish or a poll: in
test_modelstore_stores.py, for every store)."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

import devplatform
from devplatform import mlflow as mlflow_server
from liveline import modelstore
from liveline.modelstore import mlflow_layout, mlflow_rest
from liveline.modelstore.mlflow_registry import MlflowStore
from modelcard import ARTIFACT_FILE
from tests.support.mlflow_kit import MlflowKit

pytestmark = pytest.mark.integration

LOAD_MODEL = """
import json, sys, mlflow, mlflow.sklearn
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.sklearn.load_model(sys.argv[2])
print(json.dumps(model.predict(json.loads(sys.argv[3])).tolist()))
"""


def _mlflow(local_platform, script: str, *args: str) -> str:
    env = {**mlflow_server.quiet_env(local_platform), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(mlflow_server.python(local_platform)), "-c", script, *args],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _versions(kit: MlflowKit) -> list[dict]:
    where = f"name='{kit.models[0]}'"
    return kit.client.get("model-versions/search", filter=where).get("model_versions", [])


def test_a_publication_is_an_mlflow_skops_model_that_mlflow_loads(
    mlflow_kit: MlflowKit, local_platform, model_dir_pristine, card
):
    model = mlflow_kit.store.publish(model_dir_pristine).model
    (v,) = _versions(mlflow_kit)
    tags = {t["key"]: t["value"] for t in v["tags"]}
    assert tags[mlflow_layout.TAG_VERSION] == model.version
    assert tags[mlflow_layout.TAG_ARTIFACT_SHA256] == model.artifact_sha256
    mlmodel = yaml.safe_load(mlflow_kit.file(model, "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "skops"
    golden = card["golden"]
    uri = f"models:/{model.name}/{v['version']}"
    got = _mlflow(
        local_platform, LOAD_MODEL, mlflow_kit.client.url, uri, json.dumps(golden["inputs"])
    )
    assert json.loads(got) == golden["predictions"]


def test_a_version_a_user_logged_with_pickle_is_refused_with_the_fix(
    mlflow_kit: MlflowKit, model_dir_pristine
):
    published = mlflow_kit.store.publish(model_dir_pristine).model
    news = mlflow_kit.store.poll({}, now=0, sweep_every_s=0)
    mlflow_kit.log_model("pickle")
    news = mlflow_kit.store.poll(news.cursor, now=1, sweep_every_s=0)
    assert news.newest is None and news.current == f"{published.name}/{published.version}"
    (why,) = news.rejected.values()
    assert "pickle" in why and 'serialization_format="skops"' in why
    assert mlflow_kit.store.newest_valid()[0] == published  # the pickle is passed over
    assert mlflow_kit.store.poll(news.cursor, now=2, sweep_every_s=0).rejected == {}  # said once


def test_a_skops_version_a_user_logged_gets_a_card_from_its_example_and_run(
    mlflow_kit: MlflowKit, tmp_path
):
    number = mlflow_kit.log_model("skops")
    model = mlflow_kit.store.get(mlflow_kit.models[0], number)
    card = model.card
    assert card["model_version"] == number and card["metrics"]["accuracy"] == 0.95
    assert [f["name"] for f in card["features"]] == ["a", "b"]
    assert card["golden"]["inputs"] == [[18.0, 0.0], [19.0, 1.0], [20.0, 2.0], [21.0, 0.0]]
    assert card["lineage"]["mlflow_run_id"]
    # The same card on every read (nothing is written to the owner's records), and the
    # download is exactly the owner's skops file with that card.
    assert mlflow_kit.store.get(model.name, number) == model
    got = mlflow_kit.store.download(model, tmp_path / "got")
    assert sorted(p.name for p in got.iterdir()) == ["model.skops", "model_card.json"]
    assert (got / "model.skops").read_bytes() == mlflow_kit.file(model, "model.skops").read_bytes()
    assert json.loads((got / "model_card.json").read_text()) == card


@pytest.mark.parametrize(
    ("example", "metrics", "why"),
    [
        (False, {"accuracy": 0.95, "f1": 0.95, "roc_auc": 0.97}, "input_example="),
        (True, {"accuracy": 0.6, "f1": 0.6, "roc_auc": 0.6}, "below the quality gate"),
    ],
)
def test_a_user_version_without_example_or_below_the_gate_is_refused(
    mlflow_kit: MlflowKit, example, metrics, why
):
    mlflow_kit.log_model("skops", example=example, metrics=metrics)
    found = mlflow_kit.store.scan()
    assert found.valid == []
    assert why in " ".join(found.passed_over.values())


def test_the_alias_picks_the_version_and_moving_it_releases(
    mlflow_kit: MlflowKit, model_dir_pristine, other_model_dir
):
    champion = mlflow_kit.aliased("champion")
    first = mlflow_kit.store.publish(model_dir_pristine).model
    second = mlflow_kit.store.publish(other_model_dir).model
    news = champion.poll({}, now=0, sweep_every_s=0)
    assert news.current == "" and news.newest is None  # no alias yet
    name = mlflow_kit.models[0]
    for number, expected in (("1", first), ("2", second), ("1", first)):
        mlflow_kit.client.post(
            "registered-models/alias", name=name, alias="champion", version=number
        )
        news = champion.poll(news.cursor, now=1, sweep_every_s=0)
        assert news.newest == expected and news.current == f"{name}/{expected.version}"
        assert champion.newest_valid()[0] == expected
    assert champion.poll(news.cursor, now=2, sweep_every_s=0).newest is None


def test_of_two_versions_carrying_one_publication_the_older_stands(
    mlflow_kit: MlflowKit, model_dir_pristine
):
    first = mlflow_kit.store.publish(model_dir_pristine).model
    (v,) = _versions(mlflow_kit)
    mlflow_kit.client.post("model-versions/create", name=v["name"], source=v["source"],
                    run_id=v["run_id"], tags=v["tags"])  # fmt: skip
    again = mlflow_kit.store.publish(model_dir_pristine)
    assert not again.uploaded and again.model == first
    assert mlflow_kit.store.get(first.name, first.version) == first


def test_a_tag_that_lies_about_the_card_is_passed_over(mlflow_kit: MlflowKit, model_dir_pristine):
    model = mlflow_kit.store.publish(model_dir_pristine).model
    mlflow_kit.client.post("model-versions/set-tag", name=model.name, version="1",
                    key=mlflow_layout.TAG_CARD_SHA256, value="0" * 64)  # fmt: skip
    with pytest.raises(modelstore.ModelStoreError, match="inconsistent"):
        mlflow_kit.store.get(model.name, model.version)


def test_the_server_down_fails_with_its_name_and_loses_nothing(
    mlflow_kit: MlflowKit, local_platform, model_dir_pristine, other_model_dir
):
    first = mlflow_kit.store.publish(model_dir_pristine).model
    news = mlflow_kit.store.poll({}, now=0, sweep_every_s=0)
    devplatform.down(local_platform, ["mlflow"])
    try:
        down = MlflowStore(mlflow_rest.Client(mlflow_kit.client.url, attempts=2), mlflow_kit.models)
        with pytest.raises(modelstore.SERVICE_ERRORS, match=mlflow_kit.client.url):
            down.publish(other_model_dir)
        with pytest.raises(modelstore.SERVICE_ERRORS, match=mlflow_kit.client.url):
            down.poll(news.cursor, now=1, sweep_every_s=0)
    finally:
        devplatform.control.up_mlflow(local_platform)
    assert mlflow_kit.store.newest_valid()[0] == first  # nothing half-written
    newer = mlflow_kit.store.publish(other_model_dir).model
    assert mlflow_kit.store.poll(news.cursor, now=2, sweep_every_s=0).newest == newer
    assert mlflow_kit.store.get(first.name, first.version).artifact_sha256 == first.artifact_sha256
    assert (mlflow_kit.file(first, ARTIFACT_FILE)).is_file()
