"""The real node's files: where they live, and the configs it runs with.

Everything the node writes is under <state>/k8s/node: containerd's root, state and
socket, the kubelet's root, pod logs, CNI addresses, configs and client certificates
(k8s_node_pki). The configs are documents built from settings on every `up` and written
by serializers (devplatform.serialize); a file that already holds its document stays.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from devplatform import k8s_build, k8s_cluster, processes, serialize
from devplatform.layout import Layout

NAME = "k8s-node"
NODE = "liveline-node"
NODE_LABEL = "liveline.io/real-node"
# One real node per machine: these names and ports are the host's, not the state folder's.
BRIDGE = "lvcni0"
CGROUP_ROOT = "liveline-node"
EGRESS_CHAIN = "LVNODE-EGRESS"
KUBELET_PORT = 10250  # on the node IP only
KUBELET_HEALTHZ_PORT = 10248  # 127.0.0.1
PROXY_METRICS_PORT = 10249  # 127.0.0.1
PROXY_HEALTHZ_PORT = 10256  # 127.0.0.1
CNI_BIN = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
RUNC = Path("/usr/sbin/runc")


@dataclass(frozen=True)
class NodeLayout:
    """Paths and addresses of the real node, derived from the platform's layout."""

    layout: Layout

    @property
    def root(self) -> Path:
        return self.layout.state / "k8s" / "node"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def containerd(self) -> Path:
        return self.root / "containerd"

    @property
    def socket(self) -> Path:
        return self.containerd / "containerd.sock"

    @property
    def kubelet(self) -> Path:
        return self.root / "kubelet"

    @property
    def certs_d(self) -> Path:
        return self.config / "certs.d"

    @property
    def node_ip(self) -> str:
        """The bridge's address: the kubelet refuses a loopback node IP."""
        return str(next(ipaddress.ip_network(self.layout.settings.k8s_pod_cidr).hosts()))

    @property
    def apiserver(self) -> str:
        return f"https://127.0.0.1:{self.layout.settings.kube_apiserver_port}"

    @property
    def pause_image(self) -> str:
        s = self.layout.settings
        return f"{s.registry}/{s.k8s_pause_repository}:{pause_tag(self.layout)}"

    def file(self, name: str) -> Path:
        return self.config / name


def pause_source(layout: Layout) -> Path:
    """build/pause of the k8s.io/kubernetes module the kubelet is built from."""
    return Path(k8s_build.module_info(layout, "k8s", "k8s.io/kubernetes")["Dir"]) / "build/pause"


def pause_tag(layout: Layout) -> str:
    """The pause version this Kubernetes release ships (its Makefile's TAG)."""
    # Read by hand: one `TAG ?=` line, and no maintained Python library parses Makefiles.
    for line in (pause_source(layout) / "Makefile").read_text().splitlines():
        if line.startswith("TAG ?="):
            return line.split("=", 1)[1].strip()
    raise processes.PlatformError(f"{NAME}: no TAG in {pause_source(layout)}/Makefile")


def containerd_config(n: NodeLayout) -> dict:
    """containerd of the liveline real node: its own root, state and socket."""
    c = n.containerd
    runc = {
        "runtime_type": "io.containerd.runc.v2",
        # The kubelet's cgroupDriver is cgroupfs (PID 1 is not systemd).
        "options": {"BinaryName": str(RUNC), "Root": f"{c}/runc", "SystemdCgroup": False},
    }
    cri = {
        "sandbox_image": n.pause_image,
        "netns_mounts_under_state_dir": True,
        "disable_apparmor": True,
        "stream_server_address": "127.0.0.1",
        "stream_server_port": "0",
        # Without CAP_SYS_RESOURCE runc cannot give the sandbox oom_score_adj -998, and
        # every pod fails with "can't get final child's PID from pipe: EOF".
        "restrict_oom_score_adj": True,
        "enable_unprivileged_ports": False,
        "max_container_log_line_size": 16384,
        "cni": {"bin_dir": str(CNI_BIN), "conf_dir": f"{n.config}/cni", "max_conf_num": 1},
        "containerd": {
            "snapshotter": "overlayfs",
            "default_runtime_name": "runc",
            "runtimes": {"runc": runc},
        },
        "registry": {"config_path": str(n.certs_d)},
    }
    return {
        "version": 2,
        "root": f"{c}/root",
        "state": f"{c}/run",
        # Keep io.containerd.runtime.v1.linux: containerd 1.6's CRI plugin needs it.
        "disabled_plugins": [
            "io.containerd.snapshotter.v1.aufs",
            "io.containerd.snapshotter.v1.btrfs",
            "io.containerd.snapshotter.v1.devmapper",
            "io.containerd.snapshotter.v1.zfs",
            "io.containerd.tracing.processor.v1.otlp",
            "io.containerd.internal.v1.tracing",
        ],
        "grpc": {"address": str(n.socket)},
        "ttrpc": {"address": ""},
        "debug": {"address": "", "level": "info"},
        "plugins": {
            "io.containerd.internal.v1.opt": {"path": f"{c}/opt"},
            "io.containerd.grpc.v1.cri": cri,
        },
    }


