"""Publishing a model trained anywhere: `liveline.publish_model` and `liveline publish
--estimator`, against the real Azurite. Each refusal names the problem and the fix, and
nothing is uploaded: the container the publish would create does not even exist."""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import runpy
import uuid
from collections.abc import Iterator

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
from azure.storage.blob import ContainerClient
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

import liveline
from liveline import modelstore, settings
from liveline_cli import publish
from model_training import Refused
from modelcard import CARD_FILE, ModelCard

pytestmark = pytest.mark.integration


class Doubler(TransformerMixin, BaseEstimator):
    """A user's own transformer: skops does not know it, so loading it would run code."""

    def fit(self, x, y=None):
        self.n_features_in_ = np.asarray(x).shape[1]
        return self

    def transform(self, x):
        return np.asarray(x) * 2


@pytest.fixture
def store(blob_service, local_platform) -> Iterator[tuple[settings.Settings, ContainerClient]]:
    name = f"test-publish-{uuid.uuid4().hex[:12]}"
    s = dataclasses.replace(local_platform.settings, models_container=name)
    container = blob_service.get_container_client(name)
    yield s, container
    if container.exists():
        container.delete_container()


@pytest.fixture(scope="module")
def iris():
    frame = load_iris(as_frame=True)
    x, y = frame.data, frame.target.map(dict(enumerate(frame.target_names)))
    x_train, x_eval, y_train, y_eval = train_test_split(x, y, random_state=0, stratify=y)
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(x_train, y_train)
    return model, x_eval, y_eval


def test_a_multiclass_classifier_from_a_dataframe_is_published(store, iris):
    s, container = store
    model, x_eval, y_eval = iris
    published = liveline.publish_model(model, x_eval, y_eval, name="iris-forest", settings=s)
    card = ModelCard.from_json(
        container.download_blob(f"iris-forest/{published.version}/{CARD_FILE}").readall()
    )
    assert card.task == "multiclass_classification"
    assert card.classes == ("setosa", "versicolor", "virginica")
    assert card.feature_names == tuple(x_eval.columns)
    assert set(card.metrics) == {"accuracy", "f1", "roc_auc"}
    assert card.raw["evaluation"]["rows"] == len(x_eval)
    assert card.raw["lineage"]["git_commit"]  # the tests run inside this repository
    golden = np.asarray(card.golden.inputs)
    assert list(card.golden.predictions) == list(model.predict(x_eval.iloc[: len(golden)]))
    np.testing.assert_allclose(card.golden.probabilities, model.predict_proba(x_eval.iloc[:8]))
    again = liveline.publish_model(model, x_eval, y_eval, name="iris-forest", settings=s)
    assert again == published  # kept, not overwritten


def test_a_regressor_from_arrays_is_published_with_its_own_gate(store):
    s, container = store
    x, y = load_diabetes(return_X_y=True)
    names = load_diabetes().feature_names
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(x[:300], y[:300])
    with pytest.raises(
        modelstore.ModelStoreError, match=r"below the quality gate: r2 0\.\d+ < 0\.99"
    ):
        liveline.publish_model(model, x[300:], y[300:], name="sugar", feature_names=names,
                               gate="r2=0.99", settings=s)  # fmt: skip
    assert not container.exists()
    published = liveline.publish_model(
        model, x[300:], y[300:], name="sugar", feature_names=names, gate="r2=0.2,rmse=80",
        settings=s,
    )  # fmt: skip
    card = json.loads(container.download_blob(f"sugar/{published.version}/{CARD_FILE}").readall())
    assert card["task"] == "regression" and "classes" not in card
    assert set(card["metrics"]) == {"r2", "mae", "rmse"}
    np.testing.assert_allclose(card["golden"]["predictions"], model.predict(x[300:308]))


def _custom_pipeline():
    return make_pipeline(Doubler(), LogisticRegression(max_iter=5000))


