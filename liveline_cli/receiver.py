"""`liveline receiver` (started by `make dev`): push notifications in, the release
sensor evaluated at once (liveline_cli.release_now) instead of at its next poll.

    POST /hooks/github        GitHub push events (X-Hub-Signature-256)
    POST /hooks/azure-repos   Azure Repos service hooks, event git.push (basic auth)
    POST /hooks/local         `liveline hooks install`'s git hook, `liveline publish`
                              (X-Liveline-Signature-256)
    GET  /healthz, /status     alive; notifications taken, evaluations, the last one

A notice for a branch the sensor does not watch is answered and dropped; a wrong or
missing secret is answered 401 and dropped; anything else accepted is answered 202 at
once and handled by one worker thread: notices that arrive while it evaluates make one
more evaluation, not one each. Duplicates start nothing: the sensor's run_key names the
release, and a run with that key is never launched twice. Served by gunicorn (one
worker, so one evaluation at a time), on 127.0.0.1: a hosted git service reaches it
through the team's ingress or tunnel.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from flask import Flask, Response, jsonify, request
from gunicorn.app.base import BaseApplication

from liveline import settings, webhooks
from liveline_cli.release_now import Outcome, ReleaseNowError, SensorApi, release_now
from orchestration.sensors.release import watch_target

log = logging.getLogger("liveline_cli.receiver")
EVALUATION_TIMEOUT_S = 120
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps webhook deliveries at 25 MB


class Releaser:
    """One thread that evaluates the release sensor whenever it was nudged."""

    def __init__(self, evaluate: Callable[[str], Outcome]) -> None:
        self.evaluate = evaluate
        self.nudged = threading.Event()
        self.why: list[str] = []
        self.lock = threading.Lock()
        self.status: dict[str, Any] = {"nudges": 0, "evaluations": 0, "last": None}
        self.first_nudge = 0.0  # when the first notice not yet evaluated came (epoch s)
        self.thread = threading.Thread(target=self._run, name="releaser", daemon=True)
        self.thread.start()

    def nudge(self, why: str) -> None:
        with self.lock:
            if not self.why:
                self.first_nudge = time.time()
            self.why.append(why)
            self.status["nudges"] += 1
        self.nudged.set()

    def _run(self) -> None:
        while True:
            self.nudged.wait()
            self.nudged.clear()
            with self.lock:
                why, self.why = ", ".join(dict.fromkeys(self.why)), []
                last: dict[str, Any] = {"why": why, "nudged_at": self.first_nudge}
            try:
                last |= asdict(self.evaluate(why))
                log.info("evaluated the release sensor (%s): %s", why, last)
            except ReleaseNowError as e:  # the polling sensor will see the change anyway
                last["error"] = str(e)
                log.error("could not evaluate the release sensor now (%s): %s", why, e)
            except Exception as e:  # a bug must not end the thread: later notices still count
                last["error"] = f"{type(e).__name__}: {e}"
                log.exception("evaluating the release sensor (%s) failed", why)
            with self.lock:
                self.status["evaluations"] += 1
                self.status["last"] = last


def create_app(s: settings.Settings, releaser: Releaser | None = None) -> Flask:
    app = Flask("liveline-receiver")
    # Bodies are read before their signature can be checked: GitHub's own cap on a
    # delivery bounds what anyone may make this process hold (413 beyond it).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    key = webhooks.secret(s)
    if releaser is None:
        api = SensorApi(f"http://127.0.0.1:{s.dagster_port}")
        releaser = Releaser(
            lambda why: release_now(api, s.release_settle_s, why, EVALUATION_TIMEOUT_S)
        )

    def accept(notices: list[webhooks.Notice]) -> tuple[Response, int]:
        _, watched = watch_target(s)
        taken = [n for n in notices if n.kind == "model" or n.branch in ("", watched)]
        ignored = [f"branch {n.branch} is not watched ({watched} is)"
                   for n in notices if n not in taken]  # fmt: skip
        for n in taken:
            releaser.nudge(f"{n.source} {n.kind}" + (f" on {n.branch}" if n.branch else ""))
        return jsonify(accepted=len(taken), ignored=ignored), 202

    def signed(header: str, parse: Callable[[bytes], list[webhooks.Notice]]) -> Any:
        body = request.get_data()
        webhooks.verify_signature(body, request.headers.get(header), key, header)
        return accept(parse(body))

    @app.post("/hooks/github")
    def github() -> Any:
        event = request.headers.get("X-GitHub-Event")
        return signed(webhooks.GITHUB_SIGNATURE, lambda body: webhooks.github(event, body))

    @app.post("/hooks/local")
    def local() -> Any:
        return signed(webhooks.LIVELINE_SIGNATURE, webhooks.local)

    @app.post("/hooks/azure-repos")
    def azure_repos() -> Any:
        webhooks.verify_basic(request.headers.get("Authorization"), key)
        return accept(webhooks.azure_repos(request.get_data()))

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/status")
    def status() -> Any:
        """Notifications taken, evaluations done, and what the last one did."""
        with releaser.lock:
            return jsonify(releaser.status)

    @app.errorhandler(webhooks.Unauthorized)
    def unauthorized(e: webhooks.Unauthorized) -> Any:
        log.warning("refused a notification from %s: %s", request.remote_addr, e)
        return jsonify(error=str(e)), 401

    @app.errorhandler(webhooks.BadNotification)
    def bad(e: webhooks.BadNotification) -> Any:
        return jsonify(error=str(e)), 400

    return app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn with its configuration given here rather than read from a file."""

    def __init__(self, make_app: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.make_app, self.options = make_app, options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self.make_app()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    s = settings.load()
    # One worker, and the app made in it (not preloaded): its Releaser thread must live
    # in the process that answers the requests.
    options = {"bind": f"127.0.0.1:{s.webhook_port}", "workers": 1, "threads": 4,
               "accesslog": "-", "graceful_timeout": 5}  # fmt: skip
    _Gunicorn(lambda: create_app(s), options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
