#!/usr/bin/env bash
# Cluster (kwokctl, apiserver 127.0.0.1:16443, 1 kwok node) + the real node (containerd, kubelet, kube-proxy).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
t0=$(date +%s.%N)
"$HERE/cluster-up.sh" > "$HERE/logs/cluster-up.last.log" 2>&1 || { cat "$HERE/logs/cluster-up.last.log"; exit 1; }
grep "^cluster:" "$HERE/logs/cluster-up.last.log"
"$HERE/node-up.sh"
printf 'all up in %.1fs; export KUBECONFIG=%s KUBECACHEDIR=%s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$HERE/state/kubeconfig" "$HERE/state/kube-cache"
