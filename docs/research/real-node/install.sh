#!/usr/bin/env bash
# One-time setup for the real-node prototype (idempotent):
#   Debian packages: containerd 1.6.20, runc 1.1.5, containernetworking-plugins 1.1.1, iptables 1.8.9 (nft backend)
#   Go builds (nice -n 19, warm caches of /work/scratch/k8s): kube-proxy v1.35.4, crictl v1.34.0
#   images: pause 3.10.1 from pause.c, test images web/crash -> 127.0.0.1:5000 (needs dockerd + the local registry)
# Needs /work/scratch/k8s/bin (kubelet, kubectl, control plane, kwokctl v1.35.4 / v0.8.0).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
K8S_BIN="${K8S_BIN:-/work/scratch/k8s/bin}"
for b in kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler etcd kwok kwokctl; do
  [ -x "$K8S_BIN/$b" ] || { echo "missing $K8S_BIN/$b: build it with /work/scratch/k8s/build.sh" >&2; exit 1; }; done
pkgs=(containerd runc containernetworking-plugins iptables openssl curl bc)
missing=(); for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
# NB: never `systemctl`/service-start the packaged containerd: this node runs its own instance (node-up.sh)
[ -x "$HERE/bin/kube-proxy" ] || "$HERE/build-kube-proxy.sh"
[ -x "$HERE/bin/crictl" ] || "$HERE/build-crictl.sh"
curl -sf http://127.0.0.1:5000/v2/pause/manifests/3.10.1 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null || "$HERE/build-pause.sh"
curl -sf http://127.0.0.1:5000/v2/liveline-node/web/manifests/1 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null &&
curl -sf http://127.0.0.1:5000/v2/liveline-node/crash/manifests/1 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null || "$HERE/build-test-images.sh"
dpkg-query -W -f '${Package} ${Version}\n' "${pkgs[@]}"
"$HERE/bin/kube-proxy" --version; "$HERE/bin/crictl" --version; "$K8S_BIN/kubelet" --version
