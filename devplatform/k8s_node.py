"""The real node of the local cluster: a kubelet running pods through containerd.

With settings.cluster_node "real", `up` starts, after the cluster: its own containerd
(Debian's 1.6, with its own root, state and socket under <state>/k8s/node: dockerd's is
never touched), the kubelet compiled with the control plane (cgroupfs driver on this
cgroup v1 machine), pod networking from Debian's CNI plugins (a bridge, 10.88.0.0/16)
and kube-proxy (iptables mode), which serves NodePorts on 127.0.0.1. The pause image is
compiled from Kubernetes' pause.c and pushed to the local registry; images are pulled
from it over plain HTTP, by digest. `up` waits for the node to report Ready.

`down` stops the pods through CRI (so the CNI plugins release what they took), then the
processes, and undoes every host change (k8s_node_host). containerd's image store is
kept, so the next `up` does not pull again. With "simulated" both do nothing (`up`
stops a real node left from an earlier mode). One real node runs per machine.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time

import kubernetes
import psutil
import requests

from devplatform import apt, k8s_build, k8s_cluster, processes
from devplatform import k8s_node_host as host
from devplatform.k8s_node_config import (
    CNI_BIN,
    KUBELET_HEALTHZ_PORT,
    NAME,
    NODE,
    NODE_LABEL,
    PROXY_HEALTHZ_PORT,
    NodeLayout,
    write_configs,
)
from devplatform.k8s_node_pause import ensure_pause
from devplatform.k8s_node_pki import client_credentials

# Re-exported: the commands and tests call them as k8s_node.node_port_url and so on.
from devplatform.k8s_node_services import node_port_of as node_port_of
from devplatform.k8s_node_services import node_port_url as node_port_url
from devplatform.k8s_node_services import on_simulated_node as on_simulated_node
from devplatform.k8s_node_services import service_url
from devplatform.layout import Layout
from devplatform.report import Status

log = logging.getLogger(__name__)

COMPONENTS = ("containerd", "kubelet", "kube-proxy")  # start order; stopped in reverse
START_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = {"kube-proxy": 10.0, "kubelet": 15.0, "containerd": 20.0}
PULL_TIMEOUT_S = 60.0
# Debian packages: a program (or file) each provides.
PACKAGES = {
    "containerd": "containerd",
    "runc": "runc",
    str(CNI_BIN / "bridge"): "containernetworking-plugins",
    "iptables": "iptables",
    "nfacct": "nfacct",  # to remove kube-proxy's packet counters on `down`
}


def enabled(layout: Layout) -> bool:
    return k8s_cluster.real_node(layout)


def _command(n: NodeLayout, component: str) -> list[str]:
    b = k8s_build.bin_dir(n.layout)
    if component == "containerd":
        return [shutil.which("containerd") or "containerd", "--config",
                str(n.file("containerd.toml"))]  # fmt: skip
    if component == "kubelet":
        return [str(b / "kubelet"), f"--config={n.file('kubelet.yaml')}",
                f"--kubeconfig={n.pki / 'kubelet.kubeconfig'}", f"--root-dir={n.kubelet}",
                f"--cert-dir={n.kubelet / 'pki'}", f"--hostname-override={NODE}",
                f"--node-ip={n.node_ip}", f"--node-labels={NODE_LABEL}=true", "--v=1"]  # fmt: skip
    return [str(b / "kube-proxy"), f"--config={n.file('kube-proxy.yaml')}", "--v=1"]


def _markers(n: NodeLayout, component: str) -> list[str]:
    cmd = _command(n, component)
    return [cmd[0].rsplit("/", 1)[-1], cmd[-1] if component == "containerd" else cmd[1]]


def _pidfile(n: NodeLayout, component: str):
    return n.layout.pidfile(f"{NAME}-{component}")


def _logfile(n: NodeLayout, component: str):
    return n.layout.logfile(f"{NAME}-{component}")


def _running(n: NodeLayout, component: str) -> int | None:
    return processes.running_pid(_pidfile(n, component), _markers(n, component))


def _start(n: NodeLayout, component: str) -> tuple[int, float]:
    pid = _running(n, component)
    if pid is not None:
        return pid, 0.0
    started = time.time()
    return processes.start(f"{NAME} {component}", _command(n, component),
                           _pidfile(n, component), _logfile(n, component)), started  # fmt: skip


def _ctr(n: NodeLayout, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["ctr", "--address", str(n.socket), *args], capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip


def _cri_loaded(n: NodeLayout) -> bool:
    # `ctr plugins ls` is text only, and containerd has no maintained Python client.
    plugins = _ctr(n, "plugins", "ls").stdout.splitlines()
    return any(line.split()[:2] == ["io.containerd.grpc.v1", "cri"] and line.split()[-1] == "ok"
               for line in plugins if len(line.split()) >= 4)  # fmt: skip


def _healthz(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def node_ready(layout: Layout, since: float = 0.0) -> bool:
    """The node is Ready, in a heartbeat sent after `since` (a Node object left from an
    earlier run still says Ready for minutes)."""
    try:
        with k8s_cluster.api_client(layout) as api:
            node = kubernetes.client.CoreV1Api(api).read_node(NODE, _request_timeout=5)
    except Exception:  # not registered yet, or the API does not answer
        return False
    for c in node.status.conditions or []:
        if c.type == "Ready":
            beat = c.last_heartbeat_time
            fresh = not since or (beat is not None and beat.timestamp() >= int(since))
            return c.status == "True" and fresh
    return False


def _pull(n: NodeLayout, reference: str) -> None:
    """Pull into containerd's k8s.io namespace (the registry may be restarting: retry)."""
    if _ctr(n, "-n", "k8s.io", "images", "ls", "-q", f"name=={reference}").stdout.strip():
        return
    deadline = time.monotonic() + PULL_TIMEOUT_S
    while True:
        out = _ctr(n, "-n", "k8s.io", "images", "pull", "--hosts-dir", str(n.certs_d),
                   reference, timeout=PULL_TIMEOUT_S)  # fmt: skip
        if out.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise processes.PlatformError(
                f"{NAME}: containerd cannot pull {reference}: {out.stderr.strip()[-500:]}. "
                f"Is the registry at {n.layout.settings.registry} up?"
            )
        time.sleep(2)


