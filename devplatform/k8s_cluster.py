"""The local Kubernetes cluster standing in for AKS: real control plane, kwok node.

kwokctl (binary runtime) runs etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and the kwok controller from the binaries compiled by k8s_build, all bound
to 127.0.0.1, with its state in <state>/k8s/kwok and the kubeconfig at
settings.kubeconfig_path (never ~/.kube/config). `down` stops the cluster and keeps its
etcd data, so the next `up` is a warm start. With LIVELINE_KUBECONFIG set, the cluster
is someone else's (e.g. AKS): `up` only checks that it answers and `down` leaves it.

With settings.cluster_node "real" the cluster is made for the real node of k8s_node: the
API server can reach kubelets (client certificate, InternalIP), Services get a fixed
range and NodePorts a range below kwokctl's own loopback ports, kwokctl's ports are
fixed, and kwok-node-0 is tainted so that only pods which tolerate it run there (tests
that need kwok's simulated containers: images that exist nowhere). A marker in the
cluster's folder records the mode it was created for; `up` recreates a cluster made for
the other mode.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import kubernetes

from devplatform import k8s_build, processes, serialize
from devplatform.layout import Layout
from devplatform.report import Status
from liveline import k8s
from liveline.runlog import run_logged, tail

log = logging.getLogger(__name__)

NAME = "kubernetes"
CLUSTER = "liveline"
NODE = "kwok-node-0"
START_TIMEOUT_S = 180.0
STAGES = k8s_build.TOOLS / "stages.yaml"
NODE_MANIFEST = k8s_build.TOOLS / "node.yaml"
MODES = ("simulated", "real")
MODE_MARKER = "liveline-node-mode"
# Real node: what keeps ordinary pods off the simulated node.
KWOK_TAINT = "liveline.io/simulated-node"
# kwokctl's <name>Binary options: the programs k8s_build compiled, and paths that do not
# exist for those not built, which make kwokctl fail instead of downloading them.
_BINARIES = {
    "kubeApiserver": "kube-apiserver",
    "kubeControllerManager": "kube-controller-manager",
    "kubeScheduler": "kube-scheduler",
    "kubectl": "kubectl",
    "etcd": "etcd",
    "kwokController": "kwok",
    **{name: f"{name}.not-built" for name in ("etcdctl", "etcdutl", "kectl")},
}


def external(layout: Layout) -> bool:
    return bool(layout.settings.kubeconfig)


def workdir(layout: Layout) -> Path:
    return layout.state / "k8s" / "kwok"


def env(layout: Layout) -> dict[str, str]:
    """Keeps kwokctl and kubectl out of the home folder (~/.kwok, ~/.kube)."""
    return {
        "KWOK_WORKDIR": str(workdir(layout)),
        "KUBECONFIG": str(layout.settings.kubeconfig_path),
        "KUBECACHEDIR": str(layout.state / "k8s" / "kube-cache"),
    }


def api_client(layout: Layout) -> kubernetes.client.ApiClient:
    """A client for the configured cluster (local kubeconfig, or LIVELINE_KUBECONFIG)."""
    return k8s.api_client(layout.settings.kubeconfig_path, layout.settings.kube_context)


def apiserver_pid(layout: Layout) -> int | None:
    """The running kube-apiserver's pid, from kwokctl's pid file; None if not running."""
    pidfile = workdir(layout) / "clusters" / CLUSTER / "pids" / "kube-apiserver.pid"
    try:
        pid = int(pidfile.read_text().strip())
        return pid if processes._alive(pid) else None  # a zombie has exited
    except (OSError, ValueError, OverflowError):  # no pid file, or no pid in it
        return None


def version(layout: Layout) -> str | None:
    if not layout.settings.kubeconfig_path.is_file():
        return None
    try:
        with api_client(layout) as api:
            return kubernetes.client.VersionApi(api).get_code(_request_timeout=3).git_version
    except Exception:  # any failure to answer means "not running"
        return None


def node_mode(layout: Layout) -> str:
    """settings.cluster_node, checked: "simulated" or "real"."""
    mode = layout.settings.cluster_node
    if mode not in MODES:
        raise processes.PlatformError(
            f"{NAME}: LIVELINE_CLUSTER_NODE={mode!r} is not one of {', '.join(MODES)}"
        )
    return mode


def real_node(layout: Layout) -> bool:
    return not external(layout) and node_mode(layout) == "real"


def pki_dir(layout: Layout) -> Path:
    """kwokctl's CA (ca.crt, ca.key) and admin certificate (system:masters)."""
    return workdir(layout) / "clusters" / CLUSTER / "pki"


