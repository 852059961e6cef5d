"""The release sensor against real git repositories and the real Azurite: which ticks ask
for a release, with which run_key, and which published models count.

Each test has its own repository, models container and Dagster instance; ticks are
evaluated as the daemon evaluates them (build_sensor_context + evaluate_tick), each
starting from the cursor the previous tick returned.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from dagster import (
    AssetMaterialization,
    AssetObservation,
    DagsterRun,
    DagsterRunStatus,
)

import devplatform
from orchestration.sensors.release import ReleaseCursor
from tests.support.gitrepo import git
from tests.support.release_world import commit, deployed, publish, retrain, tick

pytestmark = pytest.mark.integration


def test_first_tick_is_a_baseline_then_a_new_commit_asks_for_one_release(world, model_dir_pristine):
    model = publish(world, model_dir_pristine)
    first = tick(world)
    assert first.run_requests == [] and first.asset_events == []
    assert "first look" in first.skip_message

    head = commit(world.repo, "serving/app.py", "v2")
    before = world.cursor
    result = tick(world)
    (request,) = result.run_requests
    assert request.run_key == f"{head}:{model.name}/{model.version}"
    assert request.tags["liveline/commit"] == head
    assert request.tags["liveline/trigger"] == "commit"
    (seen,) = result.asset_events  # the UI shows the commit waiting to be built
    assert isinstance(seen, AssetObservation) and seen.asset_key.to_user_string() == "app_source"
    assert seen.metadata["commit"].value == head
    app = request.run_config["ops"]["app_source"]["config"]
    assert app == {"repo": str(world.repo), "commit": head, "branch": "main"}
    # The daemon restarted after saving the cursor: nothing more to do.
    assert tick(world).run_requests == []
    # It restarted before saving it: the same run_key again, which the daemon will not
    # run twice (it skips run keys the sensor already launched).
    (again,) = tick(world, before).run_requests
    assert again.run_key == request.run_key


def test_the_path_filter_and_a_force_push(world, model_dir_pristine):
    publish(world, model_dir_pristine)
    tick(world)
    built = git(world.repo, "rev-parse", "HEAD")
    commit(world.repo, "README.md")
    result = tick(world)
    assert result.run_requests == []
    assert "outside the watched paths" in result.skip_message
    cursor = ReleaseCursor.load(world.cursor)
    assert cursor.head == git(world.repo, "rev-parse", "HEAD") and cursor.build == built

    k8s = commit(world.repo, "k8s/base/deployment.yaml")
    assert tick(world).run_requests[0].tags["liveline/commit"] == k8s

    git(world.repo, "reset", "-q", "--hard", "HEAD~2")
    rewritten = commit(world.repo, "docs/notes.md")  # outside the paths, but history changed
    (request,) = tick(world).run_requests
    assert request.tags["liveline/commit"] == rewritten


def test_a_published_model_is_reported_as_model_blob_and_released(
    world, model_dir_pristine, tmp_path
):
    publish(world, model_dir_pristine)
    tick(world)
    newer = publish(world, retrain(tmp_path, C=0.5))
    result = tick(world)
    (event,) = result.asset_events
    assert isinstance(event, AssetMaterialization)
    assert event.asset_key.to_user_string() == "model_blob"
    assert event.tags["dagster/data_version"] == newer.version
    facts = {k: v.value for k, v in event.metadata.items()}
    assert (facts["model_version"], facts["card_etag"]) == (newer.version, newer.card_etag)
    assert facts["artifact_sha256"] == newer.artifact_sha256
    (request,) = result.run_requests
    head = git(world.repo, "rev-parse", "HEAD")
    assert request.run_key == f"{head}:{newer.name}/{newer.version}"
    assert request.tags["liveline/trigger"] == "model"
    assert tick(world).asset_events == []  # reported once


def test_a_commit_and_a_model_in_one_tick_make_one_release(world, model_dir_pristine, tmp_path):
    publish(world, model_dir_pristine)
    tick(world)
    head = commit(world.repo, "serving/app.py", "v2")
    newer = publish(world, retrain(tmp_path, C=0.5))
    (request,) = tick(world).run_requests
    assert request.run_key == f"{head}:{newer.name}/{newer.version}"
    assert request.tags["liveline/trigger"] == "commit+model"


def test_a_commit_and_a_model_in_consecutive_ticks_make_one_release_after_the_settle_time(
    world, model_dir_pristine, tmp_path, monkeypatch
):
    monkeypatch.setenv("LIVELINE_RELEASE_SETTLE_S", "3600")
    publish(world, model_dir_pristine)
    tick(world)
    head = commit(world.repo, "serving/app.py", "v2")
    settling = tick(world)
    assert settling.run_requests == [] and "releasing after 3600 s quiet" in settling.skip_message
    newer = publish(world, retrain(tmp_path, C=0.5))
    settling = tick(world)  # the model is reported at once, the release still waits
    assert settling.run_requests == [] and len(settling.asset_events) == 1
    assert ReleaseCursor.load(world.cursor).pending == "commit+model"
    monkeypatch.setenv("LIVELINE_RELEASE_SETTLE_S", "0")  # the quiet time has passed
    (request,) = tick(world).run_requests
    assert request.run_key == f"{head}:{newer.name}/{newer.version}"
    assert request.tags["liveline/trigger"] == "commit+model"
    assert tick(world).run_requests == []


def test_a_commit_before_any_model_waits_for_one(world, model_dir_pristine):
    tick(world)
    head = commit(world.repo, "serving/app.py", "v2")
    waiting = tick(world)
    assert waiting.run_requests == [] and "waits for a verified published model" in (
        waiting.skip_message
    )
    publish(world, model_dir_pristine)
    (request,) = tick(world).run_requests
    assert request.tags["liveline/commit"] == head
    assert request.tags["liveline/trigger"] == "commit+model"


def test_a_remote_repository_is_watched_through_its_cache(world, model_dir_pristine, tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(world.repo), str(remote)], check=True)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LIVELINE_WATCH_REPO", f"file://{remote}")
        publish(world, model_dir_pristine)
        tick(world)
        head = commit(world.repo, "serving/app.py", "v2")
        git(world.repo, "push", "-q", f"file://{remote}", "main")
        (request,) = tick(world).run_requests
    app = request.run_config["ops"]["app_source"]["config"]
    assert app["commit"] == head
    cache = Path(app["repo"])
    assert cache.parent == tmp_path / "state" / "git-cache"
    assert git(cache, "cat-file", "-t", head) == "commit"


def test_a_failed_release_is_requested_again_with_backoff_until_it_is_live(
    world, model_dir_pristine, monkeypatch
):
    monkeypatch.setenv("LIVELINE_RELEASE_RETRY_BACKOFF_S", "3600")
    monkeypatch.setenv("LIVELINE_RELEASE_RETRIES", "2")
    model = publish(world, model_dir_pristine)
    tick(world)
    head = commit(world.repo, "serving/app.py", "v2")
    (first,) = tick(world).run_requests
    pair = f"{head}:{model.name}/{model.version}"
    assert first.run_key == pair
    assert "not created yet" in tick(world).skip_message

    def run_for(key: str, status: DagsterRunStatus) -> DagsterRun:
        run = DagsterRun(job_name="release", status=status, tags={"dagster/run_key": key})
        world.instance.add_run(run)
        return run

    running = run_for(pair, DagsterRunStatus.STARTED)
    assert f"run {running.run_id} for {pair} is started" in tick(world).skip_message
    world.instance.delete_run(running.run_id)
    failed = run_for(pair, DagsterRunStatus.FAILURE)  # e.g. the registry was down
    assert "failed; retrying in" in tick(world).skip_message  # the backoff holds it
    monkeypatch.setenv("LIVELINE_RELEASE_RETRY_BACKOFF_S", "0")
    (retry,) = tick(world).run_requests
    assert retry.run_key == f"{pair}#1" and retry.tags["liveline/trigger"] == "retry"
    assert retry.tags["liveline/commit"] == head
    run_for(f"{pair}#1", DagsterRunStatus.FAILURE)
    (again,) = tick(world).run_requests
    assert again.run_key == f"{pair}#2"
    run_for(f"{pair}#2", DagsterRunStatus.FAILURE)
    gave_up = tick(world)
    assert gave_up.run_requests == [] and "failed 3 times" in gave_up.skip_message
    assert failed.run_id not in gave_up.skip_message  # it names the last run

    # Once the pair is live (a run finally succeeded, or someone rolled it out), it is
    # no longer owed; a new commit starts over with a fresh key.
    world.instance.report_runless_asset_event(
        AssetMaterialization("cluster_deployment", metadata=deployed(head, model.version))
    )
    assert "no newly published model" in tick(world).skip_message
    assert ReleaseCursor.load(world.cursor).requested == ""
    newer = commit(world.repo, "serving/app.py", "v3")
    (fresh,) = tick(world).run_requests
    assert fresh.run_key == f"{newer}:{model.name}/{model.version}"


def test_a_tick_during_an_azurite_outage_fails_naming_it_and_loses_no_trigger(
    world, model_dir_pristine, local_platform
):
    model = publish(world, model_dir_pristine)
    tick(world)  # baseline
    head = commit(world.repo, "serving/app.py", "v2")
    before = world.cursor
    devplatform.down(local_platform, ["azurite"])
    try:
        started = time.monotonic()
        with pytest.raises(Exception) as failed:
            tick(world)
        took = time.monotonic() - started
    finally:
        devplatform.up(local_platform)
    message = str(failed.value)
    assert "Azure Blob Storage" in message and "make up" in message, message
    assert took < 30, f"a tick took {took:.1f} s to give up on Azurite"
    assert world.cursor == before  # a failed tick saves no cursor
    (request,) = tick(world).run_requests  # after the outage: the commit is still news
    assert request.run_key == f"{head}:{model.name}/{model.version}"
