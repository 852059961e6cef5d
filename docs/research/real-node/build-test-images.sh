#!/usr/bin/env bash
# Two tiny test images FROM the offline base liveline/python-base:3.11-bookworm-r2, pushed to 127.0.0.1:5000:
#   $REG/liveline-node/web:1    python3 -m http.server 8080 (serves /srv/index.html)
#   $REG/liveline-node/crash:1  prints a line and exits 1 (never Ready, CrashLoopBackOff)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REG="${REG:-127.0.0.1:5000}"
BASE="${BASE_IMAGE:-liveline/python-base:3.11-bookworm-r2}"
mkdir -p "$HERE/images/web" "$HERE/images/crash"
echo "hello from liveline real node" > "$HERE/images/web/index.html"
cat > "$HERE/images/web/Dockerfile" <<EOD
FROM $BASE
COPY index.html /srv/index.html
WORKDIR /srv
USER 65534:65534
EXPOSE 8080
CMD ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"]
EOD
cat > "$HERE/images/crash/Dockerfile" <<EOD
FROM $BASE
USER 65534:65534
CMD ["python3", "-c", "import sys; print('exiting on purpose', flush=True); sys.exit(1)"]
EOD
for i in web crash; do
  docker build -q -t "$REG/liveline-node/$i:1" "$HERE/images/$i" >/dev/null
  docker push "$REG/liveline-node/$i:1" | tail -1
done
