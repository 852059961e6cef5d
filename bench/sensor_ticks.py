"""Timing release_sensor ticks as the daemon evaluates them (shared by the sensor
benchmarks): a tick from the cursor the previous one returned, and the report."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from dagster import DagsterInstance, SensorDefinition, build_sensor_context

from liveline import settings
from orchestration.resources.blob_store import BlobStoreResource


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class Ticker:
    """Ticks of one sensor on one instance; `cursor` and `reported` (asset events per
    tick) as the ticks left them."""

    def __init__(self, sensor: SensorDefinition, instance: DagsterInstance) -> None:
        self.sensor, self.instance = sensor, instance
        self.cursor: str | None = None
        self.reported: list[int] = []

    def __call__(self) -> None:
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"blob_store": BlobStoreResource.from_settings(settings.load())},
        )
        result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor
        self.reported.append(len(result.asset_events))


def idle_and_new(
    tick: Ticker, publish: Callable[[int], None], rounds: int, times: dict[str, list[float]],
    listing: Callable[[], object] | None = None,
) -> None:  # fmt: skip
    """Per round: a tick with nothing new, publish(round) (not timed), a tick that must
    report exactly that model, and (if given) one listing of the whole store."""
    for run in range(rounds):
        times["idle"].append(timed(tick))
        publish(run)
        times["new model"].append(timed(tick))
        if tick.reported[-1] != 1:
            raise SystemExit(f"the new model was not reported: {tick.reported}")
        if listing is not None:
            times["listing"].append(timed(listing))


def report(baseline: list[float], what: str, times: dict[str, list[float]]) -> None:
    shown = ", ".join(f"{t * 1000:.0f}" for t in baseline)
    print(f"baseline: {len(baseline)} ticks {what}, {shown} ms")
    for kind, values in times.items():
        ms = [v * 1000 for v in values]
        spread = f"min {min(ms):.1f}, max {max(ms):.1f}, n={len(ms)}"
        print(f"{kind:<10} median {statistics.median(ms):7.1f} ms  ({spread})")