def up(layout: Layout) -> None:
    n = NodeLayout(layout)
    if not enabled(layout):
        if _leftover(n):
            log.warning("%s: a real node of an earlier run is here; stopping it", NAME)
            down(layout)
        return
    if _proxy_predates_apiserver(layout, n):
        # After an API-server restart, kube-proxy's watches come back only after their
        # backoff: a rollout meanwhile leaves the Service sending connections to deleted
        # pods (seen in the outage tests). A restarted kube-proxy lists everything at
        # once; its iptables rules stay in place while it restarts, so nothing is lost.
        log.info("%s: the API server restarted; restarting kube-proxy to resync", NAME)
        processes.stop(f"{NAME} kube-proxy", _pidfile(n, "kube-proxy"),
                       _markers(n, "kube-proxy"), STOP_TIMEOUT_S["kube-proxy"])  # fmt: skip
    if all(_running(n, c) for c in COMPONENTS) and node_ready(layout):
        return
    began = time.monotonic()
    for program, package in PACKAGES.items():
        apt.ensure_program(program, package, NAME, layout.logfile("apt"))
    k8s_build.ensure_built(layout, k8s_build.NODE_GROUPS)
    ensure_pause(n)
    host.prepare(n)
    write_configs(n)
    renewed = {
        "kubelet": client_credentials(n, "kubelet", f"system:node:{NODE}", "system:nodes"),
        "kube-proxy": client_credentials(
            n, "kube-proxy", "system:kube-proxy", "system:node-proxier"
        ),
    }
    for component in (c for c, new in renewed.items() if new):
        # The cluster was created anew (a new CA): a running one holds a stale certificate.
        processes.stop(f"{NAME} {component}", _pidfile(n, component),
                       _markers(n, component), STOP_TIMEOUT_S[component])  # fmt: skip
    prepared = time.monotonic()

    pid, _ = _start(n, "containerd")
    processes.wait_for(f"{NAME} containerd", lambda: _ctr(n, "version").returncode == 0,
                       START_TIMEOUT_S, _logfile(n, "containerd"), pid)  # fmt: skip
    if not _cri_loaded(n):
        raise processes.PlatformError(
            f"{NAME}: containerd runs but its CRI plugin did not load; see "
            f"{_logfile(n, 'containerd')} (`ctr --address {n.socket} plugins ls`)"
        )
    # The CRI server initialises after containerd answers `ctr version`; a kubelet started
    # before that exits ("server is not initialized yet").
    processes.wait_for(f"{NAME} containerd CRI", lambda: _crictl(n, "info").returncode == 0,
                       START_TIMEOUT_S, _logfile(n, "containerd"), pid)  # fmt: skip
    _pull(n, n.pause_image)

    pid, started = _start(n, "kubelet")
    hint = f"Node {NODE}: `kubectl describe node {NODE}`; kubelet log {_logfile(n, 'kubelet')}"
    processes.wait_for(f"{NAME} kubelet", lambda: _healthz(KUBELET_HEALTHZ_PORT),
                       START_TIMEOUT_S, _logfile(n, "kubelet"), pid, hint)  # fmt: skip
    processes.wait_for(f"{NAME} kubelet (node Ready)", lambda: node_ready(layout, started),
                       READY_TIMEOUT_S, _logfile(n, "kubelet"), pid, hint)  # fmt: skip

    pid, _ = _start(n, "kube-proxy")
    processes.wait_for(f"{NAME} kube-proxy", lambda: _healthz(PROXY_HEALTHZ_PORT),
                       START_TIMEOUT_S, _logfile(n, "kube-proxy"), pid)  # fmt: skip
    log.info("%s: node %s Ready in %.1f s (%.1f s to prepare the host, configs and images)",
             NAME, NODE, time.monotonic() - began, prepared - began)  # fmt: skip


