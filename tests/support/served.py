"""The real server process: gunicorn with the shipped config, on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
READY_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(model_dir: Path, tmp_path: Path, port: int, **env: str) -> subprocess.Popen:
    environ = {
        **os.environ,
        "SERVING_MODEL_DIR": str(model_dir),
        "SERVING_CODE_REVISION": "cafe123",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_TMP_DIR": str(tmp_path),
        **env,
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (tmp_path / "gunicorn.log").open("wb") as log:
        return subprocess.Popen(
            [str(GUNICORN), "--config", str(REPO / "serving" / "gunicorn.conf.py")],
            cwd=REPO,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@contextlib.contextmanager
def serving(model_dir: Path, tmp_path: Path, **env: str) -> Iterator[str]:
    """The service's base URL once /readyz answers 200; stopped on exit."""
    port = free_port()
    proc = start(model_dir, tmp_path, port, **env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, f"gunicorn not ready in {READY_TIMEOUT_S} s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def tolerance(card: dict) -> dict[str, float]:
    """How close a served answer is to the estimator's own: the ONNX graph's tolerance,
    recorded in its card, or (skops: the estimator itself answers) rounding alone."""
    onnx = card.get("onnx") or {}
    if onnx.get("status") == "converted":
        return {"rtol": onnx["rtol"], "atol": onnx["atol"]}
    return {"rtol": 1e-9}


def runtime(card: dict) -> str:
    """The runtime that serves the card's model in its image: the X-Model-Runtime prefix."""
    return "onnxruntime/" if (card.get("onnx") or {}).get("status") == "converted" else (
        "scikit-learn/")  # fmt: skip
