"""Benchmark serving images on the local Docker engine, for each runtime: builds (cold,
model-only, code-only), the image's size, and container start to /readyz 200.

Cold: no layer cache for our steps (the base image and wheel cache exist). Model-only: a
newly trained model, same code. Code-only: one changed source file, same model. The ONNX
image serves the model's graph on onnxruntime; the skops image (the same model without
its graph, as publishing leaves a model skl2onnx cannot convert) runs scikit-learn.
Prints medians and max over --runs. Needs `make up` (make bench-image).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker.errors

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devplatform import docker_engine  # noqa: E402
from devplatform.layout import Layout  # noqa: E402
from liveline import images, settings  # noqa: E402
from liveline.images import smoke  # noqa: E402
from tests.support import models  # noqa: E402

RUNTIMES = ("onnx", "skops")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    s = settings.load()
    client = docker_engine.client(Layout(s))
    times = {rt: {"cold": [], "model-only": [], "code-only": [], "start": []} for rt in RUNTIMES}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "source"
        revision = images.export_commit(REPO, "HEAD", source)

        def build(runtime: str, kind: str, run: int, model_c: float, nocache: bool = False):
            model_dir = tmp / f"model-{runtime}-{kind}-{run}"
            models.write(models.train(C=model_c), model_dir)
            if runtime == "skops":
                models.skops_only(model_dir, "bench: the skops image")
            context, build_args = images.prepare(
                source, model_dir, tmp / f"ctx-{runtime}-{kind}-{run}", s.wheels_dir,
                revision=revision, source_label="bench", base_image=s.base_image,
                build_image=s.build_image,
                created="bench",
            )  # fmt: skip
            ref = f"{s.registry}/{s.serving_repository}-bench:{runtime}-{kind}-{run}"
            built = images.build(client, context, ref, build_args, nocache=nocache)
            if kind in times[runtime]:
                times[runtime][kind].append(built.seconds)
            sizes[runtime] = built.size
            print(f"  {runtime:5} {kind:10} run {run}: {built.seconds:6.2f} s, "
                  f"{built.cached_steps}/{built.steps} steps cached", flush=True)  # fmt: skip
            if nocache:
                # The classic builder picks among equal cache candidates at random: leave
                # the uncached chain behind and later builds may miss the cache.
                client.images.remove(ref)
                for stage in built.stage_ids[:-1]:
                    # The deps stage is the image's parent: removing the image took it.
                    with contextlib.suppress(docker.errors.ImageNotFound):
                        client.images.remove(stage)
            return ref

        # Unique per invocation: an edit or model seen by an earlier bench would be cached.
        nonce = time.time_ns()
        for runtime in RUNTIMES:
            ref = build(runtime, "warm-up", 0, 1.0)  # ensures a cached chain exists
            for n in range(args.starts):
                started = time.monotonic()
                with smoke.running(client, ref, name=f"liveline-bench-start-{n}"):
                    times[runtime]["start"].append(time.monotonic() - started)
            for run in range(args.runs):
                c = 1.0 + (nonce % 100_000 + run) / 1e7
                build(runtime, "cold", run, 1.0, nocache=True)
                build(runtime, "model-only", run, c)
                with (source / "serving" / "__init__.py").open("a") as f:
                    f.write(f"# bench edit {nonce} {runtime} {run}\n")
                build(runtime, "code-only", run, c)
    for runtime in RUNTIMES:
        print(f"{runtime} image: {sizes[runtime] / 1e6:.0f} MB")
        for kind, values in times[runtime].items():
            print(f"  {kind:10}: median {statistics.median(values):6.2f} s  "
                  f"max {max(values):6.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
