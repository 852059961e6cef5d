"""`liveline publish`: publish a model to the model store without running Dagster.

Three ways in, one library path (liveline.modelstore, liveline.publish): a folder with a
card (`--model-dir`, what `liveline train` writes), or an estimator trained anywhere and
saved with skops plus its held-out data (`--estimator model.skops --eval-data eval.csv
--target COLUMN --name NAME`, CSV or Parquet). The quality gate, artifact first and card
last, and a version that is already published is kept. `--list` shows the valid
published versions, newest first.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

import modelcard
from liveline import modelstore, project, settings, webhooks

log = logging.getLogger("liveline_cli.publish")


def parse_args(argv: list[str] | None, defaults: settings.Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="liveline publish",
        description="Publish a trained model to the model store (LIVELINE_MODEL_STORE).",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--model-dir", type=Path, help="folder with model.skops + model_card.json")
    target.add_argument("--estimator", type=Path, help="a fitted estimator saved with skops")
    target.add_argument("--list", action="store_true", help="list valid published models")
    given = parser.add_argument_group("with --estimator")
    given.add_argument("--eval-data", type=Path, help="held-out rows, .csv or .parquet")
    given.add_argument("--target", help="the label column of --eval-data")
    given.add_argument("--name", help="the model's name (its folder in the store)")
    parser.add_argument(
        "--account-url",
        default=modelstore.account_url(defaults),
        help="Azure: blob account (LIVELINE_MODELS_ACCOUNT_URL; default: the local Azurite)",
    )
    parser.add_argument(
        "--container",
        default=defaults.models_container,
        help="Azure: container (LIVELINE_MODELS_CONTAINER; default: %(default)s)",
    )
    parser.add_argument(
        "--gate",
        default=defaults.model_gate,
        help="quality gate for this publish, metric=threshold,... (LIVELINE_MODEL_GATE; "
        "default: the project's gate for the model and its task)",
    )
    args = parser.parse_args(argv)
    if args.estimator and not (args.eval_data and args.target and args.name):
        parser.error("--estimator needs --eval-data, --target and --name")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # it logs every HTTP request
    logging.getLogger("botocore").setLevel(logging.WARNING)
    args = parse_args(argv, settings.load())
    s = dataclasses.replace(settings.load(), models_account_url=args.account_url,
                            models_container=args.container)  # fmt: skip
    try:
        if args.estimator:
            return _publish_estimator(args, s)
        gates = project.load(s.project_path, args.gate).gates
        with modelstore.open_store(s) as store:
            if args.list:
                return _list(store)
            done = store.publish(args.model_dir, gates)
    except (ValueError, modelstore.ModelStoreError, modelcard.CardError) as e:
        log.error("%s", e)
        return 1
    except modelstore.SERVICE_ERRORS as e:
        log.error("the model store %s failed: %s", modelstore.location(s), e)
        return 1
    model = done.model
    verb = "published" if done.uploaded else "already published, kept"
    log.info("%s %s %s: %s (sha256 %s)", verb, model.name, model.version, model.card_url,
             model.artifact_sha256)  # fmt: skip
    if done.uploaded:
        log.info("%s", webhooks.notify(s, "model"))
    return 0


def _publish_estimator(args: argparse.Namespace, s: settings.Settings) -> int:
    # Imported here: scikit-learn and pandas cost seconds, and --list needs neither.
    from liveline.publish import publish_model
    from model_training.skops_file import load_skops
    from model_training.tables import read_table, split_target

    estimator = load_skops(args.estimator)
    x, y = split_target(read_table(args.eval_data), args.target, str(args.eval_data))
    model = publish_model(
        estimator,
        x,
        y,
        name=args.name,
        source=str(args.eval_data),
        gate=args.gate or None,
        settings=s,
    )
    log.info("%s %s: %s (sha256 %s)", model.name, model.version, model.card_url,
             model.artifact_sha256)  # fmt: skip
    log.info("%s", webhooks.notify(s, "model"))
    return 0


def _list(store: modelstore.ModelStore) -> int:
    found = store.scan()
    for m in found.valid:
        print(f"{m.published_at.isoformat()}  {m.name}  {m.version}  sha256:{m.artifact_sha256}")
    for prefix, why in found.passed_over.items():
        log.warning("passed over %s: %s", prefix, why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
