"""Kubernetes compiled from its Go modules, since no prebuilt binary can be downloaded.

Three build modules in tools/k8s pin the versions (go.mod + go.sum; regenerate with
tools/k8s/gen-gomod.sh): Kubernetes (apiserver, controller-manager, scheduler, kubectl,
kubelet), etcd, and kwok (simulated nodes and kwokctl, which runs the cluster). Each
builds in its own module because kwok needs newer k8s.io libraries than Kubernetes pins.
Two more are built only for the real node: kube-proxy (the Kubernetes module plus it)
and cri-tools (crictl).
Binaries and Go caches live in the state folder; a group is rebuilt only when its pin
(go.mod, go.sum, this recipe) changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from devplatform import processes
from devplatform.layout import Layout
from liveline import settings as settings_module
from liveline.runlog import run_logged, tail

log = logging.getLogger(__name__)

NAME = "k8s-build"
TOOLS = settings_module.REPO_ROOT / "tools" / "k8s"
BUILD_TIMEOUT_S = 3600.0
RECIPE = "1"  # bump when the flags below change, to rebuild everywhere
K8S_VERSION_PKGS = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
GROUPS: dict[str, tuple[str, list[str]]] = {
    "k8s": (
        "k8s.io/kubernetes",
        [
            f"k8s.io/kubernetes/cmd/{c}"
            for c in (
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kubectl",
                "kubelet",
            )
        ],
    ),
    "etcd": ("go.etcd.io/etcd/server/v3", ["go.etcd.io/etcd/server/v3"]),
    "kwok": ("sigs.k8s.io/kwok", ["sigs.k8s.io/kwok/cmd/kwok", "sigs.k8s.io/kwok/cmd/kwokctl"]),
}
BINARIES = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl",
            "kubelet", "etcd", "kwok", "kwokctl"]  # fmt: skip
# Built only for the real node (k8s_node): kube-proxy from the Kubernetes version of the
# control plane and kubelet (checked before building), and crictl, which stops the
# node's pods through CRI on `down` so the CNI plugins release what they took.
NODE_GROUPS: dict[str, tuple[str, list[str]]] = {
    "kube-proxy": ("k8s.io/kubernetes", ["k8s.io/kubernetes/cmd/kube-proxy"]),
    "cri-tools": ("sigs.k8s.io/cri-tools", ["sigs.k8s.io/cri-tools/cmd/crictl"]),
}


def bin_dir(layout: Layout) -> Path:
    return layout.settings.k8s_bin_dir


def binary(layout: Layout, name: str) -> Path:
    return bin_dir(layout) / name


def go() -> str:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        raise processes.PlatformError(
            f"{NAME}: no Go toolchain found; install Go 1.25+ (the Kubernetes build needs it)."
        )
    return go


def go_env(layout: Layout) -> dict[str, str]:
    go_dir = layout.state / "go"
    return {
        "GOMODCACHE": str(go_dir / "mod"),
        "GOCACHE": str(go_dir / "cache"),
        "GOPATH": str(go_dir / "path"),
        "GOTOOLCHAIN": "local",  # never download another toolchain
        "CGO_ENABLED": "0",  # static binaries, as upstream builds the control plane
        "GOFLAGS": "-mod=readonly -trimpath -buildvcs=false",
    }


def _pin(group: str) -> str:
    digest = hashlib.sha256(RECIPE.encode())
    for name in ("go.mod", "go.sum"):
        digest.update((TOOLS / group / name).read_bytes())
    return digest.hexdigest()


def _module(layout: Layout, group: str, module: str) -> dict:
    out = subprocess.run(
        [go(), "list", "-m", "-json", module],
        cwd=TOOLS / group,
        env={**os.environ, **go_env(layout)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise processes.PlatformError(f"{NAME}: `go list -m {module}` failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def module_info(layout: Layout, group: str, module: str) -> dict:
    """`go list -m -json` of a module of a group (its Version, and Dir in the cache)."""
    return _module(layout, group, module)


def _ldflags(layout: Layout, group: str, module: str) -> str:
    info = _module(layout, group, module)
    version = info["Version"]
    if group == "etcd":
        return f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={version}"
    if group == "kwok":
        k8s = _module(layout, "k8s", "k8s.io/kubernetes")["Version"]
        return (f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={version.removeprefix('v')} "
                f"-X sigs.k8s.io/kwok/pkg/consts.KubeVersion={k8s.removeprefix('v')}")  # fmt: skip
    if group == "cri-tools":
        return f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={version}"
    # kwokctl reads each binary's --version to choose flags: stamp it as upstream does.
    major, minor = version.removeprefix("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in K8S_VERSION_PKGS:
        flags += [f"-X {pkg}.{k}={v}" for k, v in (
            ("gitVersion", version), ("gitMajor", major), ("gitMinor", minor),
            ("gitTreeState", "clean"), ("buildDate", info.get("Time", "unknown")),
            ("gitCommit", "unknown"),
        )]  # fmt: skip
    return " ".join(flags)


def _check_same_kubernetes(layout: Layout) -> None:
    ours = _module(layout, "kube-proxy", "k8s.io/kubernetes")["Version"]
    control_plane = _module(layout, "k8s", "k8s.io/kubernetes")["Version"]
    if ours != control_plane:
        raise processes.PlatformError(
            f"{NAME}: tools/k8s/kube-proxy pins Kubernetes {ours} and tools/k8s/k8s "
            f"{control_plane}: regenerate tools/k8s/kube-proxy (see its go.mod)"
        )


def ensure_built(layout: Layout, groups: dict[str, tuple[str, list[str]]] | None = None) -> Path:
    """Build every group (of GROUPS, or those given) whose pin changed or whose binaries
    are missing; return bin dir."""
    out = bin_dir(layout)
    out.mkdir(parents=True, exist_ok=True)
    logfile = layout.logfile(NAME)
    for group, (module, packages) in (GROUPS if groups is None else groups).items():
        stamp = out / f".{group}.pin"
        names = [p.rsplit("/", 1)[1] if group != "etcd" else "etcd" for p in packages]
        if (stamp.is_file() and stamp.read_text() == _pin(group)
                and all((out / n).is_file() for n in names)):  # fmt: skip
            continue
        started = time.monotonic()
        log.info("%s: compiling %s (first build on a machine: several minutes; log %s)",
                 NAME, ", ".join(names), logfile)  # fmt: skip
        if group == "kube-proxy":
            _check_same_kubernetes(layout)
        ldflags = _ldflags(layout, group, module)
        cmd = [go(), "build", "-ldflags", ldflags, "-o", f"{out}/"]
        if group in ("k8s", "kube-proxy"):
            cmd += ["-tags=selinux,notest,grpcnotrace"]  # upstream's release build tags
        if group == "etcd":
            cmd[-1] = str(out / "etcd")
        rc = run_logged([*cmd, *packages], logfile, BUILD_TIMEOUT_S, cwd=TOOLS / group,
                        env=go_env(layout))  # fmt: skip
        if rc != 0:
            raise processes.PlatformError(
                f"{NAME}: building {group} failed (exit {rc}). Last lines of {logfile}:\n"
                f"{tail(logfile)}\nCheck free disk and access to the Go module proxy."
            )
        stamp.write_text(_pin(group))
        log.info("%s: %s built in %.0f s", NAME, group, time.monotonic() - started)
    return out
