"""Benchmark the release sensor's tick against a model store holding 10,000 objects.

Fills a dedicated container or bucket (default `bench-sensor`) of the chosen store
(LIVELINE_MODEL_STORE: the local Azurite, or SeaweedFS for s3) with 5,000 old versions
(artifact + card: 10,000 small objects), publishes one real model, and times whole
ticks of release_sensor (git included) as the daemon evaluates them:

  idle       nothing new since the last tick (the journal read)
  new model  a newly trained model published, with its journal entry, since the last tick
  sweep      a tick that also sweeps the whole container (every LIVELINE_MODEL_SWEEP_S)
  listing    one listing of the whole container: what a sensor without the journal
             would pay on every tick

With mlflow, the registered model `bench-model` of the local tracking server gets
10,000 old versions instead (bench/sensor_bench_mlflow.py), and "listing" is a search
of all its versions; there is no sweep.

Prints the median over --ticks. Needs `make up`. The container is deleted at the end
unless --keep (filling it takes about half a minute; MLflow's versions, 5-15 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sensor_bench_mlflow  # noqa: E402
from dagster import instance_for_test  # noqa: E402
from sensor_ticks import Ticker, idle_and_new, report, timed  # noqa: E402

from liveline import modelstore, settings  # noqa: E402
from liveline.modelstore.objects import Bucket, listing  # noqa: E402
from orchestration.sensors.release import build_release_sensor  # noqa: E402
from tests.support import models  # noqa: E402

OLD_VERSIONS = 5_000  # x 2 blobs


def fill(bucket: Bucket, versions: int) -> None:
    """Old versions named like real ones; their cards predate the real model's."""
    have = sum(1 for _ in listing(bucket, "bench-model/", 5000))
    if have >= 2 * versions:
        return
    metadata = {"sha256": "0" * 64, "published_at": "2020-01-01T00:00:00+00:00"}

    def upload(i: int) -> None:
        prefix = f"bench-model/{uuid.uuid4().hex[:16]}"
        for name in ("model.skops", "model_card.json"):
            bucket.put(f"{prefix}/{name}", b"x" * 256, metadata, "application/octet-stream")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, range(versions - have // 2)))


def delete(bucket: Bucket) -> None:
    """The benchmark's own container or bucket, with everything in it."""
    if isinstance(bucket, modelstore.AzureBucket):
        bucket.container.delete_container()
        return
    assert isinstance(bucket, modelstore.S3Bucket)
    for page in bucket.pages("", 1000):
        if page.objects:
            objects = [{"Key": o.name} for o in page.objects]
            bucket.s3.delete_objects(Bucket=bucket.bucket, Delete={"Objects": objects})
    bucket.s3.delete_bucket(Bucket=bucket.bucket)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--container", default="bench-sensor", help="container or bucket")
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the filled container")
    args = parser.parse_args()
    os.environ["LIVELINE_MODELS_CONTAINER"] = args.container
    os.environ["LIVELINE_MODELS_BUCKET"] = args.container
    os.environ["LIVELINE_MODEL_SWEEP_S"] = "3600"
    s = settings.load()
    if s.model_store == "mlflow":
        return sensor_bench_mlflow.main(args)
    sensor = build_release_sensor(s)
    print(f"model store: {modelstore.location(s)}")
    with modelstore.open_bucket(s) as bucket:
        bucket.ensure()
        started = time.perf_counter()
        fill(bucket, OLD_VERSIONS)
        blobs = sum(1 for _ in listing(bucket, "", 5000))
        print(
            f"{args.container}: {blobs} objects (filled in {time.perf_counter() - started:.1f} s)"
        )

        def publish(c: float, tmp: Path) -> None:
            out = tmp / f"model-{c}"
            models.write(models.train(C=c), out)
            modelstore.publish(bucket, out)  # with its journal entry

        times: dict[str, list[float]] = {"idle": [], "new model": [], "sweep": [], "listing": []}
        with tempfile.TemporaryDirectory() as tmp, instance_for_test() as instance:
            tick = Ticker(sensor, instance)
            # A C of its own per invocation: a version published before is not new.
            nonce = uuid.uuid4().int % 10**6 / 10**9
            publish(1.0 + nonce, Path(tmp))
            baseline = [timed(tick)]  # the first ticks sweep everything, 2 pages per tick
            while json.loads(tick.cursor or "{}")["models"]["sweeping"]:
                baseline.append(timed(tick))
            idle_and_new(tick, lambda run: publish(0.5 + run / 100 + nonce, Path(tmp)),
                         args.ticks, times)  # fmt: skip
            os.environ["LIVELINE_MODEL_SWEEP_S"] = "0"
            for _ in range(args.ticks):
                times["sweep"].append(timed(tick))
                times["listing"].append(timed(lambda: sum(1 for _ in listing(bucket, "", 5000))))
        if not args.keep:
            delete(bucket)
    report(baseline, "sweeping the container", times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
