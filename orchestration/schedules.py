"""The nightly release: roll the newest verified image out (registry_image ->
cluster_deployment), without rebuilding. Off unless LIVELINE_RELEASE_SCHEDULE_RUNNING=1;
its cron and timezone come from settings when the code location loads."""

# No `from __future__ import annotations`: Dagster reads the resource annotations.

from dagster import (
    AssetCheckKey,
    DagsterInstance,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from liveline import settings
from liveline.constants import NIGHTLY_JOB, SMOKE_CHECK, TRIGGER_TAG
from orchestration.assets.image import serving_image
from orchestration.facts import DeploymentFacts, ImageFacts, PushedImageFacts


def build_nightly_release(s: settings.Settings) -> ScheduleDefinition:
    @schedule(
        name="nightly_release",
        job_name=NIGHTLY_JOB,
        cron_schedule=s.release_cron,
        execution_timezone=s.release_timezone,
        default_status=DefaultScheduleStatus.RUNNING
        if s.release_schedule_running
        else DefaultScheduleStatus.STOPPED,
        description="Roll the newest smoke-tested image out to the cluster.",
    )
    def nightly_release(context: ScheduleEvaluationContext):
        why = nothing_to_release(context.instance)
        if why:
            return SkipReason(why)
        night = context.scheduled_execution_time
        return RunRequest(
            run_key=f"nightly-{night.isoformat()}" if night else None,
            tags={TRIGGER_TAG: "nightly"},
        )

    return nightly_release


def nothing_to_release(instance: DagsterInstance) -> str:
    """Why a release would change nothing or must not happen; "" when one is due."""
    built = ImageFacts.latest_or_none(instance)
    if built is None:
        return "no serving image has been built yet"
    record = instance.get_latest_asset_check_evaluation_record(
        AssetCheckKey(serving_image.key, SMOKE_CHECK)
    )
    evaluation = record.event.asset_check_evaluation if record and record.event else None
    tested = evaluation.metadata.get("image_id") if evaluation else None
    if evaluation is None or not evaluation.passed or tested.value != built.image_id:
        return f"the newest serving image {built.image_id[:19]} has not passed its smoke test"
    pushed = PushedImageFacts.latest_or_none(instance)
    live = DeploymentFacts.latest_or_none(instance)
    newest_is_pushed = pushed is not None and pushed.image_id == built.image_id
    if newest_is_pushed and live is not None and live.digest == pushed.digest:
        return f"{pushed.reference} is live already"
    return ""
