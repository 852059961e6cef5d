# Shared settings for node-up.sh / node-down.sh / verify.sh (sourced).
HERE="${HERE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
K8S_BIN="${K8S_BIN:-/work/scratch/k8s/bin}"            # kubelet, kubectl v1.35.4 (read only)
NODE_BIN="${NODE_BIN:-$HERE/bin}"                       # kube-proxy, crictl (built here)
STATE="${STATE:-$HERE/state}"                           # everything the node writes
CLUSTER_NAME="${CLUSTER_NAME:-liveline-node}"
APISERVER="${APISERVER:-https://127.0.0.1:16443}"
PKI="${PKI:-$STATE/kwok/clusters/$CLUSTER_NAME/pki}"   # kwokctl's CA (ca.crt/ca.key) + admin cert
NODE_NAME="${NODE_NAME:-liveline-node-1}"
BRIDGE="${BRIDGE:-lvcni0}"                              # CNI bridge, pre-created; its address is the node IP
NODE_IP="${NODE_IP:-10.88.0.1}"
POD_CIDR="${POD_CIDR:-10.88.0.0/16}"
SERVICE_CIDR="${SERVICE_CIDR:-10.96.0.0/16}"            # = kube-apiserver --service-cluster-ip-range (cluster-up.sh)
PAUSE_IMAGE="${PAUSE_IMAGE:-127.0.0.1:5000/pause:3.10.1}"
CGROUP_ROOT="${CGROUP_ROOT:-liveline-node}"             # /sys/fs/cgroup/<controller>/liveline-node
CTR_SOCK="$STATE/containerd/containerd.sock"
export KUBECONFIG="${KUBECONFIG:-$STATE/kubeconfig}"    # admin kubeconfig written by cluster-up.sh
export KUBECACHEDIR="${KUBECACHEDIR:-$STATE/kube-cache}"
export CRI_CONFIG_FILE="$HERE/config/crictl.yaml"      # crictl: endpoints, no /etc/crictl.yaml lookup
# host sysctls that kubelet / kube-proxy change: saved by node-up.sh, restored by node-down.sh
SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys
         kernel/keys/root_maxbytes net/ipv4/conf/all/route_localnet net/bridge/bridge-nf-call-iptables
         net/bridge/bridge-nf-call-ip6tables net/ipv4/ip_forward)
kubectl() { "$K8S_BIN/kubectl" "$@"; }
now() { date +%s.%N; }
since() { printf '%.2f' "$(echo "$(now) - $1" | bc)"; }
