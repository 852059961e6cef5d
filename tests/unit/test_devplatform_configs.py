"""The local platform's config files: built as documents, written by serializers.

Each test renders a file as `up` writes it and parses it back with an independent parser
(tomllib, json, yaml), then checks the fields the old f-string templates wrote: same
values, same types (a port "0" stays a string in TOML, a duration stays a string).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from devplatform import k8s_cluster, k8s_node_config, k8s_node_pki, serialize
from devplatform.k8s_node_config import NodeLayout
from devplatform.layout import Layout
from liveline.settings import Settings

PAUSE_TAG = "3.10.1"


@pytest.fixture
def node(tmp_path, monkeypatch) -> NodeLayout:
    # pause_tag reads the Kubernetes module's Makefile (`go list`): not needed here.
    monkeypatch.setattr(k8s_node_config, "pause_tag", lambda layout: PAUSE_TAG)
    return NodeLayout(Layout(Settings(state_dir=tmp_path / "state")))


def rendered(n: NodeLayout, name: str) -> str:
    return serialize.render(Path(name), k8s_node_config.configs(n)[name])


def test_containerd_toml(node):
    c, doc = node.containerd, tomllib.loads(rendered(node, "containerd.toml"))
    assert (doc["version"], doc["root"], doc["state"]) == (2, f"{c}/root", f"{c}/run")
    assert doc["grpc"] == {"address": str(node.socket)}
    assert doc["ttrpc"] == {"address": ""} and doc["debug"] == {"address": "", "level": "info"}
    assert "io.containerd.snapshotter.v1.zfs" in doc["disabled_plugins"]
    assert "io.containerd.runtime.v1.linux" not in doc["disabled_plugins"]
    assert doc["plugins"]["io.containerd.internal.v1.opt"] == {"path": f"{c}/opt"}
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == f"127.0.0.1:5000/liveline/pause:{PAUSE_TAG}"
    assert cri["stream_server_port"] == "0"  # a string, as before
    assert (cri["restrict_oom_score_adj"], cri["enable_unprivileged_ports"]) == (True, False)
    assert cri["max_container_log_line_size"] == 16384
    assert cri["cni"] == {
        "bin_dir": "/usr/lib/cni",
        "conf_dir": f"{node.config}/cni",
        "max_conf_num": 1,
    }
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"] == {
        "BinaryName": "/usr/sbin/runc",
        "Root": f"{c}/runc",
        "SystemdCgroup": False,
    }
    assert cri["registry"] == {"config_path": str(node.certs_d)}


def test_hosts_toml(node):
    doc = tomllib.loads(rendered(node, "certs.d/127.0.0.1:5000/hosts.toml"))
    assert doc == {
        "server": "http://127.0.0.1:5000",
        "host": {"http://127.0.0.1:5000": {"capabilities": ["pull", "resolve"]}},
    }


def test_cni_conflist(node):
    doc = json.loads(rendered(node, "cni/10-liveline.conflist"))
    ipam = {
        "type": "host-local",
        "dataDir": f"{node.root}/cni/networks",
        "ranges": [[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
    }
    assert doc == {
        "cniVersion": "1.0.0",
        "name": "liveline-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "lvcni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": ipam,
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def test_kubelet_yaml(node):
    doc = yaml.safe_load(rendered(node, "kubelet.yaml"))
    endpoint = f"unix://{node.socket}"
    assert doc["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert doc["kind"] == "KubeletConfiguration"
    expected = {
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": "/liveline-node",
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        "runtimeRequestTimeout": "2m",
        "address": "10.88.0.1",
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "rotateCertificates": False,
        "podLogsDir": f"{node.root}/pod-logs",
        "volumePluginDir": f"{node.root}/kubelet-plugins/volume/exec",
        "maxPods": 50,
        "nodeStatusReportFrequency": "1m",
        "nodeStatusUpdateFrequency": "10s",
        "protectKernelDefaults": False,
        "imageGCHighThresholdPercent": 95,
        "containerLogMaxSize": "10Mi",
        "oomScoreAdj": 0,
        "shutdownGracePeriod": "0s",
    }
    assert {k: doc[k] for k in expected} == expected
    ca = f"{k8s_cluster.pki_dir(node.layout)}/ca.crt"
    assert doc["authentication"] == {
        "anonymous": {"enabled": False},
        "webhook": {"enabled": True},
        "x509": {"clientCAFile": ca},
    }
    assert doc["authorization"] == {"mode": "Webhook"}
    assert doc["evictionHard"] == {
        "memory.available": "200Mi",
        "nodefs.available": "5%",
        "imagefs.available": "5%",
        "nodefs.inodesFree": "3%",
    }
    assert len(doc) == 36  # every key of the old template, and no other


def test_kube_proxy_yaml(node):
    doc = yaml.safe_load(rendered(node, "kube-proxy.yaml"))
    assert (doc["kind"], doc["mode"], doc["hostnameOverride"]) == (
        "KubeProxyConfiguration",
        "iptables",
        "liveline-node",
    )
    assert doc["clientConnection"] == {"kubeconfig": f"{node.pki}/kube-proxy.kubeconfig"}
    assert doc["bindAddress"] == "10.88.0.1"
    assert (doc["healthzBindAddress"], doc["metricsBindAddress"]) == (
        "127.0.0.1:10256",
        "127.0.0.1:10249",
    )
    assert (doc["clusterCIDR"], doc["detectLocalMode"]) == ("10.88.0.0/16", "ClusterCIDR")
    assert doc["nodePortAddresses"] == ["127.0.0.0/8", "10.88.0.1/32"]
    assert doc["iptables"] == {
        "localhostNodePorts": True,
        "masqueradeBit": 14,
        "syncPeriod": "30s",
        "minSyncPeriod": "1s",
    }
    assert doc["conntrack"] == {
        "maxPerCore": 0,
        "min": 0,
        "tcpEstablishedTimeout": "0s",
        "tcpCloseWaitTimeout": "0s",
    }
    assert doc["oomScoreAdj"] == 0


def test_crictl_yaml(node):
    endpoint = f"unix://{node.socket}"
    assert yaml.safe_load(rendered(node, "crictl.yaml")) == {
        "runtime-endpoint": endpoint,
        "image-endpoint": endpoint,
        "timeout": 30,
    }


@pytest.mark.parametrize("mode", ["real", "simulated"])
def test_kwokctl_yaml(tmp_path, mode):
    layout = Layout(Settings(state_dir=tmp_path / "state", cluster_node=mode))
    doc = yaml.safe_load(serialize.yaml_text(k8s_cluster.kwokctl_config(layout, "v1.35.4")))
    b, options = layout.state / "k8s" / "bin", doc["options"]
    assert (doc["apiVersion"], doc["kind"]) == (
        "config.kwok.x-k8s.io/v1alpha1",
        "KwokctlConfiguration",
    )
    assert options["kubeApiserverPort"] == 6443 and options["kubeVersion"] == "v1.35.4"
    assert options["kubeApiserverBinary"] == f"{b}/kube-apiserver"
    assert options["kwokControllerBinary"] == f"{b}/kwok"
    assert options["etcdctlBinary"] == f"{b}/etcdctl.not-built"
    assert options["cacheDir"] == f"{layout.state}/k8s/kwok/cache"
    apiserver, kwok = (p["extraArgs"] for p in doc["componentsPatches"])
    assert {"key": "manage-all-nodes", "value": "false"} in kwok  # the string "false"
    assert apiserver[:2] == [
        {"key": "advertise-address", "value": "127.0.0.1"},
        {"key": "endpoint-reconciler-type", "value": "none"},
    ]
    if mode == "real":
        assert [options[f"{c}Port"] for c in ("etcd", "etcdPeer", "kwokController")] == [
            6444,
            6445,
            6448,
        ]
        pki = k8s_cluster.pki_dir(layout)
        assert {"key": "kubelet-client-key", "value": f"{pki}/admin.key"} in apiserver
        assert {"key": "service-node-port-range", "value": "30000-30999"} in apiserver
        assert len(apiserver) == 7 and len(options) == 19
    else:
        assert len(apiserver) == 2 and len(options) == 14


def test_kubeconfig(node):
    crt, key = node.pki / "kubelet.crt", node.pki / "kubelet.key"
    doc = yaml.safe_load(serialize.yaml_text(k8s_node_pki.kubeconfig(node, "kubelet", crt, key)))
    ca = f"{k8s_cluster.pki_dir(node.layout)}/ca.crt"
    assert doc == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "liveline",
                "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority": ca},
            }
        ],
        "users": [
            {"name": "kubelet", "user": {"client-certificate": str(crt), "client-key": str(key)}}
        ],
        "contexts": [{"name": "kubelet", "context": {"cluster": "liveline", "user": "kubelet"}}],
        "current-context": "kubelet",
    }


def test_values_a_template_would_break_survive(tmp_path, monkeypatch):
    """A state folder with quotes, '#', ': ' and spaces: a serializer escapes them."""
    monkeypatch.setattr(k8s_node_config, "pause_tag", lambda layout: PAUSE_TAG)
    n = NodeLayout(Layout(Settings(state_dir=tmp_path / 'odd "dir" #1: x')))
    k8s_node_config.write_configs(n)
    for name, doc in k8s_node_config.configs(n).items():
        assert serialize.read(n.file(name)) == doc, name
    root = tomllib.loads(n.file("containerd.toml").read_text())["root"]
    assert root == f'{tmp_path}/odd "dir" #1: x/k8s/node/containerd/root'


def test_write_configs_leaves_equal_files_alone(node):
    """kube-proxy exits when its config file is written: a file that already holds the
    document (an old template's output, comments and all) is not touched."""
    k8s_node_config.write_configs(node)
    proxy = node.file("kube-proxy.yaml")
    doc = yaml.safe_load(proxy.read_text())
    old_style = "# written by the old template\n" + json.dumps(doc)  # JSON is YAML too
    proxy.write_text(old_style)
    k8s_node_config.write_configs(node)
    assert proxy.read_text() == old_style
    proxy.write_text(old_style.replace("iptables", "nftables"))
    k8s_node_config.write_configs(node)
    assert yaml.safe_load(proxy.read_text()) == doc
    node.file("containerd.toml").write_text("not = [toml")
    k8s_node_config.write_configs(node)
    assert serialize.read(node.file("containerd.toml")) == k8s_node_config.containerd_config(node)


def test_serialize_read_and_unknown_format(tmp_path):
    assert serialize.read(tmp_path / "missing.yaml") is None
    (tmp_path / "bad.json").write_text("{")
    assert serialize.read(tmp_path / "bad.json") is None
    (tmp_path / "bad.yaml").write_text("a: [")
    assert serialize.read(tmp_path / "bad.yaml") is None
    with pytest.raises(ValueError, match="no serializer"):
        serialize.render(tmp_path / "x.ini", {})
