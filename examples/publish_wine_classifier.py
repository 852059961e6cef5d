"""Train a model the way a data scientist would, then publish it with Liveline's API.

A gradient-boosted classifier on scikit-learn's wine data set (three cultivars, string
labels), evaluated on rows it never saw. `liveline.publish_model` measures it again,
writes its model card, applies the quality gate and uploads it; the release sensor then
builds, tests and rolls it out by itself. Run it on the local platform (`make up`):

    .state/venv/bin/python examples/publish_wine_classifier.py

The same from the command line, for a model saved with skops and a CSV or Parquet file:

    liveline publish --estimator wine.skops --eval-data eval.parquet --target cultivar \\
        --name wine-cultivars
"""

from __future__ import annotations

import logging
import sys

from sklearn.datasets import load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

import liveline

CULTIVARS = {0: "barolo", 1: "grignolino", 2: "barbera"}


def train() -> tuple[HistGradientBoostingClassifier, object, object]:
    """The fitted classifier and the held-out rows it is judged on."""
    data = load_wine(as_frame=True)
    x, y = data.data, data.target.map(CULTIVARS)
    x_train, x_eval, y_train, y_eval = train_test_split(
        x, y, test_size=0.3, random_state=7, stratify=y
    )
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=7)
    return model.fit(x_train, y_train), x_eval, y_eval


def main(name: str = "wine-cultivars") -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model, x_eval, y_eval = train()
    published = liveline.publish_model(model, x_eval, y_eval, name=name)
    print(f"published {published.name} {published.version}: {published.card_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
