"""`liveline publish`: publish a trained model to blob storage without running Dagster.

The same library code as the asset graph's model_blob (liveline.modelstore): the quality
gate, artifact first and card last, and a version that is already published is kept.
`liveline publish --list` shows the valid published versions, newest first.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from azure.core.exceptions import AzureError
from azure.storage.blob import ContainerClient

from liveline import modelstore, settings

log = logging.getLogger("liveline_cli.publish")


def parse_args(argv: list[str] | None, defaults: settings.Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="liveline publish", description="Publish a trained model to blob storage."
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--model-dir", type=Path, help="folder with model.skops + model_card.json")
    target.add_argument("--list", action="store_true", help="list valid published models")
    parser.add_argument(
        "--account-url",
        default=modelstore.account_url(defaults),
        help="blob account (LIVELINE_MODELS_ACCOUNT_URL; default: the local Azurite)",
    )
    parser.add_argument(
        "--container",
        default=defaults.models_container,
        help="container (LIVELINE_MODELS_CONTAINER; default: %(default)s)",
    )
    parser.add_argument(
        "--min-metrics",
        default=defaults.model_min_metrics,
        help="quality gate, metric=minimum,... (LIVELINE_MODEL_MIN_METRICS; default: %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # it logs every HTTP request
    args = parse_args(argv, settings.load())
    try:
        minimums = modelstore.parse_min_metrics(args.min_metrics)
        with modelstore.connect(args.account_url) as service:
            container = service.get_container_client(args.container)
            if args.list:
                return _list(container)
            done = modelstore.publish(container, args.model_dir, minimums)
    except (ValueError, modelstore.ModelStoreError) as e:
        log.error("%s", e)
        return 1
    except AzureError as e:
        log.error("blob storage at %s failed: %s", args.account_url, e)
        return 1
    model = done.model
    verb = "published" if done.uploaded else "already published, kept"
    log.info(
        "%s %s %s: %s (sha256 %s)",
        verb,
        model.name,
        model.version,
        model.card_url,
        model.artifact_sha256,
    )
    return 0


def _list(container: ContainerClient) -> int:
    found = modelstore.scan(container)
    for m in found.valid:
        print(f"{m.published_at.isoformat()}  {m.name}  {m.version}  sha256:{m.artifact_sha256}")
    for prefix, why in found.passed_over.items():
        log.warning("passed over %s: %s", prefix, why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
