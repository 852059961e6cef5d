#!/usr/bin/env bash
# End-to-end checks on the real node (needs ./up.sh first). Prints "N passed, N failed"; exits non-zero on failure.
#   web:   Deployment (2 replicas, 127.0.0.1:5000/liveline-node/web:1, readinessProbe) + NodePort Service 30080
#   crash: Deployment whose process exits -> never Ready, rollout fails with ProgressDeadlineExceeded
# KEEP=1 leaves the workloads running.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; . "$HERE/node-env.sh"
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi; }
body() { curl -s -m 3 "$1" 2>/dev/null; }
wait_body() { for _ in $(seq 1 100); do [ "$(body "$1")" = "$EXPECT" ] && return 0; sleep 0.1; done; return 1; }  # <= ~10 s
EXPECT="hello from liveline real node"

check "node $NODE_NAME Ready" bash -c "[ \"\$('$K8S_BIN/kubectl' get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
check "kwok node still kwok-managed (not taken over)" bash -c "'$K8S_BIN/kubectl' get node kwok-node-0 -o jsonpath='{.status.nodeInfo.kubeletVersion}' | grep -q kwok"
cached=no; "$NODE_BIN/crictl" inspecti 127.0.0.1:5000/liveline-node/web:1 >/dev/null 2>&1 && cached=yes

# --- web: apply -> all replicas Ready
t=$(now)
kubectl apply -f "$HERE/manifests/web.yaml" >/dev/null
if kubectl rollout status deploy/web --timeout=180s >/dev/null; then
  T_WEB=$(since "$t"); ok "web rolled out: apply -> 2/2 Ready in ${T_WEB}s (image already on node: $cached)"
