"""Benchmark the scoring service under gunicorn on 127.0.0.1 with wrk.

Three servers with the serving image's gunicorn configuration, in this one run: the
same gunicorn and Flask answering a constant (bench/constant_app.py, the ceiling), the
service on the ONNX runtime, and the service on the skops runtime. Scenarios: /score with
single rows and with 100-row batches at full load (16 connections), the V2 infer endpoint
on the same rows, and single rows at half the single-row peak to read p99 at a
sustainable load. The servers run side by side, each scenario on each in turn, many
short times; medians are printed, with every worker's resident memory after load, and
each figure as a ratio to the constant server's: the median of the ratios of runs made
back to back, because this machine's speed moves by up to 2x for seconds at a time (a
CPU-bound loop, sampled every 0.5 s, ran at 250 to 470 units) and a ratio of two medians
could pair a fast run with a slow one. Usage: bench/score_bench.py [--runs N] [--seconds S]
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

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import models  # noqa: E402

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


def start(workdir: Path, runtime: str, app: str | None = None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "SERVING_MODEL_DIR": str(workdir / "model"),
        "SERVING_RUNTIME": runtime,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_LOG_LEVEL": "warning",
        "PYTHONPATH": str(REPO),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    cmd = [
        str(gunicorn),
        "--config",
        str(REPO / "serving" / "gunicorn.conf.py"),
        *([app] if app else []),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/readyz", proc)
    return proc, base


def worker_rss_mib(proc: subprocess.Popen) -> list[float]:
    return [round(c.memory_info().rss / 2**20, 1) for c in psutil.Process(proc.pid).children()]


def v2_body(rows: list[list[float]]) -> str:
    tensor = {"name": "input", "datatype": "FP64", "shape": [len(rows), len(rows[0])], "data": rows}
    return json.dumps({"inputs": [tensor]})


def paired(runs: list[dict], baseline: list[dict]) -> float:
    """The median ratio of req/s, run i against baseline run i (made just before it)."""
    return statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, baseline, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: run `apt-get install -y wrk` (make bench does)")
    servers = {"constant": "bench.constant_app:app", "onnx": None, "skops": None}
    results: dict[str, dict[str, list[dict]]] = {}
    rss: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        models.write(models.train(), workdir / "model")
        card = json.loads((workdir / "model" / "model_card.json").read_text())
        row = card["golden"]["inputs"][0]
        bodies = {
            # Each V2 scenario right after its /score one: they are compared run by run.
            "single": ("/score", json.dumps({"input": [row]})),
            "v2_single": (f"/v2/models/{card['model_name']}/infer", v2_body([row])),
            "batch100": ("/score", json.dumps({"input": [row] * 100})),
            "v2_batch100": (f"/v2/models/{card['model_name']}/infer", v2_body([row] * 100)),
        }
        # All three servers start first and each scenario then runs on each in turn, so
        # that this machine's drift (its figures move by 2x over minutes) falls on all of
        # them alike and the ratios compare like with like.
        procs: dict[str, tuple[subprocess.Popen, str]] = {}
        try:
            for name, app in servers.items():
                procs[name] = start(workdir, name if name != "constant" else "auto", app)
                run_wrk(procs[name][1] + "/score", bodies["single"][1], 2, workdir)  # warm-up
                results[name] = {k: [] for k in (*bodies, "half")}
            for _ in range(args.runs):
                for kind, (path, body) in bodies.items():
                    for name, (_, base) in procs.items():
                        results[name][kind].append(
                            run_wrk(base + path, body, args.seconds, workdir)
                        )
            half = {n: statistics.median(r["rps"] for r in results[n]["single"]) / 2 for n in procs}
            for _ in range(args.runs):  # interleaved too: the servers share each slow spell
                for name, (_, base) in procs.items():
                    results[name]["half"].append(
                        run_wrk(
                            base + "/score",
                            bodies["single"][1],
                            args.seconds,
                            workdir,
                            rate=half[name],
                        )
                    )
            for name, (proc, _) in procs.items():
                rss[name] = worker_rss_mib(proc)
        finally:
            for proc, _ in procs.values():
                proc.terminate()
                proc.wait(timeout=30)
    med = {
        srv: {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in got.items()}
        for srv, got in results.items()
    }
    ceiling = results["constant"]
    print(
        f"scoring service on gunicorn ({os.cpu_count()} CPUs), wrk {CONNECTIONS} connections, "
        f"{args.runs} runs x {args.seconds} s, medians (ratio to the constant server):"
    )
    for srv in servers:
        m = med[srv]
        ratio = {k: paired(v, ceiling[k]) for k, v in results[srv].items()}
        v2 = {k: paired(results[srv][f"v2_{k}"], results[srv][k]) for k in ("single", "batch100")}
        print(f"{srv:9s} worker RSS after load {rss[srv]} MiB")
        print(
            f"  /score single row : {m['single']['rps']:7.0f} req/s ({ratio['single']:.2f})   "
            f"p50 {m['single']['p50_ms']:.2f} ms  p99 {m['single']['p99_ms']:.2f} ms"
        )
        print(
            f"  /score 100 rows   : {m['batch100']['rps'] * 100:9,.0f} rows/s "
            f"({ratio['batch100']:.2f})   p99 {m['batch100']['p99_ms']:.2f} ms"
        )
        print(
            f"  V2 infer 1 row    : {m['v2_single']['rps']:7.0f} req/s ({ratio['v2_single']:.2f})"
            f"   = {v2['single']:.2f} x /score"
        )
        print(
            f"  V2 infer 100 rows : {m['v2_batch100']['rps'] * 100:9,.0f} rows/s "
            f"= {v2['batch100']:.2f} x /score"
        )
        print(
            f"  single row at half rate ({m['half']['rps']:.0f} req/s achieved): "
            f"p50 {m['half']['p50_ms']:.2f} ms  p99 {m['half']['p99_ms']:.2f} ms"
        )
    print("raw:", json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
