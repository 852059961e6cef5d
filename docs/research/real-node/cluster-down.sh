#!/usr/bin/env bash
# Stop and delete the node prototype's kwokctl cluster (processes, etcd data, pki).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
K8S_BIN="${K8S_BIN:-/work/scratch/k8s/bin}"
STATE_DIR="${STATE_DIR:-$HERE/state}"
NAME="${CLUSTER_NAME:-liveline-node}"
export KWOK_WORKDIR="$STATE_DIR/kwok"
export KUBECONFIG="$STATE_DIR/kubeconfig"
export KUBECACHEDIR="$STATE_DIR/kube-cache"
[ -d "$KWOK_WORKDIR/clusters/$NAME" ] || { echo "cluster $NAME not found"; exit 0; }
"$K8S_BIN/kwokctl" --name "$NAME" delete cluster --kubeconfig "$KUBECONFIG"
