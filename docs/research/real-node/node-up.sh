#!/usr/bin/env bash
# Start a REAL node (containerd + kubelet + kube-proxy, v1.35.4) and join it to the cluster of cluster-up.sh.
# Everything lives under ./state; host-wide changes (bridge, cgroups, sysctls, iptables) are undone by node-down.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; . "$HERE/node-env.sh"
mkdir -p "$STATE"/{config/cni,config/certs.d,pki,logs,pids,containerd,cni/networks,kubelet,pod-logs,kubelet-plugins}
[ -f "$PKI/ca.key" ] || { echo "no cluster CA at $PKI: run ./cluster-up.sh first" >&2; exit 1; }
for b in "$K8S_BIN/kubelet" "$NODE_BIN/kube-proxy" /usr/bin/containerd /usr/sbin/runc /usr/lib/cni/bridge /usr/sbin/iptables; do
  [ -x "$b" ] || { echo "missing $b (run ./install.sh)" >&2; exit 1; }; done
for p in 10250 10248 10249 10256; do
  if ss -ltnH "sport = :$p" | grep -q .; then echo "port $p already in use" >&2; exit 1; fi; done
T0=$(now)

# --- 0. save host sysctls once (restored by node-down.sh)
if [ ! -f "$STATE/sysctl.saved" ]; then
  for s in "${SYSCTLS[@]}"; do [ -e "/proc/sys/$s" ] && echo "$s $(cat /proc/sys/$s)"; done > "$STATE/sysctl.saved"
fi

# host paths the components create whatever their config says (kubelet: device-plugins socket is a constant;
# containerd 1.6 CRI: libcni result cache): remember which ones did not exist, node-down.sh removes exactly those
if [ ! -f "$STATE/host-paths.created" ]; then
  for p in /var/lib/kubelet /var/lib/cni; do [ -e "$p" ] || echo "$p"; done > "$STATE/host-paths.created"
fi

# --- 1. CNI bridge, created up front so the kubelet can use its address as node IP (a loopback node IP is refused)
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
fi
# Service CIDR -> the bridge, so a ClusterIP packet that kube-proxy did NOT DNAT (not synced yet, no endpoints)
# dies on this host instead of following the default route out of eth0. DNATed packets are re-routed to the pod.
ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
# egress guard: pods may talk to pods, Services (DNATed to pods) and this host, nothing beyond it
if ! iptables -C FORWARD -j LVNODE-EGRESS 2>/dev/null; then
  iptables -N LVNODE-EGRESS 2>/dev/null || iptables -F LVNODE-EGRESS
  iptables -A LVNODE-EGRESS -s "$POD_CIDR" ! -d "$POD_CIDR" -m comment --comment "liveline node: pods stay on this host" -j DROP
  iptables -I FORWARD 1 -j LVNODE-EGRESS
fi

