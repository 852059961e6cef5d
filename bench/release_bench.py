"""Benchmark commit-to-live and model-to-live through the Dagster daemon.

Starts `dagster dev` (UI, daemon, sensors) and the receiver of push notifications, as
`make dev` does, on a scenario of its own (tests.support.scenario: a clone of this
repository with `liveline hooks install`'s git hooks as the watched repository, a fresh
models container, namespace and Dagster instance), then alternates, --rounds times:

  commit-to-live  from `git commit` (under serving/) in the watched repository
  model-to-live   from the start of the upload of a newly trained model to Azurite
                  (then the receiver is told, as `liveline publish` tells it)

to the Deployment carrying that commit and model with its rollout complete (every new
pod Ready). Nothing in between is driven by the benchmark: the receiver (or, with
--poll, the release sensor's poll alone) notices, the run builds, smoke-tests, pushes
and rolls out. Each round prints its phases, in seconds from the change: noticed (the
receiver's first notice, or the changed_at of the requesting tick's cursor), tick (the
requesting tick; the receiver's launch), requested (the run was created), started (its
process began), each step's end, ended (the run's end), live; and the requests that
failed for a client polling the Service all the while. Then the median and max of each
phase.
Needs `make up`; `make bench-release` runs it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402
from dagster import DagsterEventType  # noqa: E402

from devplatform import k8s_node  # noqa: E402
from liveline import settings  # noqa: E402
from liveline_cli.release_now import REQUESTED_BY_TAG  # noqa: E402
from tests.support.prober import Prober  # noqa: E402
from tests.support.scenario import release_runs, release_ticks, scenario  # noqa: E402

TIMEOUT_S = 300
RUN_END_TIMEOUT_S = 60  # the run records its end a moment after the rollout is complete
STEPS = ("app_source", "serving_image", "registry_image", "cluster_deployment")


# The run's own events before its start: the queue let it go, the launcher started it.
RUN_EVENTS = {DagsterEventType.RUN_DEQUEUED: "dequeued", DagsterEventType.RUN_STARTING: "launched"}


def step_ends(instance, run_id: str, t0_wall: float) -> dict[str, float]:
    """When the run was dequeued and launched and each step ended (success or failure),
    in s from the change."""
    ended: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.step_key is None and event.event_type in RUN_EVENTS:
            ended[RUN_EVENTS[event.event_type]] = record.timestamp - t0_wall
        elif (event.message or "").startswith("Started process for run"):  # the run worker's first
            ended["worker"] = record.timestamp - t0_wall
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ended[event.step_key] = record.timestamp - t0_wall
    return ended


def phases(sc, instance, run_id: str, t0_wall: float) -> dict[str, float]:
    """The round's phases, in s from the change (see the module's docstring)."""
    deadline = time.monotonic() + RUN_END_TIMEOUT_S
    while (record := instance.get_run_record_by_id(run_id)).end_time is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"run {run_id} did not end within {RUN_END_TIMEOUT_S} s of going live")
        time.sleep(0.2)
    requested = record.create_timestamp.timestamp() - t0_wall
    if record.dagster_run.tags.get(REQUESTED_BY_TAG):  # the receiver launched it
        nudged = receiver_status(sc)["last"]["nudged_at"]
        out = {"noticed": nudged - t0_wall, "tick": requested}
    else:
        tick = next(t for t in release_ticks(sc.url) if run_id in t["runIds"])
        out = {"noticed": json.loads(tick["cursor"])["changed_at"] - t0_wall,
               "tick": tick["timestamp"] - t0_wall}  # fmt: skip
    ends = step_ends(instance, run_id, t0_wall)
    launch = {k: ends[k] for k in (*RUN_EVENTS.values(), "worker") if k in ends}
    out |= {"requested": requested, **launch, "started": (record.start_time or 0) - t0_wall}
    missing = [s for s in STEPS if s not in ends]
    if missing:
        raise SystemExit(f"run {run_id} has no end for step(s) {missing}: {ends}")
    out.update({step: ends[step] for step in STEPS})
    out["ended"] = record.end_time - t0_wall
    return out


def receiver_status(sc) -> dict:
    url = f"http://127.0.0.1:{sc.s.webhook_port}/status"
    return requests.get(url, timeout=10).json()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="commit and model rounds each")
    defaults = settings.load()
    p.add_argument("--tick", type=int, default=defaults.sensor_interval_s, help="sensor s")
    p.add_argument("--settle", type=int, default=defaults.release_settle_s, help="settle s")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--poll", action="store_true",
                   help="no push notifications: the sensor's poll alone notices")  # fmt: skip
    args = p.parse_args(argv)

    rounds: dict[str, list[dict[str, float]]] = {"commit-to-live": [], "model-to-live": []}
    with tempfile.TemporaryDirectory(prefix="release-bench-", dir=defaults.state_dir) as tmp:
        root = Path(tmp)
        hooks = not args.poll
        with (
            scenario(root, args.tick, args.settle, hooks=hooks) as sc,
            sc.instance() as instance,
        ):
            model = sc.publish(sc.train(C=1.0))
            sc.wait_live(sc.head(), model.version, TIMEOUT_S)  # the baseline release
            url = k8s_node.node_port_url(sc.api, sc.s.k8s_namespace, sc.s.k8s_deployment)
            if not url:
                raise SystemExit("the Service has no NodePort: is the real node up?")
            head = sc.head()
            for i in range(args.rounds):
                for kind in rounds:
                    model_dir = sc.train(C=0.5 / (i + 1)) if kind == "model-to-live" else None
                    with Prober(f"{url}/readyz", interval_s=0.05) as served:
                        t0, wall = time.monotonic(), time.time()
                        if model_dir is None:
                            head = sc.commit(f"bench round {i}")
                        else:  # training is not part of the figure
                            model = sc.publish(model_dir)
                        sc.wait_live(head, model.version, TIMEOUT_S)
                        live = time.monotonic() - t0
                        row = phases(sc, instance, release_runs(instance)[0].run_id, wall)
                    row.update(live=live, failed=len(served.failed), sent=served.sent)
                    rounds[kind].append(row)
                    shown = ", ".join(f"{k} {v:.1f}" for k, v in row.items() if k not in
                                      ("failed", "sent"))  # fmt: skip
                    print(f"{kind} round {i}: {shown}; requests failed {row['failed']} of "
                          f"{row['sent']} {served.failed[:2]}", flush=True)  # fmt: skip

    summary = {kind: {phase: {"median_s": round(statistics.median(r[phase] for r in rows), 1),
                              "max_s": round(max(r[phase] for r in rows), 1)}
                      for phase in rows[0] if phase not in ("failed", "sent")}
               for kind, rows in rounds.items()}  # fmt: skip
    failed = {kind: sum(int(r["failed"]) for r in rows) for kind, rows in rounds.items()}
    how = "the sensor's poll alone" if args.poll else "push notifications (git hook, publish)"
    print(f"\n{how}; sensor interval {args.tick} s, settle {args.settle} s, {args.rounds} "
          "rounds each; s from the change, median (max):")  # fmt: skip
    for kind, row in summary.items():
        shown = ", ".join(f"{k} {v['median_s']} ({v['max_s']})" for k, v in row.items())
        print(f"  {kind}: {shown}")
        print(f"    requests failed during the rollouts: {failed[kind]}")
    if args.json:
        print(json.dumps({"phases": summary, "failed_requests": failed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
