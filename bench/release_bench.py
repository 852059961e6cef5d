"""Benchmark commit-to-live and model-to-live through the Dagster daemon.

Starts `dagster dev` (UI, daemon, sensors) on a scenario of its own (tests.support.scenario:
a clone of this repository as the watched repository, a fresh models container,
namespace and Dagster instance), then alternates, --rounds times:

  commit-to-live  from `git commit` (under serving/) in the watched repository
  model-to-live   from the start of the upload of a newly trained model to Azurite

to the Deployment carrying that commit and model with its rollout complete (every new
pod Ready). Nothing in between is driven by the benchmark: the release sensor notices,
its run builds, smoke-tests, pushes and rolls out. Prints each round, then median and
max. Needs `make up`; `make bench-release` runs it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from liveline import settings  # noqa: E402
from tests.support.scenario import release_runs, release_ticks, scenario  # noqa: E402

TIMEOUT_S = 300


def run_step(instance, run_id: str) -> dict[str, float]:
    """Seconds per step of one release run, from its event log."""
    started: dict[str, float] = {}
    took: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = record.timestamp
        elif event.event_type_value == "STEP_SUCCESS" and event.step_key in started:
            took[event.step_key] = round(record.timestamp - started[event.step_key], 1)
    return took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="commit and model rounds each")
    defaults = settings.load()
    p.add_argument("--tick", type=int, default=defaults.sensor_interval_s, help="sensor s")
    p.add_argument("--settle", type=int, default=defaults.release_settle_s, help="settle s")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)

    figures: dict[str, list[float]] = {"commit-to-live": [], "model-to-live": []}
    with tempfile.TemporaryDirectory(prefix="release-bench-", dir=defaults.state_dir) as tmp:
        root = Path(tmp)
        with scenario(root, args.tick, args.settle) as sc, sc.instance() as instance:
            model = sc.publish(sc.train(C=1.0))
            time.sleep(args.tick + 1)  # the baseline tick adopts the first model
            for i in range(args.rounds):
                t0, wall = time.monotonic(), time.time()
                head = sc.commit(f"bench round {i}")
                sc.wait_live(head, model.version, TIMEOUT_S)
                figures["commit-to-live"].append(time.monotonic() - t0)
                report(instance, "commit", i, wall, figures["commit-to-live"][-1])

                model_dir = sc.train(C=0.5 / (i + 1))  # training is not part of the figure
                t0, wall = time.monotonic(), time.time()
                model = sc.publish(model_dir)
                sc.wait_live(head, model.version, TIMEOUT_S)
                figures["model-to-live"].append(time.monotonic() - t0)
                report(instance, "model", i, wall, figures["model-to-live"][-1])
            stamps = sorted(t["timestamp"] for t in release_ticks(sc.url))
            gaps = [b - a for a, b in itertools.pairwise(stamps)]

    summary: dict = {
        name: {"median_s": round(statistics.median(v), 1), "max_s": round(max(v), 1), "n": len(v)}
        for name, v in figures.items()
    }
    summary["tick_gap_median_s"] = round(statistics.median(gaps), 1)
    print(
        f"\nsensor interval {args.tick} s (ticks {summary['tick_gap_median_s']} s apart, median), "
        f"settle {args.settle} s, {args.rounds} rounds each:"
    )
    for name, row in summary.items():
        if not isinstance(row, dict):
            continue
        print(f"  {name:15s} median {row['median_s']:5.1f} s   max {row['max_s']:5.1f} s")
    if args.json:
        print(json.dumps(summary))
    return 0


def report(instance, what: str, i: int, t0_wall: float, seconds: float) -> None:
    """One round, with where its time went: until the sensor requested the run, until the
    run started, in the run, and after it (the rollout's last pods)."""
    run = release_runs(instance)[0]
    record = instance.get_run_record_by_id(run.run_id)
    requested = record.create_timestamp.timestamp() - t0_wall
    started = (record.start_time or 0) - t0_wall
    ended = record.end_time - t0_wall if record.end_time else float("nan")
    steps = run_step(instance, run.run_id)
    print(
        f"{what} round {i}: {seconds:5.1f} s = requested at {requested:4.1f} s, started "
        f"{started:4.1f} s, ended {ended:4.1f} s; steps {steps}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