def _unfitted(iris):
    return RandomForestClassifier(), iris[1], iris[2]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (_unfitted, "is not fitted: call .fit"),
        (lambda iris: (object(), iris[1], iris[2]), "has no predict method"),
        (lambda iris: (KMeans(2, n_init=1).fit(iris[1]), iris[1], iris[2]),
         "neither a classifier nor a regressor"),
        (lambda iris: (_custom_pipeline().fit(iris[1], iris[2]), iris[1], iris[2]),
         r"does not trust to load: \['.*Doubler'\]"),
        (lambda iris: (iris[0], iris[1].iloc[:, :3], iris[2]), "fitted on 4 features"),
        (lambda iris: (iris[0], iris[1].rename(columns={"sepal width (cm)": "w"}), iris[2]),
         r"missing \['sepal width \(cm\)'\], unexpected \['w'\]"),
        (lambda iris: (iris[0], iris[1], None), "no labels: give y"),
        (lambda iris: (iris[0], iris[1], iris[2].where(iris[2] != "setosa")), "missing labels"),
        (lambda iris: (iris[0], iris[1].to_numpy(), iris[2]), "pass feature_names="),
    ],
    ids=["unfitted", "no-predict", "clusterer", "untrusted-type", "feature-count",
         "feature-names", "no-labels", "missing-labels", "unnamed-array"],
)  # fmt: skip
def test_each_refusal_names_the_fix_and_uploads_nothing(store, iris, case, message):
    s, container = store
    estimator, x, y = case(iris)
    with pytest.raises(Refused, match=message):
        liveline.publish_model(estimator, x, y, name="refused", settings=s)
    assert not container.exists()


def test_the_cli_publishes_a_skops_file_with_csv_or_parquet(store, iris, tmp_path, caplog):
    _s, container = store
    model, x_eval, y_eval = iris
    skops.io.dump(model, tmp_path / "model.skops")
    table = x_eval.assign(species=y_eval)
    table.to_csv(tmp_path / "eval.csv", index=False)
    table.to_parquet(tmp_path / "eval.parquet")
    common = ["--estimator", str(tmp_path / "model.skops"), "--target", "species",
              "--name", "iris-cli", "--container", container.container_name]  # fmt: skip
    caplog.set_level(logging.INFO, logger="liveline")
    assert publish.main([*common, "--eval-data", str(tmp_path / "eval.parquet")]) == 0
    (version,) = {b.name.split("/")[1] for b in container.list_blobs("iris-cli/")}
    assert publish.main([*common, "--eval-data", str(tmp_path / "eval.csv")]) == 0
    assert "already published, kept" in caplog.text  # the same fitted model: one version
    assert {b.name.split("/")[1] for b in container.list_blobs("iris-cli/")} == {version}


@pytest.mark.parametrize("kind", ["pickle", "joblib"])
def test_the_cli_refuses_pickles_and_shows_the_skops_save(store, iris, tmp_path, caplog, kind):
    _s, container = store
    model, x_eval, y_eval = iris
    path = tmp_path / f"model.{'pkl' if kind == 'pickle' else 'joblib'}"
    if kind == "pickle":
        path.write_bytes(pickle.dumps(model))
    else:
        joblib.dump(model, path)
    x_eval.assign(species=y_eval).to_csv(tmp_path / "eval.csv", index=False)
    args = [
        "--estimator",
        str(path),
        "--eval-data",
        str(tmp_path / "eval.csv"),
        "--target",
        "species",
        "--name",
        "x",
        "--container",
        container.container_name,
    ]
    assert publish.main(args) == 1
    assert "loading one runs whatever code it holds" in caplog.text
    assert 'skops.io.dump(model, "model.skops")' in caplog.text
    assert not container.exists()


def test_the_cli_names_a_missing_target_column(store, iris, tmp_path, caplog):
    _s, container = store
    model, x_eval, _y_eval = iris
    skops.io.dump(model, tmp_path / "model.skops")
    pd.DataFrame(x_eval).to_csv(tmp_path / "eval.csv", index=False)
    args = ["--estimator", str(tmp_path / "model.skops"), "--eval-data",
            str(tmp_path / "eval.csv"), "--target", "species", "--name", "x",
            "--container", container.container_name]  # fmt: skip
    assert publish.main(args) == 1
    assert "has no column 'species' for the labels" in caplog.text
    assert not container.exists()


def test_the_example_script_publishes_its_model(store, monkeypatch, capsys):
    s, container = store
    monkeypatch.setenv("LIVELINE_MODELS_CONTAINER", s.models_container)
    path = settings.REPO_ROOT / "examples" / "publish_wine_classifier.py"
    example = runpy.run_path(str(path))
    assert example["main"]("wine-example") == 0
    (card,) = [b.name for b in container.list_blobs("wine-example/") if b.name.endswith(CARD_FILE)]
    published = ModelCard.from_json(container.download_blob(card).readall())
    assert published.task == "multiclass_classification"
    assert published.classes == ("barbera", "barolo", "grignolino")
    assert published.raw["estimator"].endswith("HistGradientBoostingClassifier")
    assert f"published wine-example {published.model_version}" in capsys.readouterr().out
