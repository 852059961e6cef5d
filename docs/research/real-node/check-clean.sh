#!/usr/bin/env bash
# Report anything of the node prototype still present on the host. Exit 1 if something is left.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; . "$HERE/node-env.sh"
left=0
say() { left=1; echo "LEFT: $*"; }
procs=$(ps -eo pid=,stat=,args= | grep -E "$HERE/|containerd-shim-runc-v2 .*$CTR_SOCK" | grep -v -E 'grep|check-clean' | awk '$2 !~ /Z/')
[ -n "$procs" ] && say "processes:"$'\n'"$procs"
m=$(grep -F "$HERE/" /proc/self/mountinfo); [ -n "$m" ] && say "mounts:"$'\n'"$m"
ip link show "$BRIDGE" >/dev/null 2>&1 && say "bridge $BRIDGE"
v=$(ip -o link show type veth 2>/dev/null | grep -v 'master docker0'); [ -n "$v" ] && say "veth interfaces (not docker0's):"$'\n'"$v"
ip route | grep -qE "^(${POD_CIDR%/*}|${SERVICE_CIDR%/*})" && say "routes: $(ip route | grep -E "^(${POD_CIDR%/*}|${SERVICE_CIDR%/*})")"
for ipt in iptables ip6tables; do
  r=$("$ipt-save" 2>/dev/null | grep -E 'KUBE-|CNI-|LVNODE-'); [ -n "$r" ] && say "$ipt rules/chains: $(echo "$r" | wc -l)"
done
for c in /sys/fs/cgroup/*/"$CGROUP_ROOT" /sys/fs/cgroup/*/kubepods; do [ -d "$c" ] && say "cgroup $c"; done
# (/opt/containerd = dockerd's containerd; /usr/libexec/kubernetes existed before this prototype: not checked)
for f in /var/lib/kubelet /var/log/pods /var/lib/cni /etc/cni /opt/cni /run/netns /etc/kubernetes /var/lib/containerd /run/containerd/runc; do
  [ -e "$f" ] && say "path $f"; done
for p in 10250 10248 10249 10256 16443; do ss -ltnH "sport = :$p" | grep -q . && say "port $p listening"; done
[ -f "$STATE/sysctl.saved" ] && say "sysctls not restored ($STATE/sysctl.saved)"
[ "$(cat /proc/sys/net/ipv4/conf/all/route_localnet)" = 0 ] || say "route_localnet=1"
[ "$left" = 0 ] && echo "clean: no process, mount, interface, route, iptables rule, cgroup or port of the node left"
exit $left
