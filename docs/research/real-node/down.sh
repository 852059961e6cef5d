#!/usr/bin/env bash
# Stop the real node (and undo its host changes), then delete the cluster; then check nothing is left.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
"$HERE/node-down.sh"
"$HERE/cluster-down.sh" 2>&1 | grep -v '"level":"INFO"'
sleep 2   # kwokctl SIGKILLs; reparented processes stay zombies ~2 s here
"$HERE/check-clean.sh"
