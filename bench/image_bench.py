"""Benchmark serving-image builds on the local Docker engine: cold, model-only, code-only.

Cold: no layer cache for our steps (the base image and wheel cache exist). Model-only: a
newly trained model, same code. Code-only: one changed source file, same model. Prints
medians and max over --runs, plus the image size. Needs `make up` (make bench-image).
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

from devplatform import docker_engine  # noqa: E402
from devplatform.layout import Layout  # noqa: E402
from liveline import images, settings  # noqa: E402
from liveline.images.wheels import ensure_wheels  # noqa: E402
from model_training import TrainingConfig, train  # noqa: E402
from model_training.artifact import write_model  # noqa: E402
from model_training.data import load_dataset  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    s = settings.load()
    client = docker_engine.client(Layout(s))
    wheels = ensure_wheels(REPO / "serving" / "requirements.txt", s.wheels_dir)
    dataset = load_dataset()
    times: dict[str, list[float]] = {"warm-up": [], "cold": [], "model-only": [], "code-only": []}
    size = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "source"
        revision = images.export_commit(REPO, "HEAD", source)

        def build(kind: str, run: int, model_c: float, nocache: bool = False) -> None:
            nonlocal size
            model = train(TrainingConfig(C=model_c), dataset)
            model_dir = tmp / f"model-{kind}-{run}"
            write_model(model, model_dir)
            card = json.loads((model_dir / "model_card.json").read_text())
            context = images.assemble_context(tmp / f"ctx-{kind}-{run}", source, model_dir, wheels)
            ref = f"{s.registry}/{s.serving_repository}-bench:{kind}-{run}"
            build_args = images.build_args(card, revision, "bench", s.base_image, "bench")
            built = images.build(client, context, ref, build_args, nocache=nocache)
            times[kind].append(built.seconds)
            size = built.size
            if nocache:
                # The classic builder picks among equal cache candidates at random: leave
                # the uncached chain behind and later builds may miss the cache.
                client.images.remove(ref)
                for stage in built.stage_ids[:-1]:
                    client.images.remove(stage)
            print(f"  {kind:10} run {run}: {built.seconds:6.2f} s, "
                  f"{built.cached_steps}/{built.steps} steps cached", flush=True)  # fmt: skip

        # Unique per invocation: an edit or model seen by an earlier bench would be cached.
        nonce = time.time_ns()
        build("warm-up", 0, 1.0)  # ensures a cached chain exists
        for run in range(args.runs):
            c = 1.0 + (nonce % 100_000 + run) / 1e7
            build("cold", run, 1.0, nocache=True)
            build("model-only", run, c)
            with (source / "serving" / "__init__.py").open("a") as f:
                f.write(f"# bench edit {nonce} {run}\n")
            build("code-only", run, c)
    print(f"serving image size: {size / 1e6:.0f} MB")
    for kind, values in list(times.items())[1:]:
        print(f"{kind:10}: median {statistics.median(values):6.2f} s  max {max(values):6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
