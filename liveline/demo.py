"""`make demo`: train a model, build the serving image from HEAD, run it, score, push.

Expects the local platform to be up (`make demo` runs `make up` first). Later stages of
the pipeline (blob storage, cluster) join as the asset graph grows.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from liveline import images, settings, smoke
from liveline.localplatform import docker_engine, ensure_wheels
from liveline.localplatform.layout import Layout
from model_training import TrainingConfig, train
from model_training.artifact import write_model
from model_training.data import load_dataset

log = logging.getLogger("liveline.demo")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    s = settings.load()
    model = train(TrainingConfig(), load_dataset())
    model_dir = s.models_dir / model.version
    write_model(model, model_dir)
    card = json.loads((model_dir / "model_card.json").read_text())
    log.info("1/4 trained %s %s %s", card["model_name"], model.version, model.metrics)

    wheels = ensure_wheels(settings.REPO_ROOT / "serving" / "requirements.txt", s.wheels_dir)
    client = docker_engine.client(Layout(s))
    with tempfile.TemporaryDirectory(prefix="liveline-build-") as tmp:
        source = Path(tmp) / "source"
        revision = images.export_commit(settings.REPO_ROOT, "HEAD", source)
        context = images.assemble_context(Path(tmp) / "context", source, model_dir, wheels)
        repository = f"{s.registry}/{s.serving_repository}"
        reference = f"{repository}:{images.image_tag(revision, model.version)}"
        args = images.build_args(
            card,
            revision,
            str(settings.REPO_ROOT),
            s.base_image,
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        built = images.build(client, context, reference, args)
    log.info(
        "2/4 built %s (%.0f MB, %.1f s, %d/%d steps from cache)",
        reference,
        built.size / 1e6,
        built.seconds,
        built.cached_steps,
        built.steps,
    )
    with smoke.running(client, reference, name="liveline-demo") as base:
        version = smoke.smoke_test(base, card, revision)
        status, headers, scored = smoke.http_json(
            f"{base}/score", {"input": card["golden"]["inputs"][:2]}
        )
        log.info("3/4 container at %s answered /version %s", base, version)
        log.info(
            "    POST /score -> %s %s (X-Model-Version %s)",
            status,
            scored["predictions"],
            headers.get("X-Model-Version"),
        )
    digest = images.push(client, repository, reference.rsplit(":", 1)[1])
    log.info("4/4 pushed %s@%s", repository, digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
