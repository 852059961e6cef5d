#!/usr/bin/env bash
# Regenerate tools/k8s/*/go.mod for a given version set, then `go mod tidy`.
# Usage: K8S_VERSION=v1.35.4 ETCD_VERSION=v3.6.16 KWOK_VERSION=v0.8.0 ./gen-gomod.sh
# Only needed when changing a pinned version; devplatform/k8s_build.py builds from the committed go.mod/go.sum.
set -euo pipefail
cd "$(dirname "$0")"
: "${K8S_VERSION:=v1.35.4}" "${ETCD_VERSION:=v3.6.16}" "${KWOK_VERSION:=v0.8.0}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"          # v1.35.4 -> v0.35.4
GO=${GO:-/usr/local/go/bin/go}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

# --- k8s: k8s.io/kubernetes + a replace for every k8s.io/* staging module it requires at v0.0.0
mkdir -p k8s && cd k8s
rm -f go.mod go.sum
modfile=$($GO mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
goline=$(awk '$1=="go"{print $2; exit}' "$modfile")          # e.g. 1.25.0
godebug=$(awk '$1=="godebug"{print $2; exit}' "$modfile")    # e.g. default=go1.25
staging=$(sed -n '/^require (/,/^)/p' "$modfile" | awk '$1 ~ /^k8s\.io\// && $2=="v0.0.0" {print $1}')
{
  echo "module liveline.local/k8s-build"
  echo
  echo "go ${goline}"
  echo
  [ -n "$godebug" ] && echo "godebug ${godebug}" && echo
  echo "tool ("
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do echo "	k8s.io/kubernetes/cmd/$c"; done
  echo ")"
  echo
  echo "require k8s.io/kubernetes ${K8S_VERSION}"
  echo
  echo "replace ("
  for m in $staging; do echo "	$m => $m ${STAGING_VERSION}"; done
  echo ")"
} > go.mod
nice -n 19 $GO mod tidy
cd ..

# A build module whose tools all come from one required module.
# simple_module DIR "MODULE VERSION" TOOL...
simple_module() {
  local dir=$1 require=$2
  shift 2
  mkdir -p "$dir" && rm -f "$dir/go.mod" "$dir/go.sum"
  {
    echo "module liveline.local/${dir}-build"
    echo
    echo "go 1.25.0"
    echo
    echo "tool ("
    for tool in "$@"; do printf '\t%s\n' "$tool"; done
    echo ")"
    echo
    echo "require ${require}"
  } > "$dir/go.mod"
  (cd "$dir" && nice -n 19 $GO mod tidy)
}

# --- etcd: the server module's main package (its own go.mod has local replaces, so `go install pkg@v` is refused)
simple_module etcd "go.etcd.io/etcd/server/v3 ${ETCD_VERSION}" go.etcd.io/etcd/server/v3

# --- kwok: kwok (controller) and kwokctl
simple_module kwok "sigs.k8s.io/kwok ${KWOK_VERSION}" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl

echo "go.mod/go.sum regenerated for k8s ${K8S_VERSION} (staging ${STAGING_VERSION}), etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}"
