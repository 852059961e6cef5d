"""A wheel cache for images: cp311 manylinux wheels downloaded on the host.

Image builds then `pip install --no-index --find-links` from it. All three manylinux
platform tags are needed: with manylinux2014 alone pip silently picks much older
numpy/scipy/scikit-learn, and the image's scikit-learn must equal the training one.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from pathlib import Path

from liveline import settings
from liveline.images.context import ImageError
from liveline.runlog import run_logged, tail

log = logging.getLogger(__name__)

PIP_TIMEOUT_S = 1800.0
PIP_ARGS = [
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux_2_28_x86_64",
    "--require-hashes",
    # Each file is the whole set to install (serving/requirements-onnx.in leaves out
    # what onnxruntime declares but serving never loads).
    "--no-deps",
]
STAMP = ".liveline-wheels.sha256"


def _fingerprint(requirements_file: Path) -> str:
    """Changes when the requirements or the download options change."""
    digest = hashlib.sha256(requirements_file.read_bytes())
    digest.update(" ".join(PIP_ARGS).encode())
    return digest.hexdigest()


def ensure_wheels(requirements_file: Path, cache: Path, logfile: Path | None = None) -> Path:
    """Download the hashed requirements' wheels into a folder of the cache named after the
    file (one per runtime: a build context carries only its own) unless its stamp says
    it is done; return that folder."""
    requirements_file = Path(requirements_file)
    dest = Path(cache) / requirements_file.stem
    if not requirements_file.is_file():
        raise ImageError(f"wheels: {requirements_file} does not exist.")
    fingerprint = _fingerprint(requirements_file)
    stamp = dest / STAMP
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        log.info("wheels: %s is current for %s", dest, requirements_file)
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    # The log stays out of dest: dest may be copied into an image build context.
    logfile = logfile or settings.load().logs_dir / "wheels.log"
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", *PIP_ARGS,
           "-r", str(requirements_file), "-d", str(dest)]  # fmt: skip
    log.info("wheels: downloading %s into %s (log %s)", requirements_file, dest, logfile)
    started = time.monotonic()
    rc = run_logged(cmd, logfile, PIP_TIMEOUT_S)
    if rc != 0:
        raise ImageError(
            f"wheels: pip download failed (exit {rc}). Last lines of {logfile}:\n{tail(logfile)}\n"
            "Every requirement needs a pinned version with --hash (uv pip compile "
            "--generate-hashes) and a cp311 manylinux wheel."
        )
    stamp.write_text(fingerprint + "\n")
    log.info("wheels: done in %.0f s", time.monotonic() - started)
    return dest
