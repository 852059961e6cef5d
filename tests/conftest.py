"""Shared fixtures: a tiny real model trained into a temporary folder, loaded for real."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer

from serving import create_app
from tests.support import models, tls_origin

# An unclosed TLS socket's ResourceWarning names where it was opened, and fails the run.
tls_origin.install()


def pytest_sessionfinish(session: pytest.Session) -> None:
    leaks = tls_origin.still_open()
    if leaks:
        print("\nTLS sockets left open at the end of the run:", *leaks, sep="\n  ")


# Fixtures kept beside the helpers they go with (the release sensor's `world`, the
# outage tests' `fault_world`).
pytest_plugins = ["tests.support.release_world", "tests.support.fault_world"]


@pytest.fixture(scope="session")
def dataset():
    """The breast-cancer rows as arrays (data, target, feature_names), for estimators a
    test fits itself."""
    return load_breast_cancer()


@pytest.fixture(scope="session")
def trained():
    """The project's model (pyproject.toml's recipe), trained as the asset graph does."""
    return models.train()


@pytest.fixture(scope="session")
def model_dir_pristine(tmp_path_factory, trained) -> Path:
    return models.write(trained, tmp_path_factory.mktemp("model"))


@pytest.fixture
def model_dir(tmp_path, model_dir_pristine) -> Path:
    """A private copy that a test may tamper with."""
    return Path(shutil.copytree(model_dir_pristine, tmp_path / "model"))


@pytest.fixture(scope="session")
def card(model_dir_pristine) -> dict:
    return json.loads((model_dir_pristine / "model_card.json").read_text())


@pytest.fixture
def app(model_dir_pristine):
    return create_app(
        {
            "MODEL_DIR": str(model_dir_pristine),
            "CODE_REVISION": "0123abc",
            "BUILD_TIME": "2026-01-01T00:00:00Z",
            "MAX_BATCH_ROWS": 50,
            "MAX_CONTENT_LENGTH": 64 * 1024,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()
