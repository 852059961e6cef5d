"""Push notifications against the real daemon and receiver (`make dev`: dagster dev and
liveline_cli.receiver): a commit (through the git hook of `liveline hooks install`) and a
model (through `liveline publish`) start their release at once; a notification that
comes twice, names a branch nobody watches or lacks the secret starts nothing.

One scenario (tests.support.scenario, hooks=True): a clone of this repository with the
hooks installed, its own models container, namespace and Dagster instance.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from liveline import k8s, webhooks
from liveline_cli.release_now import REQUESTED_BY_TAG, RUN_KEY_TAG
from tests.support.gitrepo import git
from tests.support.scenario import release_runs, release_ticks, scenario

pytestmark = pytest.mark.integration

LIVE_TIMEOUT_S = 240
# The daemon's own polls come every TICK_S: each notice is sent just after one
# (after_a_tick), so the receiver has that long to request the release before a poll
# could. With 10 s and no alignment a poll came first once on a loaded machine (the
# receiver's request took longer than usual, about 1.6 s) and the test read a release
# that the notice had not requested.
TICK_S, SETTLE_S = 20, 1


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, local_platform, model_dir_pristine):
    root = tmp_path_factory.mktemp("push")
    with (
        scenario(root, TICK_S, SETTLE_S, first_model=model_dir_pristine, hooks=True) as sc,
        sc.instance() as sc.dagster,
    ):
        deadline = time.monotonic() + 60
        while not release_ticks(sc.url):  # the first tick is the baseline
            assert time.monotonic() < deadline, "no release_sensor tick in 60 s"
            time.sleep(0.5)
        yield sc


def after_a_tick(sc) -> None:
    """Return as soon as the daemon has polled again and that poll is over: its next
    poll is TICK_S away. Call it before the change that the notice announces."""
    newest = release_ticks(sc.url, limit=1)[0]["timestamp"]
    deadline = time.monotonic() + 3 * TICK_S
    while (tick := release_ticks(sc.url, limit=1)[0])["timestamp"] == newest or (
        tick["status"] == "STARTED"
    ):
        assert time.monotonic() < deadline, f"no finished release_sensor tick in {3 * TICK_S} s"
        time.sleep(0.2)


def receiver(sc, path: str = "status", **kwargs) -> requests.Response:
    url = f"http://127.0.0.1:{sc.s.webhook_port}/{path}"
    if "data" in kwargs:
        return requests.post(url, timeout=10, **kwargs)
    return requests.get(url, timeout=10)


def evaluated(sc, after: int, timeout: float = 60) -> dict:
    """The receiver's status once it has made more than `after` evaluations."""
    deadline = time.monotonic() + timeout
    while (status := receiver(sc).json())["evaluations"] <= after:
        assert time.monotonic() < deadline, f"no evaluation in {timeout} s: {status}"
        time.sleep(0.2)
    return status


def wait_live(sc, code: str, model: str) -> k8s.Rollout:
    try:
        return sc.wait_live(code, model, LIVE_TIMEOUT_S)
    except k8s.RolloutError as err:
        runs = [(r.run_id, r.status.value, r.tags) for r in release_runs(sc.dagster)]
        pytest.fail(f"{err}\nruns: {runs}\nreceiver: {receiver(sc).json()}\nlog: {sc.log_file}")


def github_push(sc, branch: str, key: str | None = None) -> requests.Response:
    body = json.dumps({"ref": f"refs/heads/{branch}", "after": sc.head()}).encode()
    signature = webhooks.sign(body, key or webhooks.secret(sc.s))
    return receiver(sc, "hooks/github", data=body, headers={
        "X-GitHub-Event": "push", webhooks.GITHUB_SIGNATURE: signature})  # fmt: skip


def commit_without_hooks(sc, text: str) -> str:
    """A commit as a push to a hosted repository makes it: no local hook fires."""
    note = sc.repo / "serving" / "RELEASE_NOTE"
    note.write_text(text + "\n")
    git(sc.repo, "add", "serving/RELEASE_NOTE")
    git(sc.repo, "-c", "core.hooksPath=/dev/null", "commit", "-qm", f"pushed: {text}")
    return sc.head()


