"""Facts passed between assets: the metadata of an upstream's latest materialization.

Assets hand each other facts (a path, a commit, an image id) through materialization
metadata rather than stored outputs, so a materialization reported from outside a run
(e.g. a sensor seeing a model published with `liveline publish`) carries all they need.
"""

from __future__ import annotations

from typing import Any

from dagster import AssetCheckKey, AssetKey, DagsterInstance, Failure


def latest_metadata(instance: DagsterInstance, key: AssetKey) -> dict[str, Any]:
    """Plain values of the metadata of key's latest materialization."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        raise Failure(f"{key.to_user_string()} has no materialization yet: materialize it first")
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def require_passed(instance: DagsterInstance, check: AssetCheckKey, **expected: Any) -> None:
    """Fail unless check's latest evaluation passed and its metadata holds `expected`."""
    name = f"{check.asset_key.to_user_string()}:{check.name}"
    record = instance.get_latest_asset_check_evaluation_record(check)
    evaluation = record.event.asset_check_evaluation if record and record.event else None
    if evaluation is None or not evaluation.passed:
        raise Failure(f"check {name} has not passed for the latest materialization: run it")
    seen = {k: v.value for k, v in evaluation.metadata.items()}
    for field, value in expected.items():
        if seen.get(field) != value:
            raise Failure(f"check {name} passed for {field}={seen.get(field)!r}, not {value!r}")
