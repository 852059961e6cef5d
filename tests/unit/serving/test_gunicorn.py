"""The real server process: gunicorn with the shipped config serves, or refuses to start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(model_dir: Path, tmp_path: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "SERVING_MODEL_DIR": str(model_dir),
        "SERVING_CODE_REVISION": "cafe123",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_TMP_DIR": str(tmp_path),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (tmp_path / "gunicorn.log").open("wb") as log:
        return subprocess.Popen(
            [str(GUNICORN), "--config", str(REPO / "serving" / "gunicorn.conf.py")],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _get(url: str, data: bytes | None = None) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def test_gunicorn_serves_scores_and_aggregates_metrics(model_dir, tmp_path, card):
    port = _free_port()
    proc = _start(model_dir, tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not become ready in 30 s"
            time.sleep(0.2)
        body = json.dumps({"input": card["golden"]["inputs"]}).encode()
        for _ in range(20):
            status, headers, result = _get(f"{base}/score", body)
            assert status == 200
        assert headers["X-Code-Revision"] == "cafe123"
        assert result["model_version"] == card["model_version"]
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
            text = r.read().decode()
        # 20 scores across both workers, summed by the multiprocess collector.
        assert 'endpoint="/score",method="POST"' in text
        scored = [ln for ln in text.splitlines() if ln.startswith("liveline_scored_rows_total")]
        assert scored and float(scored[0].split()[-1]) == 20 * len(card["golden"]["inputs"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_gunicorn_refuses_to_start_on_tampered_model(model_dir, tmp_path):
    artifact = model_dir / "model.skops"
    data = bytearray(artifact.read_bytes())
    data[-10] ^= 0x01
    artifact.write_bytes(bytes(data))
    proc = _start(model_dir, tmp_path, _free_port())
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("gunicorn kept running with a tampered model")
    out = (tmp_path / "gunicorn.log").read_text()
    assert proc.returncode != 0
    assert "refusing to start" in out
    assert "does not match the model card" in out