def _created_for(layout: Layout) -> str:
    # A cluster created before the marker existed was made for the simulated node.
    marker = workdir(layout) / "clusters" / CLUSTER / MODE_MARKER
    return marker.read_text().strip() if marker.is_file() else "simulated"


def _arg(key: str, value: str) -> dict[str, str]:
    return {"key": key, "value": value}


def _real_node_config(layout: Layout) -> tuple[dict[str, int], list[dict[str, str]]]:
    """kwokctl options and API server flags the real node needs (k8s_node)."""
    s, pki = layout.settings, pki_dir(layout)
    # kwokctl would pick free loopback ports from 32767 down at creation: fixed ones keep
    # a cluster created while another one is stopped from taking that one's ports.
    port = s.kube_apiserver_port
    options = {
        "etcdPort": port + 1,
        "etcdPeerPort": port + 2,
        "kubeControllerManagerPort": port + 3,
        "kubeSchedulerPort": port + 4,
        "kwokControllerPort": port + 5,
    }
    flags = [
        _arg("service-cluster-ip-range", s.k8s_service_cidr),
        # kube-proxy DNATs 127.0.0.1:<NodePort> before any socket sees it: keep NodePorts
        # away from the loopback ports kwokctl components listen on.
        _arg("service-node-port-range", s.k8s_node_port_range),
        # kubectl logs/exec/port-forward: the API server calls the kubelet on its
        # InternalIP (its Hostname does not resolve) with the admin certificate.
        _arg("kubelet-client-certificate", f"{pki}/admin.crt"),
        _arg("kubelet-client-key", f"{pki}/admin.key"),
        _arg("kubelet-preferred-address-types", "InternalIP"),
    ]
    return options, flags


def kwokctl_config(layout: Layout, kube_version: str) -> dict:
    b = k8s_build.bin_dir(layout)
    options, flags = _real_node_config(layout) if real_node(layout) else ({}, [])
    apiserver = [
        # Keep the kubernetes Service on loopback; loopback endpoints are refused by the
        # endpoint reconciler, so it is off (kwok pods never call the API).
        _arg("advertise-address", "127.0.0.1"),
        _arg("endpoint-reconciler-type", "none"),
        *flags,
    ]
    kwok = [
        _arg("node-ip", "127.0.0.1"),
        # Only nodes annotated as fake: a real kubelet node must never be taken over.
        _arg("manage-all-nodes", "false"),
        _arg("manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake"),
        # kwok's default pod range overlaps the apiserver's service range.
        _arg("cidr", "10.244.0.0/16"),
    ]
    return {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "bindAddress": "127.0.0.1",
            "kubeApiserverPort": layout.settings.kube_apiserver_port,
            "kubeVersion": kube_version,
            "cacheDir": f"{workdir(layout)}/cache",
            **{f"{name}Binary": f"{b}/{program}" for name, program in _BINARIES.items()},
            **options,
        },
        "componentsPatches": [
            {"name": "kube-apiserver", "extraArgs": apiserver},
            {"name": "kwok-controller", "extraArgs": kwok},
        ],
    }


def _config(layout: Layout) -> Path:
    path = layout.state / "k8s" / "kwokctl.yaml"
    doc = kwokctl_config(layout, _kube_version(k8s_build.bin_dir(layout)))
    serialize.write(path, doc)
    return path


def _kube_version(bin_dir: Path) -> str:
    out = subprocess.run([str(bin_dir / "kube-apiserver"), "--version"], capture_output=True,
                         text=True, timeout=30, check=True).stdout  # fmt: skip
    return out.split()[-1]  # "Kubernetes v1.35.4": the binary's only way to say it


