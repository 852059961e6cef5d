"""The real server process: gunicorn with the shipped config serves, or refuses to start."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.support import served


def _get(url: str, data: bytes | None = None) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def test_gunicorn_serves_scores_and_aggregates_metrics(model_dir, tmp_path, card):
    with served.serving(model_dir, tmp_path) as base:
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


def test_gunicorn_refuses_to_start_on_tampered_model(model_dir, tmp_path):
    artifact = model_dir / "model.skops"
    data = bytearray(artifact.read_bytes())
    data[-10] ^= 0x01
    artifact.write_bytes(bytes(data))
    proc = served.start(model_dir, tmp_path, served.free_port())
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("gunicorn kept running with a tampered model")
    out = (tmp_path / "gunicorn.log").read_text()
    assert proc.returncode != 0
    assert "refusing to start" in out
    assert "does not match the model card" in out
