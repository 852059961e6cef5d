"""A run launcher whose run workers start warm: forked from a server with Dagster and the
code location's libraries already imported.

Dagster's DefaultRunLauncher hands each run to the code server, which starts it with
multiprocessing's "spawn" (hard-coded in dagster._grpc.server): a new interpreter that
imports dagster and the code location before the run can begin, about 4 s of every
release on this kind of machine. Dagster offers no setting for it, hence this class.
Python's forkserver does the rest: a server process imports `preload_modules` once,
then forks one child per run, which imports only the code location's own modules (from
disk, so a changed repository is what runs) and runs `dagster api execute_run`, the
command every Dagster launcher runs, in-process.

A run whose code location is served by another Python than this one is handed to the
DefaultRunLauncher, as is every run when the platform has no fork (Windows).
Configured in dagster.yaml (`run_launcher`); production instances choose their own.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import DefaultRunLauncher, Field
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClassData, serialize_value

PID_TAG = "liveline/run-worker-pid"


def run_worker(args: Sequence[str], environ: Mapping[str, str], cwd: str) -> None:
    """The forked child: `dagster api execute_run ...`, in this process, with the
    launching process's environment and directory (the fork server's are those of the
    moment it started)."""
    from dagster._cli import cli

    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    cli.main(args=list(args), prog_name="dagster")  # exits with the command's status


class WarmRunLauncher(DefaultRunLauncher):
    """Starts each run's process by forking a warm server (see the module's docstring)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None,
                 preload_modules: Sequence[str] = ("dagster",)) -> None:  # fmt: skip
        super().__init__(inst_data=inst_data)
        self._preload = list(preload_modules)
        self._workers: dict[str, multiprocessing.process.BaseProcess] = {}
        self._lock = threading.Lock()
        self._context: Any = None

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "preload_modules": Field(
                [str],
                is_required=False,
                default_value=["dagster"],
                description="Modules the fork server imports once, for every run: "
                "libraries only (a run imports the code location's own modules from disk).",
            )
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> WarmRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def _forkserver(self) -> Any:
        """The forkserver context, its server started on first use (it imports the
        preload list then: the first run waits for it, as it would for a spawn)."""
        if self._context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(self._preload)
            self._context = context
        return self._context

    def _forkable(self, run: DagsterRun) -> bool:
        origin = run.job_code_origin
        return (
            "forkserver" in multiprocessing.get_all_start_methods()
            and origin is not None
            and os.path.realpath(origin.executable_path) == os.path.realpath(sys.executable)
        )

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if not self._forkable(run):
            super().launch_run(context)
            return
        execute = ExecuteRunArgs(
            job_origin=run.job_code_origin,  # type: ignore[arg-type]  # checked above
            run_id=run.run_id,
            instance_ref=self._instance.get_ref(),
        )
        args = ["api", "execute_run", serialize_value(execute)]
        with self._lock:
            self._reap()
            worker = self._forkserver().Process(
                target=run_worker,
                args=(args, dict(os.environ), os.getcwd()),
                name=f"dagster-run-{run.run_id}",
            )
            worker.start()
            self._workers[run.run_id] = worker
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(worker.pid)})

    def _reap(self) -> None:
        """Forget the workers that ended (each holds a file descriptor until closed)."""
        for run_id, worker in list(self._workers.items()):
            if not worker.is_alive():
                worker.close()
                del self._workers[run_id]

    def _worker_pid(self, run: DagsterRun) -> int | None:
        pid = run.tags.get(PID_TAG)
        return int(pid) if pid and pid.isdigit() else None

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        pid = self._worker_pid(run) if run else None
        if run is None or pid is None:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        try:  # as Ctrl-C would: the run worker ends its step and records the run canceled
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            self._instance.report_run_canceled(run, message=f"Run worker {pid} had ended.")
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = self._worker_pid(run)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no run worker pid recorded")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker {pid} is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING)