def _proxy_predates_apiserver(layout: Layout, n: NodeLayout) -> bool:
    proxy, api = _running(n, "kube-proxy"), k8s_cluster.apiserver_pid(layout)
    if proxy is None or api is None or not (processes._alive(proxy) and processes._alive(api)):
        return False  # one of them is not running (or has just exited)
    try:
        return psutil.Process(proxy).create_time() < psutil.Process(api).create_time()
    except psutil.Error:  # one of them just exited
        return False


def _leftover(n: NodeLayout) -> bool:
    return (any(_running(n, c) for c in COMPONENTS) or host.owner() == str(n.root)
            or host.changed(n) or bool(host.our_processes(n)))  # fmt: skip


def _crictl(n: NodeLayout, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    crictl = [str(k8s_build.binary(n.layout, "crictl")), "--config", str(n.file("crictl.yaml"))]
    return subprocess.run([*crictl, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip


def _remove_pods(n: NodeLayout) -> None:
    """Stop and remove every pod sandbox through CRI: the CNI plugins' DEL frees the pod's
    veth, address and port mappings, and containerd unmounts its namespace."""
    if not k8s_build.binary(n.layout, "crictl").is_file():
        return
    pods = _crictl(n, "pods", "-q").stdout.split()
    if pods:
        for verb in (["stopp"], ["rmp", "-f"]):
            _crictl(n, *verb, *pods, timeout=120)


def down(layout: Layout) -> bool:
    """Stop the node and undo its host changes; False when there was nothing to stop."""
    n = NodeLayout(layout)
    if not _leftover(n):
        return False
    began = time.monotonic()
    for component in ("kube-proxy", "kubelet"):
        processes.stop(f"{NAME} {component}", _pidfile(n, component),
                       _markers(n, component), STOP_TIMEOUT_S[component])  # fmt: skip
    if _running(n, "containerd") and _ctr(n, "version").returncode == 0:
        _remove_pods(n)
    processes.stop(f"{NAME} containerd", _pidfile(n, "containerd"),
                   _markers(n, "containerd"), STOP_TIMEOUT_S["containerd"])  # fmt: skip
    host.kill_leftovers(n)
    time.sleep(0.3)  # killed shims release their mounts
    host.cleanup(n, k8s_build.binary(layout, "kube-proxy"))
    # Runtime folders go; containerd's image store stays for the next start.
    for sub in ("cni", "pod-logs", "kubelet", "kubelet-plugins", "containerd/run"):
        shutil.rmtree(n.root / sub, ignore_errors=True)
    log.info("%s: stopped, host changes undone in %.1f s", NAME, time.monotonic() - began)
    return True


def status(layout: Layout) -> Status:
    n = NodeLayout(layout)
    pids = {c: _running(n, c) for c in COMPONENTS}
    up_now = all(pids.values()) and _healthz(KUBELET_HEALTHZ_PORT) and node_ready(layout)
    version = "-"
    if up_now:
        with k8s_cluster.api_client(layout) as api:
            info = kubernetes.client.CoreV1Api(api).read_node(NODE).status.node_info
        version = f"{info.kubelet_version} {info.container_runtime_version.split('//')[-1]}"
    missing = [c for c, pid in pids.items() if pid is None]
    note = f"real node {NODE} ({n.node_ip})" + (f"; not running: {', '.join(missing)}"
                                                 if missing else "")  # fmt: skip
    address = f"{service_url(layout)} (NodePort)"
    return Status(NAME, up_now, address, version, str(_logfile(n, "kubelet")), note)
