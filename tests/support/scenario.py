"""A release scenario on the local platform, for the end-to-end tests and the release
benchmark: a clone of this repository as the watched repository, a models container and
a namespace of its own, a Dagster instance of its own, and `dagster dev` (UI, daemon,
sensors) running against them. Nothing here is faked: commits are git commits, models
are trained and published to Azurite, releases are rolled out by the sensor's runs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kubernetes
import requests
from azure.core.exceptions import AzureError
from azure.storage.blob import ContainerClient
from dagster import DagsterInstance, RunsFilter

from devplatform import azurite, k8s_cluster
from devplatform.layout import Layout
from liveline import k8s, modelstore, settings, webhooks
from liveline.constants import RELEASE_JOB
from liveline.modelstore import AzureBucket
from liveline_cli import dev
from liveline_cli import hooks as liveline_hooks
from tests.support.gitrepo import git

RELEASE_SENSOR = "release_sensor"
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Scenario:
    s: settings.Settings
    env: dict[str, str]  # the LIVELINE_* overrides s was loaded with; dagster dev gets them
    root: Path
    repo: Path
    container: ContainerClient
    api: kubernetes.client.ApiClient
    log_file: Path
    layout: Layout
    first: modelstore.PublishedModel | None = None  # published before dagster dev started
    hooks: bool = False  # the receiver runs beside dagster dev, the clone has the git hooks
    proc: subprocess.Popen | None = field(default=None, repr=False)
    receiver: subprocess.Popen | None = field(default=None, repr=False)
    dagster: DagsterInstance | None = None  # the instance, as the caller opened it

    def start(self) -> None:
        with self.log_file.open("ab") as out:
            self.proc = dev.start(self.s, self.env, stdout=out, stderr=subprocess.STDOUT)
            if self.hooks:
                self.receiver = dev.start_receiver(self.s, self.env, stdout=out,
                                                   stderr=subprocess.STDOUT)  # fmt: skip
        ui, receiver = dev.health_urls(self.s)
        dev.wait_answering(self.proc, "dagster dev", ui, START_TIMEOUT_S, self.log_file)
        if self.receiver is not None:
            dev.wait_answering(self.receiver, "the receiver", receiver, START_TIMEOUT_S,
                               self.log_file)  # fmt: skip

    def stop(self) -> None:
        for proc in (self.receiver, self.proc):
            if proc is not None:
                dev.stop(proc)
        self.proc = self.receiver = None

    def commit(self, text: str) -> str:
        """A commit under serving/ (a watched path) that the image really contains."""
        note = self.repo / "serving" / "RELEASE_NOTE"
        note.write_text(text + "\n")
        git(self.repo, "add", "serving/RELEASE_NOTE")
        git(self.repo, "commit", "-qm", f"scenario: {text}")
        return git(self.repo, "rev-parse", "HEAD")

    def head(self) -> str:
        return git(self.repo, "rev-parse", "HEAD")

    def train(self, C: float) -> Path:
        """A real model trained with regularisation C, ready to publish."""
        from tests.support import models

        return models.write(models.train(C=C), self.root / f"model-C{C}")

    def publish(self, model_dir: Path) -> modelstore.PublishedModel:
        """Publish as `liveline publish` does: with hooks, the receiver is told."""
        model = modelstore.publish(AzureBucket(self.container), model_dir).model
        if self.hooks:
            webhooks.notify(self.s, "model")
        return model

    def wait_live(self, code: str, model: str, timeout: float) -> k8s.Rollout:
        want = {k8s.A_CODE: code, k8s.A_MODEL: model}
        return k8s.wait_for(self.api, self.s.k8s_namespace, self.s.k8s_deployment, want, timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.s.dagster_port}"

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_config(str(self.s.dagster_home))


TICKS_QUERY = """query($selector: SensorSelector!, $limit: Int) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: $limit) {
      status timestamp runIds runKeys cursor skipReason error { message } } } }
    ... on PythonError { message }
  }
}"""


def release_ticks(url: str, limit: int = 200) -> list[dict]:
    """The release sensor's ticks, newest first, through the UI's GraphQL API (the
    instance's tick storage has no public Python API)."""
    selector = {"repositoryLocationName": "liveline", "repositoryName": "__repository__",
                "sensorName": RELEASE_SENSOR}  # fmt: skip
    body = {"query": TICKS_QUERY, "variables": {"selector": selector, "limit": limit}}
    r = requests.post(f"{url}/graphql", json=body, timeout=30)
    r.raise_for_status()
    found = r.json()["data"]["sensorOrError"]
    if found["__typename"] != "Sensor":
        raise RuntimeError(f"{RELEASE_SENSOR} not found: {found}")
    return found["sensorState"]["ticks"]


def release_runs(instance: DagsterInstance) -> list:
    """Runs of the release job, newest first."""
    return list(instance.get_runs(RunsFilter(job_name=RELEASE_JOB)))


@contextlib.contextmanager
def scenario(
    root: Path,
    tick_s: int,
    settle_s: int,
    first_model: Path | None = None,
    more: dict[str, str] | None = None,
    start: bool = True,
    hooks: bool = False,
) -> Iterator[Scenario]:
    """A scenario in root (a clone, an instance, dagster dev's log), with `dagster dev`
    started (start=False: the caller starts it, e.g. after a deploy of its own);
    hooks: with the receiver of push notifications, and `liveline hooks install`'s git
    hooks in the clone. Everything it created is deleted on exit, the clone and logs
    excepted."""
    root.mkdir(parents=True, exist_ok=True)
    repo = root / "app"
    subprocess.run(["git", "clone", "-q", str(settings.REPO_ROOT), str(repo)], check=True,
                   timeout=120)  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    overrides = {
        "WATCH_REPO": str(repo),
        "WATCH_BRANCH": git(repo, "branch", "--show-current"),
        "WATCH_PATHS": "serving/,k8s/",
        "MODELS_CONTAINER": f"scenario-{tag}",
        "K8S_NAMESPACE": f"scenario-{tag}",
        "SENSOR_INTERVAL_S": str(tick_s),
        "RELEASE_SETTLE_S": str(settle_s),
        "MODEL_SWEEP_S": "300",
        "DAGSTER_INSTANCE": str(root / "dagster"),
        "DAGSTER_PORT": str(free_port()),
        "WEBHOOK_PORT": str(free_port()),
        "SENSORS_RUNNING": "1",
        **(more or {}),  # other settings, by field name in upper case
    }
    env = {settings.env_name(k.lower()): v for k, v in overrides.items()}
    s = settings.load({**os.environ, **env})
    layout = Layout(s)
    with azurite.blob_service(layout) as service, k8s_cluster.api_client(layout) as api:
        container = service.get_container_client(s.models_container)
        sc = Scenario(s, env, root, repo, container, api, root / "dagster-dev.log", layout,
                      hooks=hooks)  # fmt: skip
        if hooks:
            liveline_hooks.install(repo, s)
        try:
            if first_model is not None:
                sc.first = sc.publish(first_model)
            if start:
                sc.start()
            yield sc
        finally:
            sc.stop()
            with contextlib.suppress(kubernetes.client.ApiException):
                kubernetes.client.CoreV1Api(api).delete_namespace(s.k8s_namespace)
            with contextlib.suppress(AzureError):
                container.delete_container()
