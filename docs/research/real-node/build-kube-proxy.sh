#!/usr/bin/env bash
# Build kube-proxy v1.35.4 from the k8s.io/kubernetes Go module (same pins as /work/scratch/k8s/build/k8s,
# plus a `tool k8s.io/kubernetes/cmd/kube-proxy` line) into ./bin/kube-proxy. Runs under nice -n 19.
# Env: GOMODCACHE/GOCACHE (default: the warm caches in /work/scratch/k8s/gocache)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
GO="${GO:-/usr/local/go/bin/go}"
export GOMODCACHE="${GOMODCACHE:-/work/scratch/k8s/gocache/mod}"
export GOCACHE="${GOCACHE:-/work/scratch/k8s/gocache/cache}"
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=mod -trimpath -buildvcs=false"
d="$HERE/build/k8s"
if [ ! -f "$d/go.mod" ]; then mkdir -p "$HERE/build"; cp -r /work/scratch/k8s/build/k8s "$d"; fi
# add the tool line by hand: `go get -tool` would upgrade k8s.io/kubernetes to the newest release.
# -mod=mod then adds kube-proxy's few extra deps (knftables, ipvs, ...) at the versions k8s.io/kubernetes@v1.35.4 requires.
if ! grep -q 'k8s.io/kubernetes/cmd/kube-proxy' "$d/go.mod"; then
  sed -i 's#^\tk8s.io/kubernetes/cmd/kube-controller-manager$#&\n\tk8s.io/kubernetes/cmd/kube-proxy#' "$d/go.mod"
fi
v=$(cd "$d" && "$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)
date=$(cd "$d" && "$GO" list -m -json k8s.io/kubernetes | sed -n 's/.*"Time": "\(.*\)".*/\1/p')
major=$(echo "${v#v}" | cut -d. -f1); minor=$(echo "${v#v}" | cut -d. -f2)
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
  ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date -X $p.gitCommit=unknown"
done
mkdir -p "$HERE/bin"
t0=$SECONDS
(cd "$d" && nice -n 19 "$GO" build -tags=selinux,notest,grpcnotrace -ldflags "$ld" -o "$HERE/bin/" k8s.io/kubernetes/cmd/kube-proxy)
echo "kube-proxy $v built in $((SECONDS - t0)) s"
"$HERE/bin/kube-proxy" --version
