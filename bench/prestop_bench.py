"""How long the preStop pause must be: kube-proxy's delay in dropping a pod being replaced,
and the requests a rolling update fails with shorter pauses, on the real node.

Deploys the serving Service in a scenario of its own (`python -m liveline_cli.demo`, as
`make demo` does, in a fresh namespace), then for each pause in --pauses: sets the
Deployment's preStop pause to it and rolls the pods --rounds times (a new template
annotation, as `kubectl rollout restart` does) while a client sends back-to-back
requests, each on a new connection, to the NodePort. For every pod replaced it measures,
from the moment the API shows the pod terminating:
  endpoint  its EndpointSlice entry no longer ready (the control plane's part)
  rules     no iptables rule DNATs to it any more (kube-proxy's part: what the pause covers)
and prints the medians and maxima, and the failed requests per pause.
Needs `make up` with the real node (root, for iptables-save); `make bench-prestop` runs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import kubernetes.client  # noqa: E402

from devplatform import k8s_node_services  # noqa: E402
from liveline import k8s, settings  # noqa: E402
from tests.support.prober import Prober  # noqa: E402
from tests.support.scenario import scenario  # noqa: E402

DEMO_TIMEOUT_S = 600
ROLLOUT_TIMEOUT_S = 120
POLL_S = 0.05
DRAIN_S = 3  # after the old pods' pause, their exit and the last requests


def iptables_targets() -> str:
    """The nat table as kube-proxy wrote it (DNAT targets are `--to-destination ip:port`)."""
    return subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                          check=True, timeout=10).stdout  # fmt: skip


class Watcher(threading.Thread):
    """Polls the namespace's pods, EndpointSlices and the nat table every POLL_S; for each
    pod seen terminating, when its endpoint stopped being ready and its rules went."""

    def __init__(self, api: kubernetes.client.ApiClient, namespace: str) -> None:
        super().__init__(daemon=True)
        self.core = kubernetes.client.CoreV1Api(api)
        self.discovery = kubernetes.client.DiscoveryV1Api(api)
        self.namespace = namespace
        self.terminating: dict[str, float] = {}  # pod IP -> when first seen terminating
        self.endpoint: dict[str, float] = {}
        self.rules: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(POLL_S):
            now = time.monotonic()
            for pod in self.core.list_namespaced_pod(self.namespace).items:
                ip = pod.status.pod_ip
                if ip and pod.metadata.deletion_timestamp and ip not in self.terminating:
                    self.terminating[ip] = now
            ready = {
                address
                for s in self.discovery.list_namespaced_endpoint_slice(self.namespace).items
                for e in s.endpoints or []
                if e.conditions and e.conditions.ready
                for address in e.addresses
            }
            nat = iptables_targets()
            for ip in self.terminating:
                if ip not in ready:
                    self.endpoint.setdefault(ip, time.monotonic())
                if f"--to-destination {ip}:" not in nat:
                    self.rules.setdefault(ip, time.monotonic())

    def delays(self) -> tuple[list[float], list[float]]:
        done = [ip for ip in self.terminating if ip in self.endpoint and ip in self.rules]
        return ([self.endpoint[ip] - self.terminating[ip] for ip in done],
                [self.rules[ip] - self.terminating[ip] for ip in done])  # fmt: skip


def patch_template(apps, namespace: str, name: str, pause: int, stamp: str) -> None:
    """The pause (0: no preStop at all) and a new annotation: a rolling update."""
    lifecycle = {"preStop": {"sleep": {"seconds": pause}}} if pause else None
    body = {"spec": {"template": {
        "metadata": {"annotations": {"liveline.io/bench-restart": stamp}},
        "spec": {"containers": [{"name": "serving", "lifecycle": lifecycle}]},
    }}}  # fmt: skip
    apps.patch_namespaced_deployment(name, namespace, body)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pauses", default="0,1,2,5", help="preStop pauses to try, in s")
    p.add_argument("--rounds", type=int, default=3, help="rolling updates per pause")
    args = p.parse_args(argv)
    pauses = [int(x) for x in args.pauses.split(",")]
    defaults = settings.load()
    with (
        tempfile.TemporaryDirectory(prefix="prestop-bench-", dir=defaults.state_dir) as tmp,
        scenario(Path(tmp), 4, 1, start=False) as sc,
    ):
        demo = subprocess.run([sys.executable, "-m", "liveline_cli.demo"], cwd=REPO,
                              env={**os.environ, **sc.env}, capture_output=True, text=True,
                              timeout=DEMO_TIMEOUT_S, check=False)  # fmt: skip
        if demo.returncode != 0:
            raise SystemExit(f"the demo failed:\n{demo.stdout[-2000:]}{demo.stderr[-2000:]}")
        ns, name = sc.s.k8s_namespace, sc.s.k8s_deployment
        url = k8s_node_services.node_port_url(sc.api, ns, name)
        if not url:
            raise SystemExit("the Service has no NodePort: is the real node up?")
        apps = kubernetes.client.AppsV1Api(sc.api)
        for pause in pauses:
            patch_template(apps, ns, name, pause, f"{pause}-settle")  # the pause in place
            k8s.wait(sc.api, ns, name, ROLLOUT_TIMEOUT_S)
            time.sleep(pause + DRAIN_S)
            watcher = Watcher(sc.api, ns)
            watcher.start()
            with Prober(f"{url}/readyz") as served:
                for i in range(args.rounds):
                    patch_template(apps, ns, name, pause, f"{pause}-{i}")
                    k8s.wait(sc.api, ns, name, ROLLOUT_TIMEOUT_S)
                    time.sleep(pause + DRAIN_S)
            watcher.stop.set()
            watcher.join()
            endpoint, rules = watcher.delays()
            print(f"pause {pause} s: {len(rules)} pods replaced; endpoint not ready after "
                  f"{fmt(endpoint)}, rules gone after {fmt(rules)}; "
                  f"{len(served.failed)} failed of {served.sent} {served.failed[:2]}",
                  flush=True)  # fmt: skip
    return 0


def fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.2f} s (max {max(values):.2f})"


if __name__ == "__main__":
    sys.exit(main())
