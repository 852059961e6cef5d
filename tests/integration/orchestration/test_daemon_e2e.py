"""End to end with the Dagster daemon (`dagster dev`, as `make dev` starts it) against
the real local platform: commits and published models become live with no other action.

One scenario (tests.support.scenario), in order, sharing one `dagster dev`, one watched
repository (a clone of this one), one models container and one namespace: a commit goes
live; a model goes live; a commit and a model together make one release; a restart, even
with the sensor's cursor rewound (as after a crash before the cursor was saved), runs
nothing twice; a `kubectl set image` by hand shows as drift.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterRunStatus

import devplatform
from devplatform import k8s_build
from liveline import k8s, settings
from liveline_cli import dev
from orchestration.sensors.release import ReleaseCursor
from tests.support.scenario import RELEASE_SENSOR, release_runs, release_ticks, scenario

pytestmark = pytest.mark.integration

LIVE_TIMEOUT_S = 240  # a release takes ~30 s on 2 cores; leave room for CI's noise
TICK_S, SETTLE_S = 2, 4


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, local_platform, model_dir_pristine):
    root = tmp_path_factory.mktemp("e2e")
    more = {"RELEASE_RETRY_BACKOFF_S": "2"}  # a failed release is retried soon
    with (
        scenario(root, TICK_S, SETTLE_S, first_model=model_dir_pristine, more=more) as sc,
        sc.instance() as sc.dagster,
    ):
        yield sc


def wait_ticks(url: str, count: int, after: float, timeout: float = 60) -> list:
    deadline = time.monotonic() + timeout
    while True:
        ticks = [t for t in release_ticks(url) if t["timestamp"] > after]
        if len(ticks) >= count:
            return ticks
        assert time.monotonic() < deadline, f"{len(ticks)} {RELEASE_SENSOR} ticks in {timeout} s"
        time.sleep(0.5)


def wait_finished(e2e, run_id: str, timeout: float = 60) -> float:
    """When the run ended (the Deployment can be live a moment before its run ends)."""
    deadline = time.monotonic() + timeout
    while (record := e2e.dagster.get_run_record_by_id(run_id)).end_time is None:
        assert time.monotonic() < deadline, f"run {run_id} still {record.dagster_run.status}"
        time.sleep(0.5)
    return record.end_time


def wait_live(e2e, code: str, model: str) -> k8s.Rollout:
    try:
        return e2e.wait_live(code, model, LIVE_TIMEOUT_S)
    except k8s.RolloutError as err:
        runs = [(r.run_id, r.status.value, r.tags.get("liveline/trigger"))
                for r in release_runs(e2e.dagster)]  # fmt: skip
        ticks = [(t["status"], t["skipReason"], t["error"]) for t in release_ticks(e2e.url)[:5]]
        pytest.fail(f"{err}\nrelease runs: {runs}\nlatest ticks: {ticks}\nlog: {e2e.log_file}")


def test_a_commit_becomes_live_with_no_other_action(e2e):
    wait_ticks(e2e.url, 1, after=0)  # the first tick is a baseline: nothing to do yet
    head = e2e.commit("first")
    rollout = wait_live(e2e, head, e2e.first.version)
    (run,) = release_runs(e2e.dagster)
    assert run.tags["liveline/trigger"] == "commit"
    assert run.tags["liveline/model"] == f"{e2e.first.name}/{e2e.first.version}"
    assert rollout.annotations[k8s.A_RUN] == run.run_id
    assert rollout.image.startswith(f"{e2e.s.registry}/") and "@sha256:" in rollout.image


def test_a_published_model_becomes_live_with_no_other_action(e2e):
    head = e2e.head()
    newer = e2e.publish(e2e.train(C=0.5))
    wait_live(e2e, head, newer.version)
    run = release_runs(e2e.dagster)[0]  # newest first
    assert run.tags["liveline/trigger"] == "model" and run.tags["liveline/commit"] == head
    # The sensor reported the new version as model_blob: the lineage names it.
    event = e2e.dagster.get_latest_materialization_event(AssetKey("model_blob"))
    assert event.asset_materialization.metadata["model_version"].value == newer.version


def test_a_commit_and_a_model_together_make_one_image_and_one_deployment(e2e):
    runs_before = len(release_runs(e2e.dagster))
    since = e2e.dagster.get_latest_materialization_event(AssetKey("serving_image")).timestamp
    model_dir = e2e.train(C=0.25)
    head = e2e.commit("together")
    newer = e2e.publish(model_dir)
    wait_live(e2e, head, newer.version)
    # From the daemon's own records: the ticks evaluated after the release finished (the
    # pair is settled and live) requested no run, and the run list holds one new run.
    finished = wait_finished(e2e, release_runs(e2e.dagster)[0].run_id)
    later = wait_ticks(e2e.url, 2, after=finished)
    assert all(t["runKeys"] == [] and t["runIds"] == [] for t in later), later
    runs = release_runs(e2e.dagster)
    assert len(runs) == runs_before + 1, [r.tags for r in runs]
    assert runs[0].tags["liveline/trigger"] == "commit+model"
    records = e2e.dagster.fetch_materializations(AssetKey("serving_image"), limit=10).records
    built = [r for r in records if r.timestamp > since]
    assert len(built) == 1  # one image, with both
    facts = built[0].asset_materialization.metadata
    assert (facts["revision"].value, facts["model_version"].value) == (head, newer.version)


def test_a_restart_even_with_the_cursor_rewound_runs_nothing_twice(e2e):
    runs = release_runs(e2e.dagster)
    assert all(r.status == DagsterRunStatus.SUCCESS for r in runs), [r.status for r in runs]
    # The tick that requested the last release, and the cursor saved before it: where a
    # daemon that crashed before saving that tick's cursor starts from again.
    ticks = release_ticks(e2e.url)
    launching = next(i for i, t in enumerate(ticks) if runs[0].run_id in t["runIds"])
    before = ticks[launching + 1]["cursor"]
    assert ReleaseCursor.load(before).pending  # it still owed the release
    e2e.stop()
    subprocess.run(
        [dev.command(e2e.s)[0], "sensor", "cursor", RELEASE_SENSOR, "--set", before,
         "-w", "workspace.yaml"],
        cwd=settings.REPO_ROOT, check=True, capture_output=True, timeout=120,
        env={**os.environ, **e2e.env, "DAGSTER_HOME": str(e2e.s.dagster_home)},
    )  # fmt: skip
    restarted = time.time()
    e2e.start()
    # The restarted sensor evaluates from the rewound cursor: it asks for the same release
    # again (its run_key), and the daemon, which has a run with that key, launches none.
    later = wait_ticks(e2e.url, 3, after=restarted)
    assert all(t["runIds"] == [] for t in later), later
    assert [r.run_id for r in release_runs(e2e.dagster)] == [r.run_id for r in runs]


def test_a_manual_kubectl_set_image_shows_as_drift(e2e):
    namespace, name = e2e.s.k8s_namespace, e2e.s.k8s_deployment
    runs = len(release_runs(e2e.dagster))
    live = k8s.live(e2e.api, namespace, name)
    by_hand = live.image.rpartition("@")[0] + "@sha256:" + "0" * 64
    kubectl = k8s_build.binary(e2e.layout, "kubectl")
    subprocess.run(
        [str(kubectl), "--kubeconfig", str(e2e.s.kubeconfig_path), "-n", namespace,
         "set", "image", f"deployment/{name}", f"serving={by_hand}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    key = AssetCheckKey(AssetKey("cluster_deployment"), "no_drift")
    deadline = time.monotonic() + 60
    while True:
        record = e2e.dagster.get_latest_asset_check_evaluation_record(key)
        evaluation = record.event.asset_check_evaluation if record and record.event else None
        if evaluation is not None and not evaluation.passed:
            break
        assert time.monotonic() < deadline, "no failed no_drift evaluation in 60 s"
        time.sleep(0.5)
    assert by_hand in evaluation.description and live.image in evaluation.description
    # Drift is reported, never "repaired" behind the user's back.
    assert k8s.live(e2e.api, namespace, name).image == by_hand
    assert len(release_runs(e2e.dagster)) == runs


def test_a_release_failed_by_an_outage_goes_live_once_the_service_is_back(e2e):
    runs_before = len(release_runs(e2e.dagster))
    devplatform.down(e2e.layout, ["registry"])
    try:
        head = e2e.commit("during an outage")
        deadline = time.monotonic() + LIVE_TIMEOUT_S
        while not any(r.status == DagsterRunStatus.FAILURE for r in release_runs(e2e.dagster)):
            assert time.monotonic() < deadline, "no release failed while the registry was down"
            time.sleep(1)
    finally:
        devplatform.up(e2e.layout)
    wait_live(
        e2e,
        head,
        e2e.dagster.get_latest_materialization_event(AssetKey("cluster_deployment"))
        .asset_materialization.metadata["model_version"]
        .value,
    )
    runs = release_runs(e2e.dagster)
    failed, retried = runs[1], runs[0]
    assert len(runs) == runs_before + 2
    assert failed.status == DagsterRunStatus.FAILURE and failed.tags["liveline/commit"] == head
    assert retried.tags["liveline/trigger"] == "retry" and retried.tags["liveline/commit"] == head
