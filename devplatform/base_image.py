"""An offline stand-in for python:3.11-slim, since no image can be pulled here, and one
for python:3.11, the image serving/Dockerfile installs the dependencies in.

debootstrap builds a minimal Debian bookworm with Python 3.11, venv and binutils from
Debian's packages; that tree is imported into the engine as settings.build_image, then
purged (binutils too) and trimmed, and imported as settings.base_image: both have the
same Python, as the Dockerfile requires. Built once: `up` reuses the images whenever the
engine already has them.

`up` also pushes it to the local registry (once), as production's base lives in a
registry: an imported image has no manifest digest until it is pushed, and image builds
pin their base by that digest (liveline/images.py resolve_base).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import IO, Any

import docker.auth
import docker.errors
import psutil

from devplatform import apt, docker_engine, processes
from devplatform.layout import Layout
from devplatform.report import Status
from liveline import images
from liveline.registry import Registry
from liveline.runlog import run_logged, tail

log = logging.getLogger(__name__)

NAME = "base-image"
LOCAL_REGISTRY_HOSTS = ("127.0.0.1", "localhost")
DEBOOTSTRAP_TIMEOUT_S = 1800.0
PURGE_TIMEOUT_S = 300.0
# The host's environment, less what the chroot's maintainer scripts must not inherit.
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
              "DEBIAN_FRONTEND": "noninteractive"}  # fmt: skip
DEBOOTSTRAP_ARGS = ["--variant=minbase", "--include=python3,python3-venv,ca-certificates,binutils"]
SUITE = "bookworm"
# What python:3.11-slim's config provides that a bare import lacks.
# A bare import has no PATH, so `ENV PATH=/venv/bin:$PATH` in a Dockerfile would drop it.
IMAGE_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
    "LABEL org.liveline.base=debootstrap",
]
# Debian packages purged after debootstrap, with dpkg in the chroot, so that its status
# (which the image's SBOM lists) says what the image holds. An image never installs a
# package (no apt, no network in builds): it runs python3, the venv/pip of a Dockerfile's
# deps stage, sh with coreutils/findutils, getent and useradd. Consumers come before what
# they use, perl-base last: maintainer scripts run while their tools still exist. dpkg is
# forced past Essential and Depends (debconf's dependants, ca-certificates' on openssl:
# kept) and nothing left links a purged library (checked with ldd over the image's ELF
# files). kB: bytes the r2 image lost by each purge. Changing these lists means bumping the
# base image tag in liveline/settings.py, so that machines with the old image rebuild it.
PURGE = [
    # Package management: nothing runs apt here; dpkg itself stays (its status is the SBOM).
    "apt",  # 2027 kB
    "libapt-pkg6.0",  # 2217 kB, apt's library
    "gpgv",  # 491 kB, apt's signature check
    "debian-archive-keyring",  # 290 kB, apt's keys
    "libseccomp2",  # 137 kB, apt's sandbox
    "libxxhash0",  # 89 kB, apt's hashing
    # apt's TLS stack (Python links libssl3, which stays): gnutls and its libraries.
    "libgnutls30",  # 2336 kB
    "libp11-kit0",  # 1281 kB
    "libidn2-0",  # 215 kB (glibc dlopens it only for getaddrinfo's AI_IDN)
    "libunistring2",  # 1827 kB
    "libhogweed6",  # 336 kB
    "libnettle8",  # 370 kB
    "libtasn1-6",  # 95 kB
    # ext2/3/4 tools: containers do not make file systems.
    "e2fsprogs",  # 1264 kB
    "logsave",  # 35 kB
    "libext2fs2",  # 529 kB
    "libss2",  # 56 kB
    # Python parts no server or venv uses: 2to3, and the distutils that Python 3.12
    # drops (pip uses sysconfig on 3.10+; setuptools brings its own copy).
    "python3-lib2to3",  # 757 kB
    "python3-distutils",  # 1273 kB
    # Perl and what runs on it: adduser (Dockerfiles call useradd, from passwd) and
    # debconf (configures packages at install time). Its cache goes too (TRIM).
    "adduser",  # 147 kB
    "debconf",  # 2027 kB with var/cache/debconf
    "perl-base",  # 7901 kB
    # binutils and what only it uses: the build image strips the wheels' libraries with it.
    "binutils",
    "binutils-x86-64-linux-gnu",
    "binutils-common",
    "libgprofng0",
    "libctf0",
    "libctf-nobfd0",
    "libbinutils",
    "libjansson4",
]
# debootstrap's downloads, which no image needs: cleared before the build image's import.
CACHES = ["var/cache/apt", "var/lib/apt/lists"]
# Removed after the purge: caches, docs (copyright files stay), message translations and
# iconv modules (Python has its own codecs).
TRIM = [
    *CACHES,
    "var/cache/debconf",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/lib/x86_64-linux-gnu/gconv",
    "var/log",
]


def inspect(layout: Layout, reference: str = "") -> dict[str, Any] | None:
    """The engine's record of the base image (or of `reference`, the build image), or None
    if it has not been built."""
    try:
        with closing(docker_engine.client(layout, timeout=10)) as client:
            return dict(client.images.get(reference or layout.settings.base_image).attrs)
    except docker.errors.ImageNotFound:
        return None


def status(layout: Layout) -> Status:
    try:
        attrs = inspect(layout)
    except docker.errors.DockerException as e:
        attrs, note = None, f"engine unavailable: {type(e).__name__}"
    else:
        build = attrs and inspect(layout, layout.settings.build_image)
        note = (
            f"{attrs['Size'] / 1e6:.0f} MB; build image {layout.settings.build_image} "
            + (f"{build['Size'] / 1e6:.0f} MB" if build else "missing: `up` builds it")
            if attrs
            else "not built; `up` builds it"
        )
    image_id = attrs["Id"].removeprefix("sha256:")[:12] if attrs else "-"
    return Status(NAME, attrs is not None, layout.settings.base_image, image_id,
                  str(layout.logfile(NAME)), note, states=("present", "missing"))  # fmt: skip


def _unmount_below(root: Path) -> None:
    """A debootstrap that died may leave /proc or /sys mounted in root: never delete those."""
    mounts = [part.mountpoint for part in psutil.disk_partitions(all=True)]
    for point in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, timeout=60)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _purge(rootfs: Path, logfile: Path) -> None:
    cmd = ["chroot", str(rootfs), "dpkg", "--purge", "--force-remove-essential",
           "--force-depends", *PURGE]  # fmt: skip
    rc = run_logged(cmd, logfile, PURGE_TIMEOUT_S, env=CHROOT_ENV)
    if rc != 0:
        raise processes.PlatformError(
            f"{NAME}: dpkg --purge in the rootfs failed (exit {rc}). Last lines of "
            f"{logfile}:\n{tail(logfile)}"
        )


def _clear(rootfs: Path, folders: list[str]) -> None:
    for rel in folders:
        for child in (rootfs / rel).glob("*"):
            _remove(child)


def _trim(rootfs: Path) -> None:
    _clear(rootfs, TRIM)
    for doc in (rootfs / "usr/share/doc").glob("*/*"):
        if doc.name != "copyright":
            _remove(doc)
    # python:3.11-slim has `python`; Debian only has `python3`.
    (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")


def _chunks(stream: IO[bytes] | None, size: int = 1 << 20) -> Iterator[bytes]:
    # requests sends a generator with chunked encoding: the tar never sits in memory.
    assert stream is not None
    while chunk := stream.read(size):
        yield chunk


def _debootstrap(layout: Layout, rootfs: Path, logfile: Path) -> None:
    program = apt.ensure_program("debootstrap", "debootstrap", NAME, layout.logfile("apt"))
    cmd = [program, *DEBOOTSTRAP_ARGS, SUITE, str(rootfs)]
    log.info("%s: debootstrap %s into %s (about 1-2 min, log %s)", NAME, SUITE, rootfs, logfile)
    rc = run_logged(cmd, logfile, DEBOOTSTRAP_TIMEOUT_S)
    if rc != 0:
        raise processes.PlatformError(
            f"{NAME}: debootstrap failed (exit {rc}). Last lines of {logfile}:\n"
            f"{tail(logfile)}\nCheck access to Debian's mirror and free disk, retry."
        )


def _split(reference: str) -> tuple[str, str]:
    repository, _, tag = reference.rpartition(":")
    return (repository, tag) if repository and "/" not in tag else (reference, "latest")


def up(layout: Layout) -> None:
    if inspect(layout) is None or inspect(layout, layout.settings.build_image) is None:
        _build(layout)
    for reference in (layout.settings.base_image, layout.settings.build_image):
        _publish(layout, reference)


def registry_target(layout: Layout, reference: str = "") -> tuple[str, str] | None:
    """(repository, tag) that `up` pushes the base (or `reference`) to: the local
    registry, same name and tag; None when there is nothing to push (a non-local
    registry, or an image that is pinned or named in a registry already)."""
    s = layout.settings
    reference = reference or s.base_image
    repository, tag = _split(reference)
    if (
        s.registry_host not in LOCAL_REGISTRY_HOSTS  # a real registry is not ours to fill
        or images.PINNED.match(reference)
        or not images.qualified(repository).startswith(f"{docker.auth.INDEX_NAME}/")
    ):
        return None
    return f"{s.registry}/{repository}", tag


def _publish(layout: Layout, reference: str) -> None:
    """Push an image to the local registry unless it serves it already (by digest)."""
    if (target := registry_target(layout, reference)) is None:
        return
    repository, tag = target
    with closing(docker_engine.client(layout, timeout=600)) as client:
        attrs = client.api.inspect_image(reference)
        for pinned in attrs.get("RepoDigests") or []:
            name, _, digest = pinned.partition("@")
            if name == repository and _served(layout, reference, digest):
                return
        started = time.monotonic()
        client.api.tag(reference, repository, tag)
        try:
            digest = images.push(client, repository, tag)
        except images.ImageError as e:
            raise processes.PlatformError(
                f"{NAME}: cannot push {reference} to the local registry: "
                f"{e}. Is the registry up (`make status`)?"
            ) from e
    log.info("%s: pushed as %s@%s in %.1f s", NAME, repository, digest,
             time.monotonic() - started)  # fmt: skip


def _served(layout: Layout, reference: str, digest: str) -> bool:
    repository = _split(reference)[0]
    return Registry(layout.settings.registry, repository).serves(digest)


def _build(layout: Layout) -> None:
    logfile = layout.logfile(NAME)
    rootfs = layout.base_image_dir / "rootfs"
    if rootfs.exists():  # a half-built tree from an interrupted run
        _unmount_below(rootfs)
        shutil.rmtree(rootfs)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    _debootstrap(layout, rootfs, logfile)
    _clear(rootfs, CACHES)
    _import(layout, rootfs, layout.settings.build_image, started)
    _purge(rootfs, logfile)
    _trim(rootfs)
    _import(layout, rootfs, layout.settings.base_image, started)
    shutil.rmtree(rootfs)  # the images hold it now


def _import(layout: Layout, rootfs: Path, reference: str, started: float) -> None:
    log.info("%s: importing %s (%.0f s since the start)", NAME, reference,
             time.monotonic() - started)  # fmt: skip
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                           stdout=subprocess.PIPE)  # fmt: skip
    with closing(docker_engine.client(layout, timeout=600)) as client, tar:
        repository, tag = _split(reference)
        client.api.import_image_from_stream(_chunks(tar.stdout), repository, tag, IMAGE_CHANGES)
    attrs = inspect(layout, reference)
    if tar.returncode != 0 or attrs is None:
        raise processes.PlatformError(f"{NAME}: import of {reference} failed (tar exit "
                                      f"{tar.returncode}).")  # fmt: skip
    log.info("%s: %s built in %.0f s, %.0f MB", NAME, reference,
             time.monotonic() - started, attrs["Size"] / 1e6)  # fmt: skip