def _kwokctl(layout: Layout, *args: str, timeout: float = START_TIMEOUT_S) -> None:
    logfile = layout.logfile(NAME)
    cmd = [str(k8s_build.binary(layout, "kwokctl")), "--name", CLUSTER, *args]
    if run_logged(cmd, logfile, timeout, env=env(layout)) != 0:
        raise processes.PlatformError(
            f"{NAME}: `kwokctl {' '.join(args)}` failed. Last lines of {logfile}:\n"
            f"{tail(logfile)}\nComponent logs: {workdir(layout)}/clusters/{CLUSTER}/"
            f"logs. Is port {layout.settings.kube_apiserver_port} taken? Set "
            f"LIVELINE_KUBE_APISERVER_PORT, or `make down` and `make up` again."
        )


def kubectl(layout: Layout, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the built kubectl against the configured cluster."""
    cmd = [str(k8s_build.binary(layout, "kubectl")), *args]
    return subprocess.run(cmd, env={**os.environ, **env(layout)}, capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip


def _exists(layout: Layout) -> bool:
    return (workdir(layout) / "clusters" / CLUSTER / "kwok.yaml").is_file()


def up(layout: Layout) -> None:
    if external(layout):
        if version(layout) is None:
            raise processes.PlatformError(
                f"{NAME}: the cluster in LIVELINE_KUBECONFIG={layout.settings.kubeconfig} "
                f"does not answer; check the context ({layout.settings.kube_context or 'current'})"
            )
        return
    k8s_build.ensure_built(layout)
    mode = node_mode(layout)
    if _exists(layout) and _created_for(layout) != mode:
        log.warning("%s: the cluster was made for the %s node and LIVELINE_CLUSTER_NODE is "
                    "%s: deleting it to create it again (its objects are lost)",
                    NAME, _created_for(layout), mode)  # fmt: skip
        _kwokctl(layout, "delete", "cluster", timeout=120)
    if version(layout) is None:
        started = time.monotonic()
        if _exists(layout):
            log.info("%s: starting the existing cluster", NAME)
            _kwokctl(layout, "start", "cluster", "--wait", "120s")
        else:
            log.info("%s: creating the cluster (kwokctl, binary runtime)", NAME)
            _kwokctl(layout, "-c", str(_config(layout)), "-c", str(STAGES), "create", "cluster",
                     "--kubeconfig", env(layout)["KUBECONFIG"], "--wait", "120s")  # fmt: skip
            (workdir(layout) / "clusters" / CLUSTER / MODE_MARKER).write_text(mode + "\n")
        log.info("%s: control plane answers after %.1f s", NAME, time.monotonic() - started)
    _ensure_node(layout)


def _ensure_node(layout: Layout) -> None:
    steps = [
        ("apply", "--server-side", "--field-manager=liveline", "-f", str(NODE_MANIFEST)),
        ("wait", f"node/{NODE}", "--for=condition=Ready", "--timeout=60s"),
        *(
            [("taint", "node", NODE, f"{KWOK_TAINT}=true:NoSchedule", "--overwrite")]
            if real_node(layout)
            else []
        ),
        # Pods need the default ServiceAccount, which the controller-manager makes a bit later.
        ("wait", "-n", "default", "serviceaccount/default", "--for=create", "--timeout=60s"),
    ]
    for args in steps:
        out = kubectl(layout, *args)
        if out.returncode != 0:
            raise processes.PlatformError(
                f"{NAME}: `kubectl {' '.join(args)}` failed: {out.stderr.strip()}\n"
                f"Component logs: {workdir(layout)}/clusters/{CLUSTER}/logs"
            )


def down(layout: Layout) -> bool:
    if external(layout) or not _exists(layout) or version(layout) is None:
        return False
    _kwokctl(layout, "stop", "cluster", timeout=120)
    return True


def status(layout: Layout) -> Status:
    v = version(layout)
    if external(layout):
        note = "external (LIVELINE_KUBECONFIG)"
    else:
        note = "for a real node" if layout.settings.cluster_node == "real" else "kwok node"
    address = f"kubeconfig {layout.settings.kubeconfig_path}"
    return Status(NAME, v is not None, address, v or "-", str(layout.logfile(NAME)), note)
