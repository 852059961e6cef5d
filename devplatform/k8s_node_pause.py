"""The pause (pod sandbox) image, which no registry here can provide: built from source.

Kubernetes' own build/pause/linux/pause.c from the k8s.io/kubernetes module the kubelet
is compiled from, with upstream's flags (-Os -Wall -Werror -static; glibc is fine, pause
uses no NSS), in an image made as upstream's Dockerfile makes it (FROM scratch, user
65535), tagged with the version that Kubernetes release ships and pushed to the local
registry, where containerd pulls it as its sandbox image.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from contextlib import closing
from pathlib import Path

import docker.errors

from devplatform import apt, docker_engine, processes
from devplatform.k8s_node_config import NAME, NodeLayout, pause_source, pause_tag
from devplatform.layout import APT_TIMEOUT_S
from liveline import images
from liveline.registry import Registry
from liveline.runlog import run_logged

log = logging.getLogger(__name__)

LIBC_STATIC = Path("/usr/lib/x86_64-linux-gnu/libc.a")
PUSH_ATTEMPTS = 5
# A constant Dockerfile (no values pasted in): Dockerfiles have no serializer to use.
DOCKERFILE = """FROM scratch
ADD pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
"""


def in_registry(n: NodeLayout) -> bool:
    s = n.layout.settings
    return Registry(s.registry, s.k8s_pause_repository).serves(pause_tag(n.layout))


def _compile(n: NodeLayout, context: Path) -> None:
    logfile = n.layout.logfile("apt")
    apt.ensure_program("gcc", "gcc", NAME, logfile)
    if not LIBC_STATIC.exists():  # gcc only recommends libc6-dev, and recommends are skipped
        cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "libc6-dev"]
        if run_logged(cmd, logfile, APT_TIMEOUT_S, env={"DEBIAN_FRONTEND": "noninteractive"}):
            raise processes.PlatformError(f"{NAME}: installing libc6-dev failed; see {logfile}")
    tag = pause_tag(n.layout)
    shutil.copy(pause_source(n.layout) / "linux" / "pause.c", context / "pause.c")
    # The Makefile's REV comes from git, which a module has not: mark it as ours instead.
    for cmd in (
        ["gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{tag}-liveline",
         "-o", "pause", "pause.c"],
        ["strip", "pause"],
    ):  # fmt: skip
        out = subprocess.run(cmd, cwd=context, capture_output=True, text=True, timeout=120,
                             check=False)  # fmt: skip
        if out.returncode != 0:
            raise processes.PlatformError(f"{NAME}: `{' '.join(cmd)}` failed: {out.stderr}")
    (context / "Dockerfile").write_text(DOCKERFILE)


def ensure_pause(n: NodeLayout) -> str:
    """Build and push the pause image unless the registry has it; return its reference."""
    reference = n.pause_image
    if in_registry(n):
        return reference
    started = time.monotonic()
    context = n.root / "pause-build"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    _compile(n, context)
    repository, tag = reference.rsplit(":", 1)
    with closing(docker_engine.client(n.layout)) as client:
        try:
            _, logs = client.images.build(path=str(context), tag=reference, rm=True)
            for _ in logs:  # a one-shot iterator: consume it
                pass
        except (docker.errors.BuildError, docker.errors.APIError) as e:
            raise processes.PlatformError(f"{NAME}: building the pause image failed: {e}") from e
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                images.push(client, repository, tag)
                break
            except images.ImageError as e:
                if attempt == PUSH_ATTEMPTS:
                    raise processes.PlatformError(
                        f"{NAME}: pushing {reference} failed: {e}. Is the registry up?"
                    ) from e
                time.sleep(2 * attempt)
    shutil.rmtree(context, ignore_errors=True)
    log.info("%s: pause image %s built from pause.c and pushed in %.1f s",
             NAME, reference, time.monotonic() - started)  # fmt: skip
    return reference
