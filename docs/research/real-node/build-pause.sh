#!/usr/bin/env bash
# Build the Kubernetes pause image from source (k8s.io/kubernetes@v1.35.4 build/pause/linux/pause.c),
# statically linked with glibc's gcc, FROM scratch, and push it to the local registry.
#   ./build-pause.sh            -> 127.0.0.1:5000/pause:3.10.1
# Env: PAUSE_IMAGE (default 127.0.0.1:5000/pause:3.10.1), K8S_SRC (module dir)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
K8S_SRC="${K8S_SRC:-/work/scratch/k8s/gocache/mod/k8s.io/kubernetes@v1.35.4}"
TAG=$(sed -n 's/^TAG ?= //p' "$K8S_SRC/build/pause/Makefile")      # 3.10.1 in v1.35.4
PAUSE_IMAGE="${PAUSE_IMAGE:-127.0.0.1:5000/pause:$TAG}"
ctx="$HERE/images/pause"; mkdir -p "$ctx/bin"
cp "$K8S_SRC/build/pause/linux/pause.c" "$ctx/pause.c"
# same CFLAGS as upstream's Makefile (REV would come from git: use a fixed marker)
nice -n 19 gcc -Os -Wall -Werror -static -DVERSION="v$TAG-liveline" -o "$ctx/bin/pause-linux-amd64" "$ctx/pause.c"
strip "$ctx/bin/pause-linux-amd64"
file "$ctx/bin/pause-linux-amd64"
"$ctx/bin/pause-linux-amd64" -v
# upstream Dockerfile (build/pause/Dockerfile) with BASE=scratch, ARCH=amd64
cat > "$ctx/Dockerfile" <<'EOD'
FROM scratch
ADD bin/pause-linux-amd64 /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
EOD
docker build -q -t "$PAUSE_IMAGE" "$ctx"
docker push "$PAUSE_IMAGE" | tail -1
echo "$PAUSE_IMAGE"
