"""What the real node changes on the machine, and how `down` puts it all back.

`prepare` makes the CNI bridge (its address is the node IP; its ifalias names the state
folder that owns it, so a second node on the same machine is refused), a route that keeps
unanswered Service addresses on this host, an egress guard (pods reach pods, Services
and this host, nothing beyond), and the pods' cgroup root in every cgroup v1 hierarchy.
It records the sysctls the kubelet and kube-proxy change and the host folders they
create whatever their config says. `cleanup` undoes all of it, plus what the components
leave behind (mounts, veths, iptables chains, nfacct counters); `leftovers` lists what
is still there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import shlex
import signal
import subprocess
from pathlib import Path

import psutil

from devplatform import processes
from devplatform.k8s_node_config import (
    BRIDGE,
    CGROUP_ROOT,
    EGRESS_CHAIN,
    KUBELET_HEALTHZ_PORT,
    KUBELET_PORT,
    NAME,
    PROXY_HEALTHZ_PORT,
    PROXY_METRICS_PORT,
    NodeLayout,
)

log = logging.getLogger(__name__)

CGROUP_FS = Path("/sys/fs/cgroup")
# Changed by the kubelet (protectKernelDefaults: false) or kube-proxy (route_localnet).
SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
           "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
           "net/ipv4/conf/all/route_localnet", "net/bridge/bridge-nf-call-iptables",
           "net/bridge/bridge-nf-call-ip6tables", "net/ipv4/ip_forward")  # fmt: skip
# Created whatever the config says: the kubelet's device-plugin socket folder (a constant
# of its API) and containerd 1.6's CNI result cache. Removed by `down` if we made them.
HOST_DIRS = (Path("/var/lib/kubelet"), Path("/var/lib/cni"))
OUR_HOST_FILES = ("/var/lib/kubelet/device-plugins/kubelet.sock",)
CHAIN_PREFIXES = ("KUBE-", "CNI-", EGRESS_CHAIN)
# Kernel packet counters (nfnetlink_acct) that kube-proxy's iptables rules count into;
# they outlive the rules and `kube-proxy --cleanup`.
NFACCT_COUNTERS = ("ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts")


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, check=False)
    if check and out.returncode != 0:
        raise processes.PlatformError(f"{NAME}: `{' '.join(cmd)}` failed: {out.stderr.strip()}")
    return out


def _record(n: NodeLayout) -> Path:
    return n.root / "host-changes.json"


def _before(n: NodeLayout) -> Path:
    # Which HOST_DIRS existed before the node first ran here: kept across `down`, so that
    # `leftovers` never blames the node for a folder someone else made.
    return n.root / "host-dirs-before.json"


def changed(n: NodeLayout) -> bool:
    """The node changed this host and `cleanup` has not undone it yet."""
    return _record(n).is_file()


def owner() -> str | None:
    """The node folder that made the bridge, or None when there is no bridge."""
    # Read from sysfs: psutil's network calls do not give an interface's alias.
    alias = Path(f"/sys/class/net/{BRIDGE}/ifalias")
    return alias.read_text().strip() if alias.exists() else None


def cgroup_v1_hierarchies() -> list[Path]:
    """The v1 controller hierarchies (a hybrid host's cgroup2 mount is not one)."""
    # cgroupfs used directly: it is the kernel's interface, and no maintained library wraps v1.
    if (CGROUP_FS / "cgroup.controllers").exists():
        raise processes.PlatformError(
            f"{NAME}: this machine has cgroup v2 only; the real node is made and tested for "
            "cgroup v1 (hybrid) hosts. Use LIVELINE_CLUSTER_NODE=simulated here."
        )
    return sorted(p for p in CGROUP_FS.iterdir() if p.is_dir() and p.name != "unified")


def prepare(n: NodeLayout) -> None:
    """Make the host changes the node needs (idempotent)."""
    hierarchies = cgroup_v1_hierarchies()
    made_by = owner()
    if made_by is not None and made_by != str(n.root):
        raise processes.PlatformError(
            f"{NAME}: the bridge {BRIDGE} belongs to the real node of {made_by}; one real "
            f"node runs per machine. Stop that one (its `down`), or use "
            f"LIVELINE_CLUSTER_NODE=simulated here."
        )
    n.root.mkdir(parents=True, exist_ok=True)
    if not _before(n).is_file():
        _before(n).write_text(json.dumps([str(d) for d in HOST_DIRS if d.exists()]))
    if not _record(n).is_file():
        record = {
            "sysctls": {s: _sysctl(s) for s in SYSCTLS if Path("/proc/sys", s).exists()},
            "created_dirs": [str(d) for d in HOST_DIRS if not d.exists()],
        }
        _record(n).write_text(json.dumps(record, indent=1))
    if made_by is None:
        prefix = ipaddress.ip_network(n.layout.settings.k8s_pod_cidr).prefixlen
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
        _run("ip", "link", "set", BRIDGE, "alias", str(n.root))
        _run("ip", "addr", "add", f"{n.node_ip}/{prefix}", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")
    # A Service address kube-proxy has not programmed yet dies here instead of following
    # the default route off the machine.
    _run("ip", "route", "replace", n.layout.settings.k8s_service_cidr, "dev", BRIDGE)
    if _run("iptables", "-C", "FORWARD", "-j", EGRESS_CHAIN, check=False).returncode != 0:
        pods = n.layout.settings.k8s_pod_cidr
        _run("iptables", "-N", EGRESS_CHAIN, check=False)
        _run("iptables", "-F", EGRESS_CHAIN)
        _run("iptables", "-A", EGRESS_CHAIN, "-s", pods, "!", "-d", pods, "-m", "comment",
             "--comment", "liveline node: pods stay on this host", "-j", "DROP")  # fmt: skip
        _run("iptables", "-I", "FORWARD", "1", "-j", EGRESS_CHAIN)
    for hierarchy in hierarchies:
        (hierarchy / CGROUP_ROOT).mkdir(exist_ok=True)
    cpuset = CGROUP_FS / "cpuset" / CGROUP_ROOT
    for name in ("cpuset.cpus", "cpuset.mems"):
        if cpuset.is_dir() and not (cpuset / name).read_text().strip():
            (cpuset / name).write_text((cpuset.parent / name).read_text())


def _sysctl(name: str) -> str:
    # /proc/sys read directly: psutil has no sysctls, and `sysctl` is only a wrapper of it.
    return Path("/proc/sys", name).read_text().strip()


def kill_leftovers(n: NodeLayout) -> None:
    """SIGKILL any process still running from the node's folder (shims included)."""
    for pid in our_processes(n):
        log.warning("%s: leftover process %d: %s", NAME, pid, _cmdline(pid)[:120])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def cleanup(n: NodeLayout, kube_proxy: Path) -> None:
    """Undo every host change (call after the node's processes are stopped)."""
    for _ in range(3):
        mounts = _our_mounts(n)
        for mount in mounts:
            if _run("umount", mount, check=False).returncode != 0:
                _run("umount", "-l", mount, check=False)
        if not mounts:
            break
    if owner() == str(n.root):
        for veth in _bridge_ports():
            _run("ip", "link", "del", veth, check=False)
        _run("ip", "link", "del", BRIDGE)  # its routes go with it
        _clean_iptables(kube_proxy)
    _remove_cgroups()
    record = json.loads(_record(n).read_text()) if _record(n).is_file() else {}
    for name, value in record.get("sysctls", {}).items():
        if _sysctl(name) != value:
            log.info("%s: sysctl %s back to %s", NAME, name.replace("/", "."), value)
            Path("/proc/sys", name).write_text(value)
    for path in record.get("created_dirs", []):
        _run("rm", "-rf", "--one-file-system", path)
    for path in OUR_HOST_FILES:
        Path(path).unlink(missing_ok=True)
    for results in Path("/var/lib/cni/results").glob("liveline-node-*"):
        results.unlink()
    _record(n).unlink(missing_ok=True)


def _clean_iptables(kube_proxy: Path) -> None:
    while _run("iptables", "-D", "FORWARD", "-j", EGRESS_CHAIN, check=False).returncode == 0:
        pass
    if kube_proxy.is_file():
        _run(str(kube_proxy), "--cleanup", check=False)
    for counter in _nfacct_counters():
        _run("nfacct", "del", counter, check=False)
    # kube-proxy's cleanup leaves the kubelet's chains and the CNI plugins' (portmap).
    # iptables-save parsed by hand: the CLI is iptables' interface (no maintained binding
    # covers its nft backend).
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle", "raw"):
            rules = _run(f"{tool}-save", "-t", table, check=False).stdout.splitlines()
            for rule in rules:
                words = shlex.split(rule) if rule.startswith("-A ") else []
                if (len(words) > 1 and not words[1].startswith(CHAIN_PREFIXES)
                        and any(w.startswith(CHAIN_PREFIXES) for w in words[2:])):  # fmt: skip
                    _run(tool, "-t", table, "-D", *words[1:], check=False)
            chains = [r[1:].split()[0] for r in rules if r.startswith(":")]
            ours = [c for c in chains if c.startswith(CHAIN_PREFIXES)]
            for flag in ("-F", "-X"):
                for chain in ours:
                    _run(tool, "-t", table, flag, chain, check=False)


def _nfacct_counters() -> list[str]:
    # `nfacct list` output: no Python binding of nfnetlink_acct exists.
    listed = _run("nfacct", "list", check=False).stdout
    return [c for c in NFACCT_COUNTERS if f"= {c};" in listed]


def _remove_cgroups() -> None:
    for hierarchy in CGROUP_FS.iterdir():
        root = hierarchy / CGROUP_ROOT
        if not root.is_dir():
            continue
        # Deepest first: a cgroup folder is removed with rmdir once its children are.
        for path in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                path.rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()


def _our_mounts(n: NodeLayout) -> list[str]:
    prefix = str(n.root)
    points = [part.mountpoint for part in psutil.disk_partitions(all=True)]
    ours = [p for p in points if p == prefix or p.startswith(prefix + "/")]
    return sorted(set(ours), key=lambda p: -p.count("/"))


def _bridge_ports() -> list[str]:
    # `ip` output: psutil does not know bridge ports, and no netlink library is installed.
    out = _run("ip", "-o", "link", "show", "master", BRIDGE, check=False).stdout
    return [line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line]


def _cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def our_processes(n: NodeLayout) -> list[int]:
    """Live processes (not zombies) running from the node's folder, or containerd shims
    of its containerd."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.pid == os.getpid() or proc.info["status"] in (None, psutil.STATUS_ZOMBIE):
            continue
        cmd = " ".join(proc.info["cmdline"] or [])
        if f"{n.root}/" in cmd or (cmd.startswith("containerd-shim") and str(n.socket) in cmd):
            found.append(proc.pid)
    return found


def leftovers(n: NodeLayout) -> list[str]:
    """What of the node is still on the machine (empty after a clean `down`)."""
    left = [f"process {p}: {_cmdline(p)[:100]}" for p in our_processes(n)]
    left += [f"mount {m}" for m in _our_mounts(n)]
    if owner() is not None:
        left.append(f"bridge {BRIDGE} (of {owner()})")
    # `ip` output (links, routes): no netlink library (pyroute2) is installed.
    veths = _run("ip", "-o", "link", "show", "type", "veth", check=False).stdout.splitlines()
    left += [f"veth {v.split(': ')[1]}" for v in veths if "master docker0" not in v]
    routes = _run("ip", "route", check=False).stdout.splitlines()
    nets = (n.layout.settings.k8s_pod_cidr, n.layout.settings.k8s_service_cidr)
    left += [f"route {r}" for r in routes if r.split()[0] in nets]
    for tool in ("iptables-save", "ip6tables-save"):
        rules = [r for r in _run(tool, check=False).stdout.splitlines()
                 if any(p in r for p in CHAIN_PREFIXES)]  # fmt: skip
        left += [f"{tool}: {len(rules)} rules/chains of the node"] if rules else []
    left += [f"nfacct counter {c}" for c in _nfacct_counters()]
    left += [f"cgroup {h / CGROUP_ROOT}" for h in CGROUP_FS.iterdir() if (h / CGROUP_ROOT).is_dir()]
    before = json.loads(_before(n).read_text()) if _before(n).is_file() else []
    mine = [d for d in HOST_DIRS if str(d) not in before]
    left += [f"path {p}" for p in (*mine, *map(Path, OUR_HOST_FILES)) if p.exists()]
    listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == "LISTEN"}
    ports = (KUBELET_PORT, KUBELET_HEALTHZ_PORT, PROXY_METRICS_PORT, PROXY_HEALTHZ_PORT)
    left += [f"port {p} listening" for p in ports if p in listening]
    if _record(n).is_file():
        left.append(f"host changes not undone ({_record(n)})")
    return left
