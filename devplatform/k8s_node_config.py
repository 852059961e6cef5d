"""The real node's files: where they live, and the configs it runs with.

Everything the node writes is under <state>/k8s/node: containerd's root, state and
socket, the kubelet's root, pod logs, CNI addresses, configs and client certificates
(k8s_node_pki). The configs are rendered from settings on every `up`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from devplatform import k8s_build, k8s_cluster, processes
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
    for line in (pause_source(layout) / "Makefile").read_text().splitlines():
        if line.startswith("TAG ?="):
            return line.split("=", 1)[1].strip()
    raise processes.PlatformError(f"{NAME}: no TAG in {pause_source(layout)}/Makefile")


def containerd_toml(n: NodeLayout) -> str:
    c = n.containerd
    return f"""# containerd of the liveline real node: its own root, state and socket.
version = 2
root = "{c}/root"
state = "{c}/run"
# Keep io.containerd.runtime.v1.linux: containerd 1.6's CRI plugin needs it.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{n.socket}"
[ttrpc]
  address = ""
[debug]
  address = ""
  level = "info"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{c}/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{n.pause_image}"
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    # Without CAP_SYS_RESOURCE runc cannot give the sandbox oom_score_adj -998, and every
    # pod fails with "can't get final child's PID from pipe: EOF".
    restrict_oom_score_adj = true
    enable_unprivileged_ports = false
    max_container_log_line_size = 16384
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "{CNI_BIN}"
      conf_dir = "{n.config}/cni"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "{RUNC}"
          Root = "{c}/runc"
          # The kubelet's cgroupDriver is cgroupfs (PID 1 is not systemd).
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "{n.certs_d}"
"""


def hosts_toml(n: NodeLayout) -> str:
    registry = n.layout.settings.registry
    return f"""# The local registry speaks plain HTTP.
server = "http://{registry}"

[host."http://{registry}"]
  capabilities = ["pull", "resolve"]
"""


def cni_conflist(n: NodeLayout) -> str:
    return f"""{{
  "cniVersion": "1.0.0",
  "name": "liveline-node",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {{
        "type": "host-local",
        "dataDir": "{n.root}/cni/networks",
        "ranges": [[{{"subnet": "{n.layout.settings.k8s_pod_cidr}", "gateway": "{n.node_ip}"}}]],
        "routes": [{{"dst": "0.0.0.0/0"}}]
      }}
    }},
    {{"type": "portmap", "capabilities": {{"portMappings": true}}}}
  ]
}}
"""


def kubelet_config(n: NodeLayout) -> str:
    return f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 host: Kubernetes 1.35 refuses it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /{CGROUP_ROOT}
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://{n.socket}
imageServiceEndpoint: unix://{n.socket}
runtimeRequestTimeout: 2m
address: {n.node_ip}
port: {KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {KUBELET_HEALTHZ_PORT}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {k8s_cluster.pki_dir(n.layout)}/ca.crt
authorization:
  mode: Webhook
rotateCertificates: false
serverTLSBootstrap: false
podLogsDir: {n.root}/pod-logs
volumePluginDir: {n.root}/kubelet-plugins/volume/exec
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
failSwapOn: false
maxPods: 50
serializeImagePulls: false
registerNode: true
nodeStatusReportFrequency: 1m
nodeStatusUpdateFrequency: 10s
# The kubelet sets vm.overcommit_memory, kernel.panic and kernel.panic_on_oops; `down`
# puts them back.
protectKernelDefaults: false
evictionHard:
  memory.available: 200Mi
  nodefs.available: 5%
  imagefs.available: 5%
  nodefs.inodesFree: 3%
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
containerLogMaxSize: 10Mi
containerLogMaxFiles: 3
# The default -999 needs CAP_SYS_RESOURCE, which this machine does not grant.
oomScoreAdj: 0
# Graceful node shutdown needs systemd-logind.
shutdownGracePeriod: 0s
"""


def kube_proxy_config(n: NodeLayout) -> str:
    return f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
# iptables, not nftables: only the iptables proxier serves NodePorts on 127.0.0.1.
mode: iptables
clientConnection:
  kubeconfig: {n.pki}/kube-proxy.kubeconfig
hostnameOverride: {NODE}
bindAddress: {n.node_ip}
healthzBindAddress: 127.0.0.1:{PROXY_HEALTHZ_PORT}
metricsBindAddress: 127.0.0.1:{PROXY_METRICS_PORT}
clusterCIDR: {n.layout.settings.k8s_pod_cidr}
detectLocalMode: ClusterCIDR
# NodePorts answer on 127.0.0.1 (kube-proxy sets route_localnet=1) and the node IP only.
nodePortAddresses: ["127.0.0.0/8", "{n.node_ip}/32"]
iptables:
  localhostNodePorts: true
  masqueradeBit: 14
  syncPeriod: 30s
  minSyncPeriod: 1s
oomScoreAdj: 0
# 0: leave the host's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
"""


def crictl_yaml(n: NodeLayout) -> str:
    return f"runtime-endpoint: unix://{n.socket}\nimage-endpoint: unix://{n.socket}\ntimeout: 30\n"


def write_configs(n: NodeLayout) -> None:
    for path in (n.config / "cni", n.certs_d / n.layout.settings.registry, n.pki):
        path.mkdir(parents=True, exist_ok=True)
    files = {
        "containerd.toml": containerd_toml(n),
        "cni/10-liveline.conflist": cni_conflist(n),
        "kubelet.yaml": kubelet_config(n),
        "kube-proxy.yaml": kube_proxy_config(n),
        "crictl.yaml": crictl_yaml(n),
        f"certs.d/{n.layout.settings.registry}/hosts.toml": hosts_toml(n),
    }
    for name, text in files.items():
        # Unchanged files are left alone: kube-proxy exits when its config file is written.
        if not n.file(name).is_file() or n.file(name).read_text() != text:
            n.file(name).write_text(text)
