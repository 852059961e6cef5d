"""WSGI entry point for gunicorn: `serving.wsgi:app`."""

import logging
import sys

from serving.app import create_app
from serving.model import ModelLoadError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

try:
    app = create_app()
except ModelLoadError:
    # create_app has logged why; exit non-zero so the orchestrator sees a failed start.
    sys.exit(3)
