"""Benchmark /score under gunicorn on 127.0.0.1 with wrk: throughput and latency.

Scenarios: single rows and 100-row batches at full load (16 connections), then single
rows at half the measured single-row rate to read p99 at a sustainable load. Each runs
several times; the medians are printed. Usage: python bench/score_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model_training import TrainingConfig, train  # noqa: E402
from model_training.artifact import write_model  # noqa: E402
from model_training.data import load_dataset  # noqa: E402

CONNECTIONS = 16
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
{delay}
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %f %f %f %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""


def run_wrk(url: str, body: str, seconds: int, workdir: Path, rate: float | None = None) -> dict:
    # wrk has no fixed-rate mode; a per-connection delay() between requests paces it.
    delay = ""
    if rate:
        delay = f"delay = function() return {max(CONNECTIONS / rate * 1000 - 1, 0):.3f} end"
    script = workdir / "bench.lua"
    script.write_text(LUA.format(body=body, delay=delay))
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True)
    m = re.search(r"RESULT (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out.stdout)
    if not m:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    requests, duration_us, p50_us, p99_us, errors = m.groups()
    if int(errors):
        raise RuntimeError(f"{errors} non-2xx responses during the benchmark")
    return {
        "rps": int(requests) / (float(duration_us) / 1e6),
        "p50_ms": float(p50_us) / 1000,
        "p99_ms": float(p99_us) / 1000,
    }


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited during start")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready in {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: run `apt-get install -y wrk` (make bench does)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = train(TrainingConfig(), load_dataset())
        write_model(model, workdir / "model")
        row = model.golden_inputs[0].tolist()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            **os.environ,
            "SERVING_MODEL_DIR": str(workdir / "model"),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_LOG_LEVEL": "warning",
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        conf = REPO / "serving" / "gunicorn.conf.py"
        proc = subprocess.Popen([str(gunicorn), "--config", str(conf)], cwd=REPO, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/readyz", proc)
            one = json.dumps({"input": [row]})
            batch = json.dumps({"input": [row] * 100})
            url = f"{base}/score"
            run_wrk(url, one, 2, workdir)  # warm-up
            results: dict[str, list[dict]] = {"single": [], "batch100": [], "half": []}
            for _ in range(args.runs):
                results["single"].append(run_wrk(url, one, args.seconds, workdir))
                results["batch100"].append(run_wrk(url, batch, args.seconds, workdir))
            half = statistics.median(r["rps"] for r in results["single"]) / 2
            for _ in range(args.runs):
                results["half"].append(run_wrk(url, one, args.seconds, workdir, rate=half))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in results.items()}
    print(
        f"/score on gunicorn ({os.cpu_count()} CPUs), wrk {CONNECTIONS} connections, "
        f"{args.runs} runs x {args.seconds} s, medians:"
    )
    print(
        f"  single row   : {med['single']['rps']:8.0f} req/s   "
        f"p50 {med['single']['p50_ms']:.2f} ms  p99 {med['single']['p99_ms']:.2f} ms"
    )
    print(
        f"  100-row batch: {med['batch100']['rps']:8.0f} req/s = "
        f"{med['batch100']['rps'] * 100:,.0f} rows/s   p50 {med['batch100']['p50_ms']:.2f} ms  "
        f"p99 {med['batch100']['p99_ms']:.2f} ms"
    )
    print(
        f"  single row at half rate ({med['half']['rps']:.0f} req/s achieved): "
        f"p50 {med['half']['p50_ms']:.2f} ms  p99 {med['half']['p99_ms']:.2f} ms"
    )
    print("raw:", json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
