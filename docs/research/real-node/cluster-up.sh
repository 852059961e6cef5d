#!/usr/bin/env bash
# Start the node prototype's OWN kwokctl cluster (binary runtime, 127.0.0.1 only, apiserver on :16443)
# with one kwok (fake) node; waits until it is Ready. Adapted from /work/scratch/k8s/cluster-up.sh.
#   ./cluster-up.sh            -> prints the kubeconfig path on success
# Env: K8S_BIN (default /work/scratch/k8s/bin), STATE_DIR (default ./state), CLUSTER_NAME (default liveline-node),
#      APISERVER_PORT (default 16443)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
K8S_BIN="${K8S_BIN:-/work/scratch/k8s/bin}"
STATE_DIR="${STATE_DIR:-$HERE/state}"
NAME="${CLUSTER_NAME:-liveline-node}"
APISERVER_PORT="${APISERVER_PORT:-16443}"
export KWOK_WORKDIR="$STATE_DIR/kwok"          # kwokctl's ~/.kwok replacement (clusters/, cache/)
export KUBECONFIG="$STATE_DIR/kubeconfig"      # never ~/.kube/config
export KUBECACHEDIR="$STATE_DIR/kube-cache"    # kubectl discovery cache, default ~/.kube/cache
PKI="$KWOK_WORKDIR/clusters/$NAME/pki"         # created by kwokctl (ca.crt/ca.key/admin.crt/admin.key)
mkdir -p "$KWOK_WORKDIR"
if ss -ltnH "sport = :$APISERVER_PORT" | grep -q .; then echo "port $APISERVER_PORT is in use" >&2; exit 1; fi
t0=$(date +%s.%N)

kube_version=$("$K8S_BIN/kube-apiserver" --version | awk '{print $2}')   # "Kubernetes v1.35.4"
cat > "$STATE_DIR/kwokctl.yaml" <<EOC
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1            # default is 0.0.0.0
  kubeApiserverPort: ${APISERVER_PORT}
  kubeVersion: ${kube_version}
  cacheDir: ${KWOK_WORKDIR}/cache
  kubeApiserverBinary: ${K8S_BIN}/kube-apiserver
  kubeControllerManagerBinary: ${K8S_BIN}/kube-controller-manager
  kubeSchedulerBinary: ${K8S_BIN}/kube-scheduler
  kubectlBinary: ${K8S_BIN}/kubectl
  etcdBinary: ${K8S_BIN}/etcd
  kwokControllerBinary: ${K8S_BIN}/kwok
  # not built: local paths so kwokctl fails instead of downloading if a command needs them
  etcdctlBinary: ${K8S_BIN}/etcdctl.not-built
  etcdutlBinary: ${K8S_BIN}/etcdutl.not-built
  kectlBinary: ${K8S_BIN}/kectl.not-built
componentsPatches:
- name: kube-apiserver
  extraArgs:
  - key: advertise-address          # default: eth0's address (kubernetes Service endpoint); keep it on loopback
    value: 127.0.0.1
  - key: endpoint-reconciler-type   # loopback endpoints are rejected ("may not be in the loopback range")
    value: none
  - key: service-cluster-ip-range   # explicit (apiserver default 10.0.0.0/24); routed locally by kube-proxy only
    value: 10.96.0.0/16
  - key: service-node-port-range    # NOT 30000-32767: kwokctl picks its own loopback ports from 32767 down, and a
    value: 30000-30999              # NodePort on 127.0.0.1 would shadow them (kube-proxy DNATs before the socket)
  # real kubelet: kubectl logs/exec/port-forward -> kubelet :10250 on the node's InternalIP with a client cert
  - key: kubelet-client-certificate
    value: ${PKI}/admin.crt
  - key: kubelet-client-key
    value: ${PKI}/admin.key
  - key: kubelet-preferred-address-types   # the kubelet reports Hostname first; use the InternalIP
    value: InternalIP
- name: kwok-controller
  extraArgs:
  - key: node-ip                    # kwokctl passes --node-ip= (empty); give nodes 127.0.0.1
    value: 127.0.0.1
  - key: manage-all-nodes           # kwokctl passes true; the real kubelet node must not be taken over
    value: "false"
  - key: manage-nodes-with-annotation-selector
    value: kwok.x-k8s.io/node=fake
  - key: cidr                       # fake pod IPs (kwok pods only); the real node's CNI uses 10.88.0.0/16
    value: 10.244.0.0/16
EOC

"$K8S_BIN/kwokctl" --name "$NAME" \
  -c "$STATE_DIR/kwokctl.yaml" -c "$HERE/cluster/stages.yaml" \
  create cluster --kubeconfig "$KUBECONFIG" --wait 120s
t1=$(date +%s.%N)
"$K8S_BIN/kubectl" apply -f "$HERE/cluster/node.yaml" >/dev/null
"$K8S_BIN/kubectl" wait node/kwok-node-0 --for=condition=Ready --timeout=60s >/dev/null
for _ in $(seq 1 100); do "$K8S_BIN/kubectl" -n default get sa default >/dev/null 2>&1 && break; sleep 0.2; done
t2=$(date +%s.%N)
printf 'cluster: control plane up in %.1fs, kwok node Ready + default SA in %.1fs (total %.1fs)\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t2 - $t0" | bc)" >&2
echo "$KUBECONFIG"
