#!/usr/bin/env bash
# Stop the real node and undo every host change node-up.sh made:
# pods (CRI stop/remove -> CNI DEL), kube-proxy, kubelet, containerd + shims, mounts under state/,
# the CNI bridge + veths, iptables/ip6tables chains (KUBE-*, CNI-*), pod cgroups, sysctls.
# Idempotent; does not touch the cluster (see cluster-down.sh) nor dockerd / its containerd.
#   KEEP_STATE=1 ./node-down.sh   keeps state/containerd (images) and state/kubelet for a faster next start
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; . "$HERE/node-env.sh"
T0=$(now)
mark() { [ "${TIMING:-0}" = 1 ] && echo "  [$(since "$T0")s] $*" >&2; return 0; }
pid_of() { local f="$STATE/pids/$1.pid"; [ -f "$f" ] && cat "$f"; }
alive() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
stop() {  # name [timeout]
  local p; p=$(pid_of "$1") || return 0
  if alive "$p"; then
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 1 $(( ${2:-15} * 10 ))); do alive "$p" || break; sleep 0.1; done
    alive "$p" && { echo "  $1 ($p) did not stop: SIGKILL"; kill -KILL "$p" 2>/dev/null; sleep 0.3; }
  fi
  rm -f "$STATE/pids/$1.pid"
}

# 1. kube-proxy and kubelet (pods keep running without the kubelet)
mark "step 1"
stop kube-proxy; stop kubelet
T1=$(now)

# 2. every pod sandbox through CRI: StopPodSandbox runs CNI DEL (veth, IP, portmap rules) and unmounts the netns
mark "step 2"
if [ -S "$CTR_SOCK" ] && ctr --address "$CTR_SOCK" version >/dev/null 2>&1; then
  pods=$("$NODE_BIN/crictl" pods -q 2>/dev/null)
  if [ -n "$pods" ]; then
    "$NODE_BIN/crictl" stopp $pods >/dev/null 2>&1
    "$NODE_BIN/crictl" rmp -f $pods >/dev/null 2>&1
  fi
fi

T2=$(now)
# 3. containerd, then any shim left over that belongs to this instance (matched by our socket path)
mark "step 3"
stop containerd 20
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTR_SOCK"); do
  echo "  leftover shim $p: SIGKILL"; kill -KILL "$p" 2>/dev/null; done
# anything else of this node (config or runtime dirs on its command line; NOT state/kwok = the cluster)
for p in $(pgrep -f "$STATE/(config|containerd|kubelet|pki)/"); do
  echo "  leftover process $p: $(tr '\0' ' ' < /proc/$p/cmdline | cut -c1-100)"; kill -KILL "$p" 2>/dev/null; done
T3=$(now)

# 4. mounts under state/ (overlay rootfs, shm, netns, kubelet tmpfs/projected volumes, kubelet's rshared bind)
mark "step 4"
for i in 1 2 3; do
  mounts=$(awk -v s="$STATE/" 'index($5, s) == 1 || $5 == substr(s, 1, length(s)-1) {print $5}' /proc/self/mountinfo | sort -r)
  [ -z "$mounts" ] && break
  for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done

# 5. network: veths on our bridge (normally gone with their netns), the bridge itself
mark "step 5"
for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link del "$v" 2>/dev/null; done
ip link del "$BRIDGE" 2>/dev/null      # also drops the SERVICE_CIDR route through it

# 6. iptables: our egress guard; kube-proxy's own cleanup, then any KUBE-*/CNI-* chain left (we are the only user of these names here)
mark "step 6"
while iptables -D FORWARD -j LVNODE-EGRESS 2>/dev/null; do :; done
iptables -F LVNODE-EGRESS 2>/dev/null; iptables -X LVNODE-EGRESS 2>/dev/null
[ -x "$NODE_BIN/kube-proxy" ] && "$NODE_BIN/kube-proxy" --cleanup >/dev/null 2>&1
for ipt in iptables ip6tables; do
  for t in filter nat mangle raw; do
    "$ipt-save" -t "$t" 2>/dev/null | grep -E '^-A .*-j (KUBE|CNI)-' | grep -vE '^-A (KUBE|CNI)-' | sed 's/^-A/-D/' |
      while read -r rule; do eval "$ipt -t $t $rule" 2>/dev/null; done
    for c in $("$ipt-save" -t "$t" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\)-[^ ]*\) .*/\1/p'); do "$ipt" -t "$t" -F "$c" 2>/dev/null; done
    for c in $("$ipt-save" -t "$t" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\)-[^ ]*\) .*/\1/p'); do "$ipt" -t "$t" -X "$c" 2>/dev/null; done
  done
done

# 7. pod cgroups (deepest first) in every hierarchy
mark "step 7"
for c in /sys/fs/cgroup/*/; do
  d="${c%/}/$CGROUP_ROOT"; [ -d "$d" ] || continue
  find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  [ -d "$d" ] && echo "  cgroup $d not removed (tasks left?)"
done

# 8. sysctls back to what they were before node-up.sh
mark "step 8"
if [ -f "$STATE/sysctl.saved" ]; then
  while read -r k v; do
    [ "$(cat "/proc/sys/$k" 2>/dev/null)" = "$v" ] || { echo "  sysctl $k: $(cat /proc/sys/$k) -> $v"; echo "$v" > "/proc/sys/$k"; }
  done < "$STATE/sysctl.saved"
  rm -f "$STATE/sysctl.saved"
fi

# 9. host paths created by this node (see node-up.sh); if they pre-existed, only our entries in them
mark "step 9"
if [ -f "$STATE/host-paths.created" ]; then
  while read -r p; do [ -n "$p" ] && rm -rf "$p"; done < "$STATE/host-paths.created"; rm -f "$STATE/host-paths.created"
fi
rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/cni/results/liveline-node-* 2>/dev/null

# 10. state (runtime dirs); KEEP_STATE=1 keeps the image store and kubelet dir
mark "step 10"
rm -rf "$STATE/cni" "$STATE/pod-logs" "$STATE/containerd/run" "$STATE/kubelet-plugins"
[ "${KEEP_STATE:-0}" = 1 ] || rm -rf "$STATE/containerd" "$STATE/kubelet"
echo "node down in $(since "$T0")s (kube-proxy+kubelet $(echo "$T1 - $T0" | bc)s, pods via CRI $(echo "$T2 - $T1" | bc)s, containerd $(echo "$T3 - $T2" | bc)s, host cleanup $(since "$T3")s)"