# --- 2. cgroup root for pods (kubelet cgroupRoot must exist in every v1 hierarchy)
for c in /sys/fs/cgroup/*/; do
  c=${c%/}; [ "$(basename "$c")" = unified ] && continue
  mkdir -p "$c/$CGROUP_ROOT"
done
cg=/sys/fs/cgroup/cpuset/$CGROUP_ROOT
[ -s "$cg/cpuset.cpus" ] && [ -n "$(cat "$cg/cpuset.cpus")" ] || cat /sys/fs/cgroup/cpuset/cpuset.cpus > "$cg/cpuset.cpus"
[ -n "$(cat "$cg/cpuset.mems")" ] || cat /sys/fs/cgroup/cpuset/cpuset.mems > "$cg/cpuset.mems"

# --- 3. render configs
render() { sed -e "s#@STATE@#$STATE#g" -e "s#@PAUSE_IMAGE@#$PAUSE_IMAGE#g" -e "s#@BRIDGE@#$BRIDGE#g" \
               -e "s#@POD_CIDR@#$POD_CIDR#g" -e "s#@NODE_IP@#$NODE_IP#g" -e "s#@NODE_NAME@#$NODE_NAME#g" \
               -e "s#@PKI@#$PKI#g" "$1" > "$2"; }
render "$HERE/config/containerd.toml.in"        "$STATE/config/containerd.toml"
render "$HERE/config/10-liveline.conflist.in"   "$STATE/config/cni/10-liveline.conflist"
render "$HERE/config/kubelet-config.yaml.in"    "$STATE/config/kubelet-config.yaml"
render "$HERE/config/kube-proxy-config.yaml.in" "$STATE/config/kube-proxy-config.yaml"
rm -rf "$STATE/config/certs.d"; cp -r "$HERE/config/certs.d" "$STATE/config/certs.d"

# --- 4. client certs signed by the cluster CA: kubelet (Node authorizer identity) and kube-proxy (system:node-proxier)
mkcert() {  # name CN O
  local k="$STATE/pki/$1"
  [ -f "$k.crt" ] && openssl verify -CAfile "$PKI/ca.crt" "$k.crt" >/dev/null 2>&1 && return 0
  openssl req -new -newkey rsa:2048 -nodes -keyout "$k.key" -subj "/O=$3/CN=$2" -out "$k.csr" 2>/dev/null
  printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$k.ext"
  openssl x509 -req -in "$k.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 365 \
    -extfile "$k.ext" -out "$k.crt" 2>/dev/null
  rm -f "$k.csr" "$k.ext"
}
mkkubeconfig() {  # name
  local k="$STATE/pki/$1"
  cat > "$k.kubeconfig" <<EOK
apiVersion: v1
kind: Config
clusters:
- name: $CLUSTER_NAME
  cluster: {server: "$APISERVER", certificate-authority: "$PKI/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$k.crt", client-key: "$k.key"}
contexts:
- name: $1
  context: {cluster: $CLUSTER_NAME, user: $1}
current-context: $1
EOK
}
mkcert kubelet "system:node:$NODE_NAME" system:nodes;  mkkubeconfig kubelet
mkcert kube-proxy system:kube-proxy system:node-proxier; mkkubeconfig kube-proxy
T_PREP=$(since "$T0")

start() {  # name logfile cmd...   (own session, survives this script)
  local n=$1; shift
  setsid "$@" > "$STATE/logs/$n.log" 2>&1 < /dev/null &
  echo $! > "$STATE/pids/$n.pid"
}
waitfor() {  # seconds description cmd...
  local t=$1 d=$2; shift 2
  for _ in $(seq 1 $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timeout waiting for $d" >&2; return 1
}

# --- 5. containerd (separate instance: own root/state/socket)
T=$(now)
start containerd /usr/bin/containerd --config "$STATE/config/containerd.toml"
waitfor 30 containerd ctr --address "$CTR_SOCK" version
# containerd boots even when the CRI plugin fails to load: check it
ctr --address "$CTR_SOCK" plugins ls | grep -E 'io.containerd.grpc.v1 +cri +linux/amd64 +ok' >/dev/null ||
  { echo "containerd CRI plugin not loaded: see $STATE/logs/containerd.log" >&2; exit 1; }
T_CTR=$(since "$T")
# pause image: pull through the registry config (plain HTTP) so the first pod does not wait for it
T=$(now)
ctr --address "$CTR_SOCK" -n k8s.io images pull --hosts-dir "$STATE/config/certs.d" "$PAUSE_IMAGE" >/dev/null
T_PAUSE=$(since "$T")

# --- 6. kubelet
T=$(now)
start kubelet "$K8S_BIN/kubelet" --config="$STATE/config/kubelet-config.yaml" \
  --kubeconfig="$STATE/pki/kubelet.kubeconfig" --root-dir="$STATE/kubelet" --cert-dir="$STATE/kubelet/pki" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --node-labels=liveline.dev/real-node=true --v=1
waitfor 60 "kubelet healthz" curl -sf http://127.0.0.1:10248/healthz
T_KUBELET_HEALTHY=$(since "$T")
# Ready posted by THIS kubelet (a Node object left from an earlier run can still say Ready)
node_ready_since() {
  local out; out=$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null) || return 1
  [ "${out%% *}" = True ] && [ "$(date -d "${out#* }" +%s)" -ge "$1" ]
}
waitfor 120 "node Ready" node_ready_since "${T%.*}"
T_KUBELET_READY=$(since "$T")

# --- 7. kube-proxy (iptables mode)
T=$(now)
start kube-proxy "$NODE_BIN/kube-proxy" --config="$STATE/config/kube-proxy-config.yaml" --v=1
waitfor 60 "kube-proxy healthz" curl -sf http://127.0.0.1:10256/healthz
T_PROXY=$(since "$T")

echo "node $NODE_NAME up in $(since "$T0")s: prep ${T_PREP}s, containerd ${T_CTR}s, pause pull ${T_PAUSE}s," \
     "kubelet healthz ${T_KUBELET_HEALTHY}s / node Ready ${T_KUBELET_READY}s, kube-proxy ${T_PROXY}s" | tee "$STATE/logs/node-up.timing"
