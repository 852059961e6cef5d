"""`liveline train`: train the project's declared model and write artifact and card.

The same path as the trained_model asset (liveline.training): the recipe and data of
`[tool.liveline.training]`, overridden from the command line, split, fitted, measured
and described. The folder it writes is what `liveline publish --model-dir` takes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import modelcard
from liveline import project, settings, training

log = logging.getLogger("liveline_cli.train")


def _param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. C=0.5)")
    try:
        return key, json.loads(value)  # numbers, booleans, lists
    except ValueError:
        return key, value  # a plain string


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="liveline train",
        description="Train the project's declared model ([tool.liveline.training]) and "
        "write model.skops + model_card.json.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the model")
    parser.add_argument("--model-name")
    parser.add_argument("--test-size", type=float, help="held-out share")
    parser.add_argument("--random-state", type=int)
    parser.add_argument("--golden-rows", type=int, help="smoke-test rows kept in the card")
    parser.add_argument("--param", type=_param, action="append", default=[],
                        help="KEY=VALUE for the entry point, over the declared params")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    s = settings.load()
    try:
        declared = project.from_settings(s)
        recipe = training.recipe(
            declared, model_name=args.model_name, test_size=args.test_size,
            random_state=args.random_state, golden_rows=args.golden_rows,
            params=dict(args.param) or None,
        )  # fmt: skip
        trained = training.train(declared, s, recipe)
    except ValueError as e:  # the project's configuration, the data or the model
        log.error("%s", e)
        return 2
    done = trained.described
    card_path = modelcard.write_model_dir(args.out, done.artifacts, done.card)
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in done.metrics.items())
    task = done.card["task"]
    log.info("trained %s version %s (%s) on %s: %s; wrote %s", recipe.model_name,
             done.version, task, trained.source, metrics, card_path.parent)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
