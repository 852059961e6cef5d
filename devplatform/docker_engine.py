"""The Docker engine: use one that answers, else install docker.io and start dockerd.

An engine that answered before we started anything is someone else's: we use it and
never stop it. One we start gets a pidfile, so `down` stops exactly that one.
"""

from __future__ import annotations

import logging
from contextlib import closing

import docker
import docker.errors
import requests

from devplatform import apt, processes
from devplatform.layout import Layout
from devplatform.report import Status, service
from liveline.images.engine import engine_client

log = logging.getLogger(__name__)

NAME = "docker-engine"
START_TIMEOUT_S = 90.0
# dockerd gives containers 15 s to stop on shutdown; allow for that before SIGKILL.
STOP_TIMEOUT_S = 45.0


def address(layout: Layout) -> str:
    return layout.settings.docker_address


def client(layout: Layout, timeout: int = 120) -> docker.DockerClient:
    return engine_client(layout.settings.docker_host, timeout=timeout)


def _own_pidfile_arg(layout: Layout) -> str:
    # dockerd's own pidfile lives in our state folder; the argument also marks it as ours.
    return f"--pidfile={layout.run / 'dockerd.self.pid'}"


def _markers(layout: Layout) -> list[str]:
    return ["dockerd", _own_pidfile_arg(layout)]


def version(layout: Layout) -> str | None:
    """The engine's version if it answers, else None."""
    try:
        with closing(client(layout, timeout=5)) as c:
            return str(c.version().get("Version", "?"))
    except (docker.errors.DockerException, requests.RequestException):
        return None


def status(layout: Layout) -> Status:
    ver = version(layout)
    ours = processes.running_pid(layout.pidfile(NAME), _markers(layout)) is not None
    return service(
        NAME, layout.logfile(NAME), address=address(layout), version=ver,
        answers=ver is not None, ours=ours,
    )  # fmt: skip


def up(layout: Layout) -> None:
    if version(layout) is not None:
        return
    addr = address(layout)
    if not addr.startswith("unix://"):
        raise processes.PlatformError(
            f"{NAME}: no engine answers at {addr}, and liveline only starts a local one on a "
            f"unix socket. Start that engine, or unset DOCKER_HOST/LIVELINE_DOCKER_HOST."
        )
    logfile = layout.logfile(NAME)
    dockerd = apt.ensure_program("dockerd", "docker.io", NAME, layout.logfile("apt"))
    log.info("%s: dockerd on %s (started unless it runs already)", NAME, addr)
    processes.ensure_started(
        NAME, layout.pidfile(NAME), _markers(layout),
        lambda: [
            dockerd,
            f"--host={addr}",
            # No firewall changes on a shared machine; port publishing still works via
            # docker-proxy, and nothing here needs NAT to the outside.
            "--iptables=false",
            _own_pidfile_arg(layout),
        ],
        lambda: version(layout) is not None, START_TIMEOUT_S, logfile,
        hint="Check the log for storage-driver or cgroup errors; `python -m "
        "devplatform down` then `up` retries.",
    )  # fmt: skip
    log.info("%s: engine %s answers at %s", NAME, version(layout), addr)


def down(layout: Layout) -> bool:
    return processes.stop(NAME, layout.pidfile(NAME), _markers(layout), STOP_TIMEOUT_S)
