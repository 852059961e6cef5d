"""SeaweedFS, the local S3 server (Apache-2.0), compiled from its Go module.

Started by `up` only when the models live in S3 (LIVELINE_MODEL_STORE=s3), or when a
test asks for it (the store contract tests run against every store); `down` always
stops it if it runs. `weed mini` runs master, volume, filer and the S3 gateway in one
process: on 127.0.0.1 only, every port explicit (the gRPC ones default to the HTTP port +
10000, the admin's to fixed ports), telemetry off (it is on by default), one identity
(the development key pair of liveline.settings: without one the S3 API is open to
anyone). Its data lives in the state folder and survives restarts.

The module proxy serves SeaweedFS as a pseudo-version only, and `go install pkg@version`
refuses it (its go.mod has a replace directive): the pinned module is downloaded, its
hash checked against the pin below, and built inside the module cache as the main
module, with its own go.sum. About 10 minutes on 2 cores the first time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from devplatform import k8s_build, processes
from devplatform.layout import Layout
from devplatform.report import Status, service
from liveline.modelstore import s3
from liveline.runlog import run_logged, tail
from liveline.settings import SEAWEEDFS_ACCESS_KEY, SEAWEEDFS_SECRET_KEY

log = logging.getLogger(__name__)

NAME = "seaweedfs"
MODULE = "github.com/seaweedfs/seaweedfs"
# SeaweedFS 4.53 (its tags are no semver: the proxy serves commits as pseudo-versions).
VERSION = "v0.0.0-20261109003541-7506e5f91cd6"
MODULE_SUM = "h1:LOYZFToHq9F7pSR6lkPGfkM8RmHlVFrzndKdhmNZjrU="
RECIPE = "1"  # bump when the build flags change
BUILD_TIMEOUT_S = 2400.0
# A fresh server takes 5-11 s to accept its first write, a restarted one up to 34 s
# (its master's warm-up): ready means a real write went through, not an open port.
START_TIMEOUT_S = 90.0
PROBE_BUCKET = "liveline-probe"
# Offsets from seaweedfs_port_base: every port of `weed mini` but the S3 one.
PORTS = {
    "master.port": 0, "master.port.grpc": 1, "volume.port": 2, "volume.port.grpc": 3,
    "filer.port": 4, "filer.port.grpc": 5, "s3.port.grpc": 7, "admin.port": 8,
    "admin.port.grpc": 9,
}  # fmt: skip


def enabled(layout: Layout) -> bool:
    return layout.settings.model_store == "s3" and not layout.settings.s3_endpoint_url


def _dir(layout: Layout) -> Path:
    return layout.state / "seaweedfs"


def binary(layout: Layout) -> Path:
    return _dir(layout) / "bin" / "weed"


def _data(layout: Layout) -> Path:
    return layout.state / "seaweedfs-data"


def _markers(layout: Layout) -> list[str]:
    return [str(binary(layout)), f"-dir={_data(layout)}"]


def running(layout: Layout) -> bool:
    return processes.running_pid(layout.pidfile(NAME), _markers(layout)) is not None


def _pin() -> str:
    return f"{MODULE}@{VERSION} {MODULE_SUM} recipe {RECIPE}"


def ensure_built(layout: Layout) -> Path:
    """The weed binary, compiled unless the pinned one is there. One build at a time:
    a second caller (the tests build it in the background) waits for the first's."""
    weed = binary(layout)
    weed.parent.mkdir(parents=True, exist_ok=True)
    with (weed.parent / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the build itself is bounded by BUILD_TIMEOUT_S
        return _build(layout)


def _build(layout: Layout) -> Path:
    weed, stamp = binary(layout), binary(layout).with_suffix(".pin")
    if weed.is_file() and stamp.is_file() and stamp.read_text() == _pin():
        return weed
    logfile = layout.logfile(f"{NAME}-build")
    env = k8s_build.go_env(layout)
    started = time.monotonic()
    log.info("%s: compiling %s (first time: about 10 minutes; log %s)", NAME, VERSION, logfile)
    got = subprocess.run(
        [k8s_build.go(), "mod", "download", "-json", f"{MODULE}@{VERSION}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if got.returncode != 0:
        raise processes.PlatformError(
            f"{NAME}: downloading {MODULE}@{VERSION} failed: {(got.stdout + got.stderr)[-2000:]}"
            "\nCheck access to the Go module proxy."
        )
    info = json.loads(got.stdout)
    if info.get("Sum") != MODULE_SUM:
        raise processes.PlatformError(
            f"{NAME}: {MODULE}@{VERSION} hashes to {info.get('Sum')}, not the pinned "
            f"{MODULE_SUM}: refusing to build it"
        )
    weed.parent.mkdir(parents=True, exist_ok=True)
    cmd = [k8s_build.go(), "build", "-ldflags", "-s -w", "-o", str(weed), "./weed"]
    rc = run_logged(cmd, logfile, BUILD_TIMEOUT_S, cwd=Path(info["Dir"]), env=env)
    if rc != 0:
        raise processes.PlatformError(
            f"{NAME}: building failed (exit {rc}). Last lines of {logfile}:\n{tail(logfile)}\n"
            "Check free disk (about 5 GB of Go caches) and access to the Go module proxy."
        )
    stamp.write_text(_pin())
    log.info("%s: built in %.0f s", NAME, time.monotonic() - started)
    return weed


def _identities(layout: Layout) -> Path:
    """The S3 gateway's one identity: the development key pair, allowed everything."""
    path = _dir(layout) / "s3.json"
    identity = {
        "name": "liveline",
        "credentials": [{"accessKey": SEAWEEDFS_ACCESS_KEY, "secretKey": SEAWEEDFS_SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    path.write_text(json.dumps({"identities": [identity]}, indent=2) + "\n")
    path.chmod(0o600)
    return path


def _command(layout: Layout) -> list[str]:
    s = layout.settings
    ports = [f"-{flag}={s.seaweedfs_port_base + offset}" for flag, offset in PORTS.items()]
    return [
        str(binary(layout)), "mini", f"-dir={_data(layout)}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={s.seaweedfs_port}", *ports,
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
        "-admin.port.legacy=0", "-master.telemetry=false",
        f"-s3.config={_identities(layout)}",
    ]  # fmt: skip


def _writable(layout: Layout) -> bool:
    """One real write (a sentinel object) through the development identity."""
    client = s3.client(layout.settings.local_s3_url, layout.settings.s3_region, attempts=1)
    try:
        with contextlib.suppress(ClientError):  # there since the first start
            client.create_bucket(Bucket=PROBE_BUCKET)
        client.put_object(Bucket=PROBE_BUCKET, Key="ready", Body=b"ok")
        return True
    except (BotoCoreError, ClientError):
        return False
    finally:
        client.close()


def version(layout: Layout) -> str | None:
    """`weed version`'s number if the binary is built, else None."""
    if not binary(layout).is_file():
        return None
    out = subprocess.run([str(binary(layout)), "version"], capture_output=True, text=True,
                         timeout=30, check=False)  # fmt: skip
    words = out.stdout.split()  # "version 30GB 4.53 linux amd64"
    return words[2] if len(words) > 2 else "?"


def up(layout: Layout, force: bool = False) -> None:
    """Build and start it when the settings choose it (or `force`); wait until writable."""
    if not (force or enabled(layout)):
        return
    ensure_built(layout)
    _data(layout).mkdir(parents=True, exist_ok=True)
    processes.ensure_started(
        NAME, layout.pidfile(NAME), _markers(layout), lambda: _command(layout),
        lambda: _writable(layout), START_TIMEOUT_S, layout.logfile(NAME),
        hint=f"Are its ports taken (`ss -ltnp`: {layout.settings.seaweedfs_port} and "
        f"{layout.settings.seaweedfs_port_base}-{layout.settings.seaweedfs_port_base + 9})? "
        "Free them or set LIVELINE_SEAWEEDFS_PORT and LIVELINE_SEAWEEDFS_PORT_BASE.",
    )  # fmt: skip
    log.info("%s: S3 answers at %s", NAME, layout.settings.local_s3_url)


def status(layout: Layout) -> Status:
    ours = running(layout)
    return service(
        NAME, layout.logfile(NAME), address=layout.settings.local_s3_url,
        version=version(layout), answers=ours and _writable(layout), ours=ours,
        absent="" if binary(layout).is_file() else "not built yet",
    )  # fmt: skip


def down(layout: Layout) -> bool:
    return processes.stop(NAME, layout.pidfile(NAME), _markers(layout))
