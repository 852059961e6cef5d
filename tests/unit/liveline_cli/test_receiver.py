"""The receiver's own rules, with Flask's test client and a stand-in for the sensor's
evaluation (the real daemon and webserver: tests/integration/orchestration/
test_push_notifications.py): what it takes, what it refuses, and that it keeps going."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from liveline import settings, webhooks
from liveline_cli import receiver
from liveline_cli.release_now import Outcome


class Evaluations:
    """Each call fails first (a bug in an evaluation), then succeeds."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.done = threading.Event()

    def __call__(self, why: str) -> Outcome:
        self.calls.append(why)
        if len(self.calls) == 1:
            raise KeyError("not what the webserver said")
        self.done.set()
        return Outcome(launched=["run-1"])


@pytest.fixture
def app(tmp_path):
    repo = tmp_path / "app"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    env = {"STATE_DIR": str(tmp_path / "state"), "WATCH_REPO": str(repo), "WATCH_BRANCH": "main"}
    s = settings.load({settings.env_name(k.lower()): v for k, v in env.items()})
    evaluations = Evaluations()
    releaser = receiver.Releaser(evaluations)
    flask_app = receiver.create_app(s, releaser)
    flask_app.testing = True
    return flask_app, releaser, evaluations, webhooks.secret(s)


def local_notice(client, key: str, kind: str = "commit", branch: str = "main"):
    body = webhooks.body_for(kind, branch)
    return client.post("/hooks/local", data=body,
                       headers={webhooks.LIVELINE_SIGNATURE: webhooks.sign(body, key)})  # fmt: skip


def wait_evaluations(releaser: receiver.Releaser, count: int) -> dict:
    deadline = time.monotonic() + 10
    while releaser.status["evaluations"] < count:
        assert time.monotonic() < deadline, releaser.status
        time.sleep(0.01)
    return releaser.status


def test_an_evaluation_that_fails_does_not_stop_the_next(app):
    flask_app, releaser, evaluations, key = app
    client = flask_app.test_client()
    assert local_notice(client, key).status_code == 202
    assert "KeyError" in wait_evaluations(releaser, 1)["last"]["error"]
    assert local_notice(client, key, "model", branch="").status_code == 202
    assert wait_evaluations(releaser, 2)["last"]["launched"] == ["run-1"]
    assert evaluations.calls == ["local commit on main", "local model"]


def test_unwatched_branches_are_answered_and_dropped(app):
    flask_app, releaser, _, key = app
    answer = local_notice(flask_app.test_client(), key, branch="feature")
    assert answer.status_code == 202 and answer.json["accepted"] == 0
    assert answer.json["ignored"] == ["branch feature is not watched (main is)"]
    assert releaser.status["nudges"] == 0


def test_a_body_over_the_cap_is_refused_before_anything_else(app, monkeypatch):
    flask_app, releaser, _, key = app
    flask_app.config["MAX_CONTENT_LENGTH"] = 1024  # the cap, scaled down for the test
    body = b"{" + b" " * 2048 + b"}"
    answer = flask_app.test_client().post(
        "/hooks/github", data=body, headers={"X-GitHub-Event": "push",
                                             webhooks.GITHUB_SIGNATURE: webhooks.sign(body, key)},
    )  # fmt: skip
    assert answer.status_code == 413 and releaser.status["nudges"] == 0


def test_bad_json_with_a_good_signature_is_400(app):
    flask_app, releaser, _, key = app
    body = b"not json"
    answer = flask_app.test_client().post(
        "/hooks/local", data=body, headers={webhooks.LIVELINE_SIGNATURE: webhooks.sign(body, key)}
    )
    assert answer.status_code == 400 and "not JSON" in answer.json["error"]
    assert releaser.status["nudges"] == 0
