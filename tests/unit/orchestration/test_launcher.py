"""The warm run launcher: runs forked from its fork server succeed, fail and cancel as
runs started by Dagster's own launcher do, and a run it cannot fork is handed to that."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from dagster import (
    DagsterRunStatus,
    DefaultRunLauncher,
    in_process_executor,
    job,
    op,
    reconstructable,
)
from dagster._core.launcher import LaunchRunContext, WorkerStatus
from dagster._core.test_utils import instance_for_test, poll_for_finished_run

from orchestration.launcher import PID_TAG, WarmRunLauncher

TIMEOUT_S = 60
MARK = "LIVELINE_TEST_LAUNCHER_DIR"  # where the ops leave their traces


@op
def leave_pid() -> None:
    (Path(os.environ[MARK]) / "ran").write_text(str(os.getpid()))


@op
def fail() -> None:
    raise RuntimeError("this op fails on purpose")


@op
def wait_forever() -> None:
    (Path(os.environ[MARK]) / "waiting").write_text("")
    time.sleep(TIMEOUT_S * 2)


@job(executor_def=in_process_executor)  # the run worker runs the op itself
def succeeding():
    leave_pid()


@job(executor_def=in_process_executor)  # the run worker runs the op itself
def failing():
    fail()


@job(executor_def=in_process_executor)  # the run worker runs the op itself
def hanging():
    wait_forever()


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.setenv(MARK, str(tmp_path))
    launcher = {"module": "orchestration.launcher", "class": "WarmRunLauncher",
                "config": {"preload_modules": ["dagster"]}}  # fmt: skip
    with instance_for_test(overrides={"run_launcher": launcher}) as instance:
        assert isinstance(instance.run_launcher, WarmRunLauncher)
        yield instance


def launch(instance, job_def) -> str:
    recon = reconstructable(job_def)
    run = instance.create_run_for_job(job_def, job_code_origin=recon.get_python_origin())
    instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    return run.run_id


def test_a_run_succeeds_in_a_forked_worker(instance, tmp_path):
    run_id = launch(instance, succeeding)
    run = poll_for_finished_run(instance, run_id, timeout=TIMEOUT_S)
    assert run.status == DagsterRunStatus.SUCCESS
    worker = int(run.tags[PID_TAG])
    assert int((tmp_path / "ran").read_text()) == worker != os.getpid()


def test_a_failing_run_is_recorded_failed(instance):
    run = poll_for_finished_run(instance, launch(instance, failing), timeout=TIMEOUT_S)
    assert run.status == DagsterRunStatus.FAILURE
    failures = [
        str(r.dagster_event.event_specific_data)
        for r in instance.all_logs(run.run_id)
        if r.dagster_event and r.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    assert len(failures) == 1 and "fails on purpose" in failures[0], failures


def test_terminate_cancels_a_running_run(instance, tmp_path):
    run_id = launch(instance, hanging)
    deadline = time.monotonic() + TIMEOUT_S
    while not (tmp_path / "waiting").exists():
        assert time.monotonic() < deadline, "the run never reached its op"
        time.sleep(0.1)
    run = instance.get_run_by_id(run_id)
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
    assert instance.run_launcher.terminate(run_id)
    run = poll_for_finished_run(instance, run_id, timeout=TIMEOUT_S)
    assert run.status == DagsterRunStatus.CANCELED
    deadline = time.monotonic() + TIMEOUT_S
    while instance.run_launcher.check_run_worker_health(run).status != WorkerStatus.FAILED:
        assert time.monotonic() < deadline, "the run worker outlived its canceled run"
        time.sleep(0.1)
    assert not instance.run_launcher.terminate(run_id)  # finished: nothing to do


def test_a_run_for_another_python_goes_to_dagsters_launcher(instance, monkeypatch):
    recon = reconstructable(succeeding)
    origin = recon.get_python_origin()
    other = origin._replace(
        repository_origin=origin.repository_origin._replace(executable_path="/usr/bin/python9")
    )
    run = instance.create_run_for_job(succeeding, job_code_origin=other)
    handed = []
    monkeypatch.setattr(DefaultRunLauncher, "launch_run", lambda self, ctx: handed.append(ctx))
    instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    assert [c.dagster_run.run_id for c in handed] == [run.run_id]
    assert PID_TAG not in instance.get_run_by_id(run.run_id).tags
