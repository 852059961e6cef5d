"""What the graph refuses, against the real platform: a model below the quality gate never
reaches blob storage, a tampered model is refused before the build, and an image that
fails its smoke test is never pushed (blocking checks, cf. dagster#25112)."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime

import pytest
import requests
from dagster import AssetKey, DagsterEventType, instance_for_test, materialize

from liveline import modelstore, settings
from liveline.constants import MANIFEST_V2
from liveline.modelstore import AzureBucket
from modelcard import sha256
from orchestration.definitions import ASSETS, CHECKS, resources
from tests.support.gitrepo import git

pytestmark = pytest.mark.integration

IMAGE_STAGE = ["app_source", "serving_image", "registry_image"]


@pytest.fixture
def env(monkeypatch, blob_service, docker_client):
    """A models container and image repository of this test's own, and a fresh instance."""
    name = f"test-guard-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("LIVELINE_MODELS_CONTAINER", name)
    monkeypatch.setenv("LIVELINE_SERVING_REPOSITORY", f"liveline/{name}")
    monkeypatch.delenv("LIVELINE_MODEL_GATE", raising=False)
    container = blob_service.get_container_client(name)
    repository = f"{settings.load().registry}/liveline/{name}"
    with instance_for_test() as instance:
        yield instance, container, repository
    if container.exists():
        container.delete_container()
    for image in docker_client.images.list(name=repository):
        docker_client.images.remove(image.id, force=True)


def run(instance, selection: list[str], run_config: dict | None = None):
    return materialize(
        [*ASSETS, *CHECKS],
        instance=instance,
        resources=resources(settings.load()),
        selection=selection,
        run_config={"ops": run_config or {}},
        raise_on_error=False,
    )


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def failure(result, step: str) -> str:
    (event,) = [e for e in result.get_step_failure_events() if e.step_key == step]
    return str(event.event_specific_data.error)


def test_a_model_below_the_gate_never_reaches_blob_storage(env, monkeypatch):
    instance, container, _ = env
    monkeypatch.setenv("LIVELINE_MODEL_GATE", "accuracy=0.999,roc_auc=0.9")
    result = run(instance, ["training_data", "trained_model", "model_blob"])
    assert not result.success
    (gate,) = result.get_asset_check_evaluations()
    assert not gate.passed and gate.description.startswith("accuracy 0.98")
    assert materialized(result) == {"training_data", "trained_model"}
    assert "model_blob" not in {e.step_key for e in result.all_events if e.step_key}
    assert not container.exists()
    # Materialized on its own, model_blob applies the same gate.
    alone = run(instance, ["model_blob"])
    assert "below the quality gate: accuracy" in failure(alone, "model_blob")
    assert not container.exists()


@pytest.mark.parametrize("tampering", ["flipped byte", "lying metadata"])
def test_a_tampered_model_is_refused_before_the_build(
    env, model_dir_pristine, docker_client, tampering
):
    instance, container, image = env
    published = modelstore.publish(AzureBucket(container), model_dir_pristine).model
    artifact = container.get_blob_client(f"{published.name}/{published.version}/model.skops")
    data = bytearray(artifact.download_blob().readall())
    data[len(data) // 2] ^= 0x01
    metadata = artifact.get_blob_properties().metadata
    if tampering == "lying metadata":
        metadata["sha256"] = sha256(bytes(data))
    artifact.upload_blob(bytes(data), overwrite=True, metadata=metadata)

    result = run(instance, IMAGE_STAGE)
    assert not result.success
    assert materialized(result) == {"app_source"}
    error = failure(result, "serving_image")
    if tampering == "flipped byte":
        assert "does not match the model card's" in error and "tampered" in error
    else:
        assert "no valid published model" in error and "metadata sha256" in error
    assert docker_client.images.list(name=image) == []  # no build even started


def test_an_image_failing_its_smoke_test_is_never_pushed(
    env, model_dir_pristine, registry_url, tmp_path
):
    instance, container, image = env
    modelstore.publish(AzureBucket(container), model_dir_pristine)
    repo = tmp_path / "app"
    subprocess.run(["git", "clone", "-q", str(settings.REPO_ROOT), str(repo)], check=True)
    # Broken where only gunicorn looks: the image builds, the container cannot start.
    with (repo / "serving" / "wsgi.py").open("a") as f:
        f.write('\nraise RuntimeError("broken on purpose")\n')
    git(repo, "commit", "-qam", "break the app")

    result = run(instance, IMAGE_STAGE, {"app_source": {"config": {"repo": str(repo)}}})
    assert not result.success
    (smoke,) = result.get_asset_check_evaluations()
    assert not smoke.passed and "exited before it was ready" in smoke.description
    assert materialized(result) == {"app_source", "serving_image"}
    steps = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START}
    assert "registry_image" not in steps
    tag = _facts(instance, "serving_image")["tag"]
    repository = image.split("/", 1)[1]
    head = requests.head(
        f"{registry_url}/v2/{repository}/manifests/{tag}",
        headers={"Accept": MANIFEST_V2},
        timeout=10,
    )
    assert head.status_code == 404
    # Materialized on its own, registry_image still refuses the image that failed.
    alone = run(instance, ["registry_image"])
    assert "smoke_test has not passed" in failure(alone, "registry_image")
    assert requests.head(head.url, headers={"Accept": MANIFEST_V2}, timeout=10).status_code == 404


