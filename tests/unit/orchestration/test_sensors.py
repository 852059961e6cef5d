"""Sensors and the schedule without the platform: how they are defined, the journal's
names, the cursor, the drift verdict and the nightly release's decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetMaterialization,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    instance_for_test,
)

from liveline import settings
from liveline.modelstore import journal
from liveline.modelstore import watch as model_watch
from orchestration.assets.live import LiveState, drift
from orchestration.definitions import defs
from orchestration.facts import DeploymentFacts, ImageFacts, PushedImageFacts
from orchestration.schedules import build_nightly_release, nothing_to_release
from orchestration.sensors import build_sensors
from orchestration.sensors.release import ReleaseCursor

IMAGE = "127.0.0.1:5000/liveline/serving@sha256:" + "a" * 64
OTHER = "127.0.0.1:5000/liveline/serving@sha256:" + "b" * 64


def test_the_code_location_has_the_sensors_schedule_and_release_jobs():
    assert {s.name for s in defs().sensors} == {"release_sensor", "cluster_live_sensor"}
    assert [s.name for s in defs().schedules] == ["nightly_release"]
    release = defs().resolve_job_def("release")
    assets = {k.to_user_string() for k in release.asset_layer.asset_graph.executable_asset_keys}
    assert {"app_source", "serving_image", "registry_image", "cluster_deployment"} <= assets
    checks = {k.name for k in release.asset_layer.asset_graph.asset_check_keys}
    assert checks == {"smoke_test"}  # no_drift belongs to the live-state sensor
    for job in ("release", "nightly_release", "deploy"):
        assert defs().resolve_job_def(job).tags["liveline/deploy"] == "true"  # queued one at a time


def test_sensors_run_and_the_nightly_release_is_off_unless_settings_say_otherwise():
    s = settings.load({})
    assert {x.default_status for x in build_sensors(s)} == {DefaultSensorStatus.RUNNING}
    assert build_nightly_release(s).default_status == DefaultScheduleStatus.STOPPED
    assert build_nightly_release(s).cron_schedule == "0 2 * * *"
    custom = settings.load(
        {"LIVELINE_SENSORS_RUNNING": "0", "LIVELINE_SENSOR_INTERVAL_S": "90",
         "LIVELINE_RELEASE_SCHEDULE_RUNNING": "1", "LIVELINE_RELEASE_CRON": "30 3 * * 1-5"}
    )  # fmt: skip
    sensors = build_sensors(custom)
    assert {x.default_status for x in sensors} == {DefaultSensorStatus.STOPPED}
    assert {x.minimum_interval_seconds for x in sensors} == {90}
    nightly = build_nightly_release(custom)
    assert (nightly.default_status, nightly.cron_schedule) == (
        DefaultScheduleStatus.RUNNING,
        "30 3 * * 1-5",
    )


def test_journal_names_sort_newest_first_and_parse_back():
    t0 = datetime(2026, 11, 23, 18, 0, 0, tzinfo=UTC)
    names = [journal.entry_name(t0 + timedelta(seconds=s), f"m/v{s}") for s in (0, 1, 3600)]
    assert sorted(names) == names[::-1]  # a listing gives the newest entry first
    assert journal.parse_entry(names[2]) == (t0 + timedelta(hours=1), "m/v3600")
    assert journal.parse_entry("_journal/garbage/m/v") is None
    assert journal.parse_entry(names[0] + "/extra") is None


def test_the_release_cursor_survives_a_round_trip():
    cursor = ReleaseCursor("/repo", "main", "a" * 40, "b" * 40, "commit")
    cursor.models["rejected"] = {"m/v1": ["etag", "2026-01-01T00:00:00.000000Z", ""]}
    assert ReleaseCursor.load(cursor.dump()) == cursor
    assert ReleaseCursor.load(None) == ReleaseCursor()


def test_drift_compares_the_live_image_with_the_last_rollout():
    live = LiveState(
        "ns", "app", True, image=IMAGE, digest=IMAGE[-71:], annotated_digest=IMAGE[-71:]
    )
    deployed = {"image": IMAGE}
    assert drift(live, deployed) == []
    assert drift(live, None) == []  # nothing rolled out: nothing to compare with
    by_hand = replace(live, image=OTHER, digest=OTHER[-71:])  # `kubectl set image`
    problems = drift(by_hand, deployed)
    assert len(problems) == 2
    assert f"runs {OTHER}, but {IMAGE} was rolled out" in problems[0]
    assert "changed outside liveline" in problems[1]
    gone = drift(LiveState("ns", "app", False), deployed)
    assert gone == [f"ns/app does not exist, but {IMAGE} was rolled out there"]


def test_the_nightly_release_skips_until_a_tested_image_is_not_live():
    image_id, digest = "sha256:" + "1" * 64, IMAGE[-71:]
    built = ImageFacts(image_id, "ref", "tag", "c0ffee", "m", "v1", "sha", "etag")
    pushed = PushedImageFacts(IMAGE, "tag", digest, image_id, "c0ffee", "v1")
    live = DeploymentFacts(IMAGE, digest, "c0ffee", "v1", "liveline", "liveline-serving")
    with instance_for_test() as instance:
        assert nothing_to_release(instance) == "no serving image has been built yet"
        report = instance.report_runless_asset_event
        report(AssetMaterialization("serving_image", metadata=built.to_metadata()))
        assert "has not passed its smoke test" in nothing_to_release(instance)
        report(
            AssetCheckEvaluation(
                asset_key=AssetCheckKey.from_user_string("serving_image:smoke_test").asset_key,
                check_name="smoke_test",
                passed=True,
                metadata={"image_id": image_id},
            )
        )
        assert nothing_to_release(instance) == ""  # tested, never pushed: release it
        report(AssetMaterialization("registry_image", metadata=pushed.to_metadata()))
        assert nothing_to_release(instance) == ""  # pushed, not live: release it
        report(AssetMaterialization("cluster_deployment", metadata=live.to_metadata()))
        assert nothing_to_release(instance) == f"{IMAGE} is live already"


def test_a_model_cursor_starts_with_a_baseline_sweep():
    fresh = model_watch.ModelCursor()
    assert fresh.baseline and fresh.journal_since is None and fresh.swept_at == 0.0
