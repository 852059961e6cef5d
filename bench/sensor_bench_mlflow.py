"""The sensor benchmark against the MLflow Model Registry (sensor_bench.py, with
LIVELINE_MODEL_STORE=mlflow): the registered model `bench-model` of the local tracking
server gets 10,000 old versions, then ticks are timed as for the object stores. The
old versions are registry records only (their source, one run, holds no files): a tick that is
O(new) never reads them; "listing" searches them all, what a sensor without a cursor
would pay on every tick."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dagster import instance_for_test
from sensor_ticks import Ticker, idle_and_new, report, timed

from liveline import settings
from liveline.modelstore import mlflow_registry
from liveline.modelstore.mlflow_rest import Client, RegistryError
from orchestration.sensors.release import build_release_sensor
from tests.support import models

MODEL = "bench-model"
OLD_VERSIONS = 10_000


def fill(client: Client, versions: int) -> int:
    """Old versions up to `versions` in all; how many the model has now."""
    try:
        client.post("registered-models/create", name=MODEL)
    except RegistryError as e:
        if e.code != "RESOURCE_ALREADY_EXISTS":
            raise
    page = client.get("model-versions/search", filter=f"name='{MODEL}'",
                      order_by="version_number DESC", max_results=1)  # fmt: skip
    have = int(page["model_versions"][0]["version"]) if page.get("model_versions") else 0

    # One run holds the old versions' (absent) files: the server wants a source in a run.
    experiment = client.get("experiments/get-by-name", experiment_name="Default")
    run = client.post("runs/create", experiment_id=experiment["experiment"]["experiment_id"])
    info = run["run"]["info"]

    def create(_: int) -> None:
        client.post("model-versions/create", name=MODEL, run_id=info["run_id"],
                    source=f"{info['artifact_uri']}/old")  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(max(0, versions - have))))
    return max(have, versions)


def every_version(client: Client) -> int:
    """How many versions the model has, by search pages: what a sensor without a
    cursor would read on every tick."""
    count, token = 0, ""
    while True:
        page = client.get("model-versions/search", filter=f"name='{MODEL}'",
                          max_results=1000, page_token=token)  # fmt: skip
        count += len(page.get("model_versions", []))
        if not (token := page.get("next_page_token", "")):
            return count


def main(args: argparse.Namespace) -> int:
    os.environ["LIVELINE_MLFLOW_MODELS"] = MODEL
    s = settings.load()
    sensor = build_release_sensor(s)
    print(f"model store: MLflow {mlflow_registry.tracking_uri(s)}, registered model {MODEL}")
    with mlflow_registry.connect(mlflow_registry.tracking_uri(s)) as client:
        store = mlflow_registry.MlflowStore(client, [MODEL])
        started = time.perf_counter()
        count = fill(client, OLD_VERSIONS)
        print(f"{MODEL}: {count} versions (filled in {time.perf_counter() - started:.1f} s)")

        def publish(c: float, tmp: Path) -> None:
            out = tmp / f"model-{c}"
            models.write(models.train(model_name=MODEL, C=c), out)
            store.publish(out)

        times: dict[str, list[float]] = {"idle": [], "new model": [], "listing": []}
        with tempfile.TemporaryDirectory() as tmp, instance_for_test() as instance:
            tick = Ticker(sensor, instance)
            nonce = uuid.uuid4().int % 10**6 / 10**9  # a version published before is not new
            publish(1.0 + nonce, Path(tmp))
            baseline = [timed(tick)]  # adopts the newest version
            idle_and_new(tick, lambda run: publish(0.5 + run / 100 + nonce, Path(tmp)),
                         args.ticks, times, lambda: every_version(client))  # fmt: skip
        if not args.keep:
            client.delete("registered-models/delete", name=MODEL)
    report(baseline, "adopting the newest version", times)
    return 0
