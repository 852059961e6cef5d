"""The release sensor evaluated now, through the Dagster webserver's GraphQL API: what a
push notification asks for instead of waiting for the daemon, which wakes its sensors
every 5 s at best (dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME).

The decision stays the sensor's own: its code runs in the code server (a dry run from
the cursor the daemon saved, then again from the cursor that evaluation returned, until
the sensor's settle time has passed with nothing new), and a run it requests is launched
with the sensor's name and the request's run_key as tags, exactly as the daemon tags its
own. The daemon's next tick asks for the same run_key, finds that run and launches
nothing (dagster's fetch_existing_runs); the cursor stays the daemon's to save, and the
polling sensor remains the safety net for a notification that never came.

Hand-written GraphQL (requests): dagster-graphql's client has no sensor dry run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import requests
import yaml

from liveline.constants import RELEASE_JOB
from orchestration.sensors.release import SENSOR_NAME, ReleaseCursor

log = logging.getLogger("liveline_cli.release_now")
LOCATION, REPOSITORY = "liveline", "__repository__"
RUN_KEY_TAG, SENSOR_TAG = "dagster/run_key", "dagster/sensor_name"
REQUESTED_BY_TAG = "liveline/requested-by"
HTTP_TIMEOUT_S = 30
SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
            "sensorName": SENSOR_NAME}  # fmt: skip

CURSOR_QUERY = """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { status typeSpecificData {
    ... on SensorData { lastCursor } } } } ... on PythonError { message } } }"""
DRY_RUN = """mutation($selector: SensorSelector!, $cursor: String) {
  sensorDryRun(selectorData: $selector, cursor: $cursor) {
    __typename ... on DryRunInstigationTick { evaluationResult {
      runRequests { runKey jobName runConfigYaml tags { key value } }
      skipReason cursor error { message } } }
    ... on PythonError { message } ... on SensorNotFoundError { message } } }"""
RUNS_QUERY = """query($filter: RunsFilter!) { runsOrError(filter: $filter) {
  __typename ... on Runs { results { runId } } ... on PythonError { message } } }"""
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message } ... on InvalidStepError { invalidStepKey }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on UnauthorizedError { message } ... on PipelineNotFoundError { message } } }"""


class ReleaseNowError(RuntimeError):
    """The webserver or the sensor could not be asked; the message says which and why."""


@dataclass
class Evaluation:
    run_requests: list[dict[str, Any]]
    skip_reason: str
    cursor: str | None


@dataclass
class Outcome:
    launched: list[str] = field(default_factory=list)  # run ids
    existing: list[str] = field(default_factory=list)  # run keys that already had a run
    skipped: str = ""  # the sensor's last skip reason, when it requested nothing
    evaluations: int = 0


class SensorApi:
    """The release sensor of the Dagster webserver at url."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def _graphql(self, query: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
        try:
            r = self.session.post(f"{self.url}/graphql", json={"query": query,
                                  "variables": variables}, timeout=HTTP_TIMEOUT_S)  # fmt: skip
            r.raise_for_status()
            body = r.json()
        except (requests.RequestException, ValueError) as e:
            raise ReleaseNowError(f"the Dagster webserver at {self.url} did not answer "
                                  f"({e}); is `make dev` running?") from e  # fmt: skip
        if body.get("errors"):
            raise ReleaseNowError(f"{root} at {self.url}: {body['errors'][0].get('message')}")
        found: dict[str, Any] = body["data"][root]
        if "message" in found and found.get("__typename") not in (None, "Sensor", "Runs"):
            raise ReleaseNowError(f"{root}: {found['__typename']}: {found['message']}")
        return found

    def cursor(self) -> str | None:
        """The cursor the daemon saved with the sensor's last successful tick."""
        found = self._graphql(CURSOR_QUERY, {"selector": SELECTOR}, "sensorOrError")
        data = found["sensorState"]["typeSpecificData"] or {}
        cursor: str | None = data.get("lastCursor")
        return cursor

    def dry_run(self, cursor: str | None) -> Evaluation:
        found = self._graphql(DRY_RUN, {"selector": SELECTOR, "cursor": cursor}, "sensorDryRun")
        result = found["evaluationResult"]
        if result.get("error"):
            raise ReleaseNowError(f"{SENSOR_NAME} failed: {result['error']['message']}")
        return Evaluation(result.get("runRequests") or [], result.get("skipReason") or "",
                          result.get("cursor"))  # fmt: skip

    def runs_with_key(self, run_key: str) -> list[str]:
        tags = [{"key": RUN_KEY_TAG, "value": run_key}, {"key": SENSOR_TAG, "value": SENSOR_NAME}]
        found = self._graphql(RUNS_QUERY, {"filter": {"tags": tags}}, "runsOrError")
        return [r["runId"] for r in found["results"]]

    def launch(self, request: dict[str, Any], requested_by: str) -> str:
        tags = {t["key"]: t["value"] for t in request["tags"]}
        tags |= {SENSOR_TAG: SENSOR_NAME, RUN_KEY_TAG: request["runKey"],
                 REQUESTED_BY_TAG: requested_by}  # fmt: skip
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                         # None: the sensor's own target job.
                         "jobName": request["jobName"] or RELEASE_JOB},
            "runConfigData": yaml.safe_load(request["runConfigYaml"]) or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }  # fmt: skip
        found = self._graphql(LAUNCH, {"params": params}, "launchRun")
        if found["__typename"] != "LaunchRunSuccess":
            raise ReleaseNowError(f"launching {request['runKey']}: {found}")
        run_id: str = found["run"]["runId"]
        return run_id


def release_now(api: SensorApi, settle_s: float, requested_by: str, timeout_s: float) -> Outcome:
    """Evaluate the release sensor now and launch what it requests. While a change it has
    seen is younger than the settle time, wait for the rest of it and evaluate again
    from the returned cursor: a commit and a model that arrive together still make one
    release."""
    outcome = Outcome()
    deadline = time.monotonic() + timeout_s
    cursor = api.cursor()
    while True:
        evaluation = api.dry_run(cursor)
        outcome.evaluations += 1
        for request in evaluation.run_requests:
            if api.runs_with_key(request["runKey"]):  # the daemon (or a twin) was first
                outcome.existing.append(request["runKey"])
                continue
            outcome.launched.append(api.launch(request, requested_by))
            log.info("launched run %s for %s", outcome.launched[-1], request["runKey"])
        if evaluation.run_requests:
            return outcome
        outcome.skipped = evaluation.skip_reason
        state = ReleaseCursor.load(evaluation.cursor)
        wait = state.changed_at + settle_s - time.time()
        if not state.pending or wait <= 0:  # nothing owed, or owed but not releasable
            return outcome
        if time.monotonic() + wait > deadline:
            raise ReleaseNowError(f"{SENSOR_NAME} still settling after {timeout_s:.0f} s")
        time.sleep(wait + 0.05)
        cursor = evaluation.cursor