else bad "web rollout"; kubectl get pods -o wide; fi
kubectl get pods -l app=web -o wide
n=$(kubectl get pods -l app=web --field-selector spec.nodeName=$NODE_NAME,status.phase=Running -o name | wc -l)
[ "$n" = 2 ] && ok "2 web pods Running on $NODE_NAME" || bad "web pods on $NODE_NAME: $n"
IPS=($(kubectl get pods -l app=web -o jsonpath='{.items[*].status.podIP}'))
POD0=$(kubectl get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
CIP=$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
[ "$(body "http://${IPS[0]}:8080/")" = "$EXPECT" ] && ok "host -> pod IP ${IPS[0]}:8080" || bad "host -> pod IP"
# only talk to the ClusterIP once kube-proxy has programmed it (else it is just an unknown 10.96.x address)
for _ in $(seq 1 50); do iptables -t nat -S KUBE-SERVICES 2>/dev/null | grep -q -- "-d $CIP/32" && break; sleep 0.1; done
if iptables -t nat -S KUBE-SERVICES 2>/dev/null | grep -q -- "-d $CIP/32"; then
  [ "$(body "http://$CIP/")" = "$EXPECT" ] && ok "host -> ClusterIP $CIP:80" || bad "host -> ClusterIP"
else bad "kube-proxy has no rule for $CIP"; fi
wait_body http://127.0.0.1:30080/ && ok "host -> NodePort 127.0.0.1:30080 (answers $(since "$t")s after apply)" || bad "host -> 127.0.0.1:30080"
[ "$(body "http://$NODE_IP:30080/")" = "$EXPECT" ] && ok "host -> NodePort $NODE_IP:30080" || bad "host -> $NODE_IP:30080"
# spread: both endpoints answer through the Service (http.server logs each GET)
for _ in $(seq 1 20); do body http://127.0.0.1:30080/ >/dev/null; done
hits=$(for p in $(kubectl get pods -l app=web -o name); do kubectl logs "$p" | grep -c 'GET / '; done | tr '\n' ' ')
echo "  GET lines per web pod (20 via NodePort + readiness probes every 1s): $hits"
out=$(kubectl exec "$POD0" -- python3 -c "
import urllib.request as u
for url in ['http://${IPS[1]}:8080/', 'http://$CIP/', 'http://$NODE_IP:30080/']:
    print(u.urlopen(url, timeout=3).read().decode().strip())" 2>&1)
[ "$(echo "$out" | grep -c "$EXPECT")" = 3 ] && ok "kubectl exec; pod -> other pod, pod -> ClusterIP, pod -> host NodePort" || bad "pod-side checks: $out"
kubectl logs "$POD0" --tail=1 | grep -q 'GET /' && ok "kubectl logs" || bad "kubectl logs"
kubectl port-forward svc/web 18080:80 --address 127.0.0.1 >/dev/null 2>&1 & pf=$!
for _ in $(seq 1 50); do body http://127.0.0.1:18080/ >/dev/null && break; sleep 0.1; done
[ "$(body http://127.0.0.1:18080/)" = "$EXPECT" ] && ok "kubectl port-forward svc/web 127.0.0.1:18080" || bad "port-forward"
kill $pf 2>/dev/null; wait $pf 2>/dev/null

# --- crash: never Ready
t=$(now)
kubectl apply -f "$HERE/manifests/crash.yaml" >/dev/null
if kubectl rollout status deploy/crash --timeout=60s >/dev/null 2>&1; then bad "crash deployment became available"
else ok "crash rollout failed after $(since "$t")s"; fi
reason=$(kubectl get deploy crash -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')
[ "$reason" = ProgressDeadlineExceeded ] && ok "crash: Progressing=False $reason" || bad "crash Progressing reason: $reason"
st=$(kubectl get pods -l app=crash -o jsonpath='{.items[0].status.conditions[?(@.type=="Ready")].status} {.items[0].status.containerStatuses[0].restartCount} {.items[0].status.containerStatuses[0].lastState.terminated.exitCode}')
read -r ready restarts code <<< "$st"
[ "$ready" = False ] && [ "${restarts:-0}" -ge 1 ] && [ "$code" = 1 ] && ok "crash pod: Ready=$ready restarts=$restarts exitCode=$code" || bad "crash pod state: $st"
kubectl get pods -l app=crash

# --- memory (PSS, MB) of the node's processes and of the pods' cgroups
pss() { awk '/^Pss:/ {s+=$2} END {printf "%.0f", s/1024}' /proc/$1/smaps_rollup 2>/dev/null; }
echo "memory (PSS MB):"
for n in containerd kubelet kube-proxy; do p=$(cat "$STATE/pids/$n.pid"); echo "  $n $(pss "$p")"; done
shims=0; for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTR_SOCK"); do shims=$((shims + $(pss $p))); done
echo "  shims ($(pgrep -fc "containerd-shim-runc-v2 .*-address $CTR_SOCK")) $shims"
echo "  pods cgroup (memory.usage_in_bytes incl. page cache) $(( $(cat /sys/fs/cgroup/memory/$CGROUP_ROOT/kubepods/memory.usage_in_bytes) / 1048576 ))"
cl=0; for p in $(pgrep -f "$STATE/kwok/clusters/$CLUSTER_NAME/bin/"); do cl=$((cl + $(pss $p))); done
echo "  cluster (kwokctl: etcd, apiserver, controller-manager, scheduler, kwok) $cl"
echo "  pods cgroup rss $(( $(awk '$1=="total_rss" {print $2}' /sys/fs/cgroup/memory/$CGROUP_ROOT/kubepods/memory.stat) / 1048576 ))"

# --- clean up the workloads: pods gone, veths gone
if [ "${KEEP:-0}" != 1 ]; then
  t=$(now)
  kubectl delete -f "$HERE/manifests/crash.yaml" -f "$HERE/manifests/web.yaml" --wait=true >/dev/null
  for _ in $(seq 1 300); do [ -z "$(kubectl get pods -o name 2>/dev/null)" ] && break; sleep 0.1; done
  [ -z "$(kubectl get pods -o name)" ] && ok "workloads deleted, pods gone in $(since "$t")s" || bad "pods left"
  for _ in $(seq 1 100); do [ -z "$(ip -o link show master "$BRIDGE" 2>/dev/null)" ] && break; sleep 0.1; done
  [ -z "$(ip -o link show master "$BRIDGE")" ] && ok "no veth left on $BRIDGE" || bad "veths left on $BRIDGE"
  # again, image now cached on the node
  t=$(now); kubectl apply -f "$HERE/manifests/web.yaml" >/dev/null
  kubectl rollout status deploy/web --timeout=120s >/dev/null && ok "web re-applied (image cached): 2/2 Ready in $(since "$t")s" || bad "web re-apply"
  # kube-proxy programs the new Service asynchronously (minSyncPeriod 1s): Ready pods != Service answering yet
  wait_body http://127.0.0.1:30080/ && ok "host -> NodePort 127.0.0.1:30080 after re-apply: answers $(since "$t")s after apply" || bad "NodePort after re-apply"
  kubectl delete -f "$HERE/manifests/web.yaml" --wait=true >/dev/null
  for _ in $(seq 1 300); do [ -z "$(kubectl get pods -o name 2>/dev/null)" ] && break; sleep 0.1; done
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