def _facts(instance, name: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(name))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


# --- hostile input to the pipeline: stopped at the earliest asset, never retried -------


def retries(result, step: str) -> int:
    return len(
        result.filter_events(
            lambda e: e.event_type == DagsterEventType.STEP_UP_FOR_RETRY and e.step_key == step
        )
    )


def upload_version(container, prefix: str, card: bytes, artifact: bytes) -> None:
    """Blobs as a foreign or careless publisher writes them: metadata consistent with the
    bytes (so only the content itself can give them away)."""
    sha = sha256
    container.upload_blob(f"{prefix}/model.skops", artifact, metadata={"sha256": sha(artifact)})
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    container.upload_blob(
        f"{prefix}/model_card.json", card, metadata={"sha256": sha(card), "published_at": now}
    )


@pytest.mark.parametrize("hostile", ["not JSON", "missing fields", "newer scikit-learn"])
def test_a_hostile_model_card_is_passed_over_and_alone_it_stops_the_build(
    env, model_dir_pristine, hostile
):
    instance, container, _ = env
    artifact = (model_dir_pristine / "model.skops").read_bytes()
    good = json.loads((model_dir_pristine / "model_card.json").read_text())
    AzureBucket(container).ensure()

    def hostile_version() -> str:
        version = f"hostile-{uuid.uuid4().hex[:8]}"
        bad = {
            "not JSON": b"{'model_name': oops",
            "missing fields": json.dumps({"model_name": good["model_name"]}).encode(),
            "newer scikit-learn": json.dumps(
                {
                    **good,
                    "model_version": version,
                    "libraries": {**good["libraries"], "scikit-learn": "99.0.0"},
                }
            ).encode(),
        }[hostile]
        upload_version(container, f"{good['model_name']}/{version}", bad, artifact)
        return version

    version = hostile_version()
    alone = run(instance, IMAGE_STAGE)
    assert not alone.success and materialized(alone) == {"app_source"}
    error = failure(alone, "serving_image")
    assert "no valid published model" in error and version in error, error
    if hostile == "newer scikit-learn":
        assert "trained with scikit-learn 99.0.0" in error
    assert retries(alone, "serving_image") == 0  # permanent: no retry would help

    valid = modelstore.publish(AzureBucket(container), model_dir_pristine).model
    newer = hostile_version()  # published after the valid one: passed over, named
    passed_over = run(instance, IMAGE_STAGE)
    assert passed_over.success
    built = _facts(instance, "serving_image")
    assert built["model_version"] == valid.version
    assert newer in json.dumps(built["models_passed_over"])


def test_a_commit_that_breaks_the_dockerfile_stops_at_serving_image(
    env, model_dir_pristine, tmp_path
):
    instance, container, _ = env
    modelstore.publish(AzureBucket(container), model_dir_pristine)
    repo = tmp_path / "app"
    subprocess.run(["git", "clone", "-q", str(settings.REPO_ROOT), str(repo)], check=True)
    with (repo / "serving" / "Dockerfile").open("a") as f:
        f.write("\nRUN exit 3\n")
    git(repo, "commit", "-qam", "break the build")

    result = run(instance, IMAGE_STAGE, {"app_source": {"config": {"repo": str(repo)}}})
    assert not result.success and materialized(result) == {"app_source"}
    error = failure(result, "serving_image")
    assert "exit 3" in error or "returned a non-zero code: 3" in error, error
    assert retries(result, "serving_image") == 0
    steps = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START}
    assert steps == {"app_source", "serving_image"}  # nothing pushed, nothing deployed
