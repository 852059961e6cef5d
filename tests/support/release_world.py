"""A world for release-sensor tests: a real git repository, a models container in the
real Azurite, a fresh Dagster instance, and ticks evaluated as the daemon evaluates them
(build_sensor_context + evaluate_tick), each from the cursor the previous one returned."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from dagster import build_sensor_context, instance_for_test

from liveline import modelstore, settings
from liveline.modelstore import AzureBucket, journal
from orchestration.definitions import defs
from orchestration.facts import DeploymentFacts
from orchestration.resources.blob_store import BlobStoreResource
from tests.support.gitrepo import git

SENSOR = defs().resolve_sensor_def("release_sensor")


def commit(repo: Path, path: str, text: str = "") -> str:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text or uuid.uuid4().hex)
    git(repo, "add", path)
    git(repo, "commit", "-qm", f"change {path}")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def world(tmp_path, monkeypatch, blob_service):
    """A repository on branch main, an empty models container, a fresh instance."""
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "serving/app.py", "v1")
    name = f"test-sensor-{uuid.uuid4().hex[:12]}"
    env = {"WATCH_REPO": str(repo), "WATCH_BRANCH": "main", "MODELS_CONTAINER": name,
           "RELEASE_SETTLE_S": "0"}  # fmt: skip
    for key, value in {**env, "STATE_DIR": str(tmp_path / "state")}.items():
        monkeypatch.setenv(f"LIVELINE_{key}", value)
    for key in ("WATCH_PATHS", "MODEL_SWEEP_S", "APP_BRANCH", "MODEL_GATE"):
        monkeypatch.delenv(f"LIVELINE_{key}", raising=False)
    container = blob_service.get_container_client(name)
    with instance_for_test() as instance:
        w = SimpleNamespace(repo=repo, container=container, instance=instance, cursor=None)
        yield w
    if container.exists():
        container.delete_container()


def tick(w, cursor: str | None = ...):
    """One evaluation from w's cursor (or the one given); w keeps the returned cursor."""
    context = build_sensor_context(
        instance=w.instance,
        cursor=w.cursor if cursor is ... else cursor,
        resources={"blob_store": BlobStoreResource.from_settings(settings.load())},
    )
    result = SENSOR.evaluate_tick(context)
    w.cursor = result.cursor
    return result


def publish(w, model_dir: Path, entry: bool = True) -> modelstore.PublishedModel:
    """Publish as `liveline publish` does (it writes the journal entry); entry=False then
    deletes the entry, as a publisher predating the journal or a manual upload leaves it."""
    model = modelstore.publish(AzureBucket(w.container), model_dir).model
    if not entry:
        for blob in w.container.list_blobs(name_starts_with=journal.JOURNAL):
            if blob.name.endswith(f"/{model.name}/{model.version}"):
                w.container.delete_blob(blob.name)
    return model


def retrain(tmp_path: Path, C: float) -> Path:
    from tests.support import models

    return models.write(models.train(C=C), tmp_path / f"model-C{C}")


def deployed(code_revision: str, model_version: str) -> dict:
    """cluster_deployment's metadata for a pair rolled out (by a run, or by hand)."""
    image = "127.0.0.1:5000/liveline/serving@sha256:" + "0" * 64
    facts = DeploymentFacts(image, image.rpartition("@")[2], code_revision, model_version,
                            "liveline", "liveline-serving")  # fmt: skip
    return facts.to_metadata()
