"""Verify a model folder the way the service will at start; used as a build-time gate.

`python -m serving.verify /app/model` exits non-zero, naming the problem, when the
artifact does not match its card or the installed scikit-learn is not the one that
trained it, so a mismatched image fails to build instead of failing in production.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from serving.model import ModelLoadError, load_model

log = logging.getLogger("serving.verify")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        log.error("usage: python -m serving.verify MODEL_DIR")
        return 2
    try:
        model = load_model(Path(args[0]), os.environ.get("SERVING_RUNTIME", "auto"))
    except ModelLoadError as e:
        log.error("model in %s is not servable: %s", args[0], e)
        return 1
    log.info("model %s %s verified on %s %s", model.card.model_name, model.card.model_version,
             model.runtime.name, model.runtime.version)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