def hosts_config(n: NodeLayout) -> dict:
    """The local registry speaks plain HTTP."""
    server = f"http://{n.layout.settings.registry}"
    return {"server": server, "host": {server: {"capabilities": ["pull", "resolve"]}}}


def cni_config(n: NodeLayout) -> dict:
    s = n.layout.settings
    bridge = {
        "type": "bridge",
        "bridge": BRIDGE,
        "isGateway": True,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "dataDir": f"{n.root}/cni/networks",
            "ranges": [[{"subnet": s.k8s_pod_cidr, "gateway": n.node_ip}]],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }
    portmap = {"type": "portmap", "capabilities": {"portMappings": True}}
    return {"cniVersion": "1.0.0", "name": "liveline-node", "plugins": [bridge, portmap]}


def kubelet_config(n: NodeLayout) -> dict:
    endpoint = f"unix://{n.socket}"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,  # cgroup v1 host: Kubernetes 1.35 refuses it unless told so
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{CGROUP_ROOT}",
        "cgroupsPerQOS": True,
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        "runtimeRequestTimeout": "2m",
        "address": n.node_ip,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": KUBELET_HEALTHZ_PORT,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": f"{k8s_cluster.pki_dir(n.layout)}/ca.crt"},
        },
        "authorization": {"mode": "Webhook"},
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "podLogsDir": f"{n.root}/pod-logs",
        "volumePluginDir": f"{n.root}/kubelet-plugins/volume/exec",
        "clusterDomain": "cluster.local",
        "resolvConf": "/etc/resolv.conf",
        "failSwapOn": False,
        "maxPods": 50,
        "serializeImagePulls": False,
        "registerNode": True,
        "nodeStatusReportFrequency": "1m",
        "nodeStatusUpdateFrequency": "10s",
        # The kubelet sets vm.overcommit_memory, kernel.panic and kernel.panic_on_oops;
        # `down` puts them back.
        "protectKernelDefaults": False,
        "evictionHard": {
            "memory.available": "200Mi",
            "nodefs.available": "5%",
            "imagefs.available": "5%",
            "nodefs.inodesFree": "3%",
        },
        "imageGCHighThresholdPercent": 95,
        "imageGCLowThresholdPercent": 90,
        "containerLogMaxSize": "10Mi",
        "containerLogMaxFiles": 3,
        "oomScoreAdj": 0,  # the default -999 needs CAP_SYS_RESOURCE, not granted here
        "shutdownGracePeriod": "0s",  # graceful node shutdown needs systemd-logind
    }


def kube_proxy_config(n: NodeLayout) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        # iptables, not nftables: only the iptables proxier serves NodePorts on 127.0.0.1.
        "mode": "iptables",
        "clientConnection": {"kubeconfig": f"{n.pki}/kube-proxy.kubeconfig"},
        "hostnameOverride": NODE,
        "bindAddress": n.node_ip,
        "healthzBindAddress": f"127.0.0.1:{PROXY_HEALTHZ_PORT}",
        "metricsBindAddress": f"127.0.0.1:{PROXY_METRICS_PORT}",
        "clusterCIDR": n.layout.settings.k8s_pod_cidr,
        "detectLocalMode": "ClusterCIDR",
        # NodePorts answer on 127.0.0.1 (kube-proxy sets route_localnet=1) and the node IP.
        "nodePortAddresses": ["127.0.0.0/8", f"{n.node_ip}/32"],
        "iptables": {
            "localhostNodePorts": True,
            "masqueradeBit": 14,
            "syncPeriod": "30s",
            "minSyncPeriod": "1s",
        },
        "oomScoreAdj": 0,
        # 0: leave the host's conntrack sysctls alone.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


def crictl_config(n: NodeLayout) -> dict:
    endpoint = f"unix://{n.socket}"
    return {"runtime-endpoint": endpoint, "image-endpoint": endpoint, "timeout": 30}


def configs(n: NodeLayout) -> dict[str, dict]:
    """The node's config documents by file name (under n.config)."""
    return {
        "containerd.toml": containerd_config(n),
        "cni/10-liveline.conflist": cni_config(n),
        "kubelet.yaml": kubelet_config(n),
        "kube-proxy.yaml": kube_proxy_config(n),
        "crictl.yaml": crictl_config(n),
        f"certs.d/{n.layout.settings.registry}/hosts.toml": hosts_config(n),
    }


def write_configs(n: NodeLayout) -> None:
    for path in (n.config / "cni", n.certs_d / n.layout.settings.registry, n.pki):
        path.mkdir(parents=True, exist_ok=True)
    for name, doc in configs(n).items():
        # A file that already holds the document is left alone (its formatting too):
        # kube-proxy exits when its config file is written.
        if serialize.read(n.file(name)) != doc:
            serialize.write(n.file(name), doc)