def test_a_commit_goes_live_through_the_git_hook(pushed):
    before = receiver(pushed).json()["evaluations"]
    after_a_tick(pushed)
    started = time.time()
    head = pushed.commit("hooked")  # the post-commit hook notifies the receiver
    rollout = wait_live(pushed, head, pushed.first.version)
    print(f"\ncommit-to-live through the git hook: {time.time() - started:.1f} s")
    run = release_runs(pushed.dagster)[0]
    assert run.tags[REQUESTED_BY_TAG] == f"local commit on {pushed.s.watch_branch}"
    assert rollout.annotations[k8s.A_RUN] == run.run_id
    assert evaluated(pushed, before)["last"]["launched"] == [run.run_id]
    # The daemon's own ticks after the commit launch nothing: the pair is live, or (if a
    # tick asked while the run was under way) a run with its run_key and the sensor's
    # name exists, which the daemon never launches again.
    key = run.tags[RUN_KEY_TAG]
    after = time.time()
    deadline = time.monotonic() + 60
    while not [t for t in release_ticks(pushed.url) if t["timestamp"] > after]:
        assert time.monotonic() < deadline, "no release_sensor tick in 60 s"
        time.sleep(0.5)
    later = [t for t in release_ticks(pushed.url) if t["timestamp"] > started]
    assert all(t["runIds"] == [] for t in later), later
    assert [r.run_id for r in release_runs(pushed.dagster)
            if r.tags.get(RUN_KEY_TAG) == key] == [run.run_id]  # fmt: skip


def test_a_model_goes_live_through_liveline_publish(pushed, other_model_dir):
    after_a_tick(pushed)
    done = subprocess.run(
        [sys.executable, "-m", "liveline_cli.publish", "--model-dir", str(other_model_dir),
         "--container", pushed.s.models_container],
        env={**os.environ, **pushed.env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "answered 202" in done.stderr, done.stderr
    version = json.loads((other_model_dir / "model_card.json").read_text())["model_version"]
    wait_live(pushed, pushed.head(), version)
    run = release_runs(pushed.dagster)[0]
    assert run.tags[REQUESTED_BY_TAG] == "local model"
    # The trigger names all the sensor had not yet released since the daemon's last saved
    # cursor: "model", or "commit+model" when that cursor predates the last commit.
    assert run.tags["liveline/model"].endswith(f"/{version}")
    assert run.tags["liveline/trigger"] in ("model", "commit+model")


def test_the_same_push_event_twice_starts_one_run(pushed):
    after_a_tick(pushed)
    head = commit_without_hooks(pushed, "pushed twice")
    runs_before = len(release_runs(pushed.dagster))
    before = receiver(pushed).json()["evaluations"]
    assert github_push(pushed, pushed.s.watch_branch).status_code == 202
    first = evaluated(pushed, before)["last"]
    assert len(first["launched"]) == 1, first
    assert github_push(pushed, pushed.s.watch_branch).status_code == 202
    second = evaluated(pushed, before + 1)["last"]
    assert second["launched"] == [], second
    wait_live(pushed, head, release_runs(pushed.dagster)[0].tags["liveline/model"].split("/")[1])
    assert len(release_runs(pushed.dagster)) == runs_before + 1


def test_an_unwatched_branch_or_a_wrong_secret_starts_nothing(pushed):
    status = receiver(pushed).json()
    runs_before = len(release_runs(pushed.dagster))
    answer = github_push(pushed, "feature/other")
    assert answer.status_code == 202 and "not watched" in answer.json()["ignored"][0]
    assert github_push(pushed, pushed.s.watch_branch, key="not-the-secret").status_code == 401
    body = json.dumps(
        {
            "eventType": "git.push",
            "resource": {
                "refUpdates": [
                    {"name": f"refs/heads/{pushed.s.watch_branch}", "newObjectId": "e" * 40}
                ]
            },
        }
    ).encode()
    wrong = "Basic " + base64.b64encode(b"liveline:not-the-secret").decode()
    answer = receiver(pushed, "hooks/azure-repos", data=body, headers={"Authorization": wrong})
    assert answer.status_code == 401 and "error" in answer.json()
    # An accepted notice is counted before its answer is sent.
    assert receiver(pushed).json()["nudges"] == status["nudges"]
    assert len(release_runs(pushed.dagster)) == runs_before


def test_a_commit_and_a_model_notified_together_make_one_release(pushed, tmp_path):
    model_dir = pushed.train(C=0.3)  # trained beforehand: training is not the change
    runs_before = len(release_runs(pushed.dagster))
    head = pushed.commit("together")  # the hook tells the receiver
    newer = pushed.publish(model_dir)  # and so does the publish, as `liveline publish`
    wait_live(pushed, head, newer.version)
    runs = release_runs(pushed.dagster)
    assert len(runs) == runs_before + 1, [r.tags for r in runs]
    assert runs[0].tags["liveline/trigger"] == "commit+model"
    assert runs[0].tags[REQUESTED_BY_TAG]  # the receiver's, not a poll's
