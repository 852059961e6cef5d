"""Command line: train with a config and write the artifact and its model card."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from pathlib import Path

from model_training.artifact import write_model
from model_training.config import TrainingConfig
from model_training.data import load_dataset
from model_training.train import train

log = logging.getLogger("model_training")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="liveline train", description="Train the classifier and write model + card."
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for model.skops + card")
    defaults = TrainingConfig()
    for f in fields(TrainingConfig):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(getattr(defaults, f.name)),
            default=getattr(defaults, f.name),
            help=f"default: {getattr(defaults, f.name)}",
        )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        config = TrainingConfig(**{f.name: getattr(args, f.name) for f in fields(TrainingConfig)})
    except ValueError as e:
        log.error("invalid training config: %s", e)
        return 2
    model = train(config, load_dataset())
    card_path = write_model(model, args.out)
    log.info(
        "trained %s version %s: %s; wrote %s",
        config.model_name,
        model.version,
        ", ".join(f"{k}={v:.4f}" for k, v in model.metrics.items()),
        card_path.parent,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
