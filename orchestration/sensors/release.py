"""The release sensor: a new commit or a newly published model becomes one release run.

One sensor watches both sources, so a commit and a model that arrive in the same tick
build one image, not two: the run builds the pair (commit, newest verified model), and
its run_key names that pair, so a tick evaluated again after a daemon restart (the cursor
is saved after runs are launched) never runs it twice. Releases from later ticks queue
behind it on the `liveline/deploy` run tag (dagster.yaml runs those one at a time): the
last one wins, and each run's tags say which commit, model and trigger it was for.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations.

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Self

from dagster import (
    AssetMaterialization,
    AssetObservation,
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
)

from liveline import git, settings
from liveline.constants import (
    COMMIT_TAG,
    DATA_VERSION_TAG,
    MODEL_TAG,
    RELEASE_JOB,
    RUN_KEY_TAG,
    TRIGGER_TAG,
)
from liveline.git import watch as git_watch
from liveline.modelstore import PublishedModel
from orchestration import faults
from orchestration.assets.blob import model_blob
from orchestration.assets.image import app_source
from orchestration.facts import DeploymentFacts, PublishedModelFacts
from orchestration.resources.blob_store import BlobStoreResource
from orchestration.sensors.common import liveline_sensor

SENSOR_NAME = "release_sensor"


@dataclass
class ReleaseCursor:
    source: str = ""  # the watched repository (credentials redacted) and branch
    branch: str = ""
    head: str = ""  # the branch head seen last
    build: str = ""  # the newest commit that touched the watched paths
    pending: str = ""  # why a release is still owed (e.g. it waits for a first model)
    changed_at: float = 0.0  # when this sensor last saw a new commit or model (epoch s)
    requested: str = ""  # "<commit>:<model>" of the last release requested, until it is live
    attempt: int = 0  # retries of that release so far (its run_key ends with #<attempt>)
    models: dict = field(default_factory=dict)  # the model store's own cursor

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> Self:
        raw = json.loads(text) if text else {}
        # Fields this version does not know (a cursor from another version) are dropped.
        return cls(**_known(cls, raw))


def _known(kind: type, raw: dict) -> dict:
    names = {f.name for f in fields(kind)}
    return {k: v for k, v in raw.items() if k in names}


def build_release_sensor(s: settings.Settings) -> SensorDefinition:
    @liveline_sensor(
        s,
        SENSOR_NAME,
        "A new commit on the watched branch or a newly published model: release "
        "the pair (commit, newest model) to the cluster.",
        job_name=RELEASE_JOB,
    )
    def release_sensor(context: SensorEvaluationContext, blob_store: BlobStoreResource):
        s = settings.load()
        try:
            return evaluate(context, blob_store, s)
        except Exception as e:
            # The tick fails and its cursor is not saved, so the next tick after the
            # outage sees the same news: nothing is lost. The UI shows what to do.
            if faults.is_transient(e):
                raise faults.unavailable(e, s) from e
            raise

    return release_sensor


def watch_target(s: settings.Settings) -> tuple[str, str]:
    """The watched repository (path or URL) and branch."""
    source = s.watch_repo or str(s.app_repo)
    if s.watch_branch or s.app_branch:
        return source, s.watch_branch or s.app_branch
    local = not git_watch.is_remote(source)
    return source, git.checked_out_branch(Path(source)) if local else git.DEFAULT_BRANCH


def evaluate(
    context: SensorEvaluationContext, blob_store: BlobStoreResource, s: settings.Settings
) -> SensorResult:
    last = ReleaseCursor.load(context.cursor)
    source, branch = watch_target(s)
    repo = git_watch.checkout(source, branch, s.state_dir / "git-cache")
    paths = git_watch.parse_paths(s.watch_paths)
    change = git_watch.poll(repo, branch, paths, last.head, last.build)
    context.log.info("%s %s: %s at %s", git_watch.redact(source), branch, change.kind, change.head)
    now = time.time()
    with blob_store.models() as store:
        found = store.poll(last.models, now, s.model_sweep_s)
    for prefix, why in found.rejected.items():
        context.log.warning("passed over published model %s: %s", prefix, why)
    events = []
    if found.newest and not _recorded(context, found.newest):  # else a run recorded it
        events.append(model_blob_event(found.newest))
    if change.wants_build:  # the UI shows the commit waiting, until a run builds it
        events.append(commit_seen(source, branch, change))
    # What is owed a release: this tick's triggers, and any that had to wait for a model.
    owed = set(filter(None, last.pending.split("+")))
    owed |= {"commit"} if change.wants_build else set()
    owed |= {"model"} if found.newest else set()
    pending = "+".join(t for t in ("commit", "model") if t in owed)
    fresh = change.wants_build or found.newest is not None
    changed_at = now if fresh else last.changed_at
    cursor = ReleaseCursor(
        git_watch.redact(source), branch, change.head, change.build, pending, changed_at,
        models=found.cursor,
    )  # fmt: skip
    model = found.current

    def skip(why: str) -> SensorResult:
        return SensorResult(asset_events=events, cursor=cursor.dump(), skip_reason=why)

    def release(trigger: str) -> SensorResult:
        commit, _, model = cursor.requested.partition(":")
        app = {"repo": str(repo), "commit": commit, "branch": branch}
        request = RunRequest(
            run_key=run_key(cursor.requested, cursor.attempt),
            run_config={"ops": {"app_source": {"config": app}}},
            tags={COMMIT_TAG: commit, MODEL_TAG: model, TRIGGER_TAG: trigger},
        )
        return SensorResult(run_requests=[request], asset_events=events, cursor=cursor.dump())

    if pending and not model:
        return skip(f"{change.build[:12]} waits for a verified published model")
    quiet = now - changed_at
    if pending and quiet < s.release_settle_s:
        # A commit and a model that arrive together (within the settle time) become one
        # release, whichever tick saw each: one image is built, not two racing.
        return skip(
            f"{pending} seen {quiet:.0f} s ago; releasing after {s.release_settle_s} s quiet"
        )
    if pending:  # a new pair replaces any release still owed
        cursor.pending, cursor.requested, cursor.attempt = "", f"{change.build}:{model}", 0
        live = _live_already(context, change.build, model)
        if live:
            cursor.requested = ""
            return skip(live)
        return release(pending)
    nothing_new = f"branch {branch} {change.kind}; no newly published model"
    if not last.requested:
        return skip(nothing_new)
    # Nothing new, but the last release is owed until it is live (its run may have failed).
    cursor.requested, cursor.attempt = last.requested, last.attempt
    commit, _, owed_model = last.requested.partition(":")
    if _live_already(context, commit, owed_model):
        cursor.requested, cursor.attempt = "", 0
        return skip(nothing_new)
    why = retry_due(context, last, now, s)
    if why:
        return skip(why)
    cursor.attempt += 1
    return release("retry")


def run_key(pair: str, attempt: int) -> str:
    """The first request of a release is keyed by its pair; each retry gets a key of its
    own (the daemon never runs a key twice, so the same key could not run again)."""
    return pair if attempt == 0 else f"{pair}#{attempt}"


def retry_due(
    context: SensorEvaluationContext, last: ReleaseCursor, now: float, s: settings.Settings
) -> str:
    """Why the last requested release needs no new run now ("" when a retry is due).

    A release whose run failed (a service was down, say) is owed until its pair is live:
    it is requested again after a backoff (retry_backoff_s, doubling), at most
    release_retries times; a newer commit or model replaces it.
    """
    key = run_key(last.requested, last.attempt)
    runs = context.instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: key}), limit=1)
    if not runs:
        return f"the run for {key} is not created yet"
    run = runs[0]
    if run.status not in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
        return f"run {run.run_id} for {key} is {run.status.value.lower()}"
    if last.attempt >= s.release_retries:
        return (
            f"release {last.requested} failed {last.attempt + 1} times (last: run "
            f"{run.run_id}); fix the cause and commit or publish again, or re-execute that run"
        )
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record and record.end_time else now
    wait = s.release_retry_backoff_s * 2**last.attempt - (now - ended)
    if wait > 0:
        return f"run {run.run_id} for {key} failed; retrying in {wait:.0f} s"
    context.log.warning("retrying release %s after failed run %s", last.requested, run.run_id)
    return ""


def _live_already(context: SensorEvaluationContext, commit: str, model: str) -> str:
    """Why no release is needed ("" if one is): this pair is what the cluster runs."""
    live = DeploymentFacts.latest_or_none(context.instance)
    if live and (live.code_revision, live.model_version) == (commit, model.split("/")[1]):
        return f"{commit[:12]} with {model} is live already"
    return ""


def model_blob_event(model: PublishedModel) -> AssetMaterialization:
    """model_blob's materialization for a version published outside a run, with the same
    metadata and data version as the asset records."""
    return AssetMaterialization(
        asset_key=model_blob.key,
        description=f"{model.name} {model.version}, published outside a run ({SENSOR_NAME})",
        metadata={
            **PublishedModelFacts.of(model, newly_published=True).to_metadata(),
            "reported_by": SENSOR_NAME,
        },
        tags={DATA_VERSION_TAG: model.version},
    )


def commit_seen(source: str, branch: str, change: git_watch.Change) -> AssetObservation:
    """An observation of app_source: a commit to build, seen on the watched branch."""
    return AssetObservation(
        asset_key=app_source.key,
        description=f"{change.build[:12]} on {branch}: {change.kind}, not built yet",
        metadata={
            "commit": change.build,
            "branch": branch,
            "repository": git_watch.redact(source),
            "change": change.kind,
            "reported_by": SENSOR_NAME,
        },
    )


def _recorded(context: SensorEvaluationContext, model: PublishedModel) -> bool:
    facts = PublishedModelFacts.latest_or_none(context.instance)
    return facts is not None and (facts.model_version, facts.card_etag) == (
        model.version,
        model.card_etag,
    )
