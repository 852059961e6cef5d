"""The container registry, a stand-in for Azure Container Registry.

Debian's docker-registry (distribution 2.8) with our own config: the packaged one turns
on htpasswd auth and listens on every interface. Ours listens on 127.0.0.1 only, keeps
its storage in the state folder, has no auth and allows deletes (for clean-up).
The engine already treats 127.0.0.0/8 as an insecure registry, so push needs no setup.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import requests

from devplatform import apt, processes
from devplatform.layout import Layout
from devplatform.report import Status, service

log = logging.getLogger(__name__)

NAME = "registry"
START_TIMEOUT_S = 30.0


def url(layout: Layout) -> str:
    return f"http://{layout.settings.registry}"


def config_path(layout: Layout) -> Path:
    return layout.registry_dir / "config.yml"


def _markers(layout: Layout) -> list[str]:
    return ["docker-registry", "serve", str(config_path(layout))]


def write_config(layout: Layout) -> None:
    config = {
        "version": 0.1,
        # The access log repeats what the info-level request log already says.
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(layout.registry_dir / "data")},
            "delete": {"enabled": True},
        },
        "http": {
            "addr": layout.settings.registry,
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
    }
    # JSON is valid YAML, and json.dumps quotes paths safely.
    config_path(layout).write_text(json.dumps(config, indent=2) + "\n")


def answers(layout: Layout) -> bool:
    """True if a registry speaking the v2 API answers on the configured address."""
    try:
        resp = requests.get(f"{url(layout)}/v2/", timeout=2)
    except requests.RequestException:
        return False
    return resp.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"


def _version() -> str:
    try:
        out = subprocess.run(
            ["docker-registry", "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "-"
    # e.g. "docker-registry github.com/docker/distribution v2.8.2+unknown"
    return out.split()[-1] if out.split() else "-"


def status(layout: Layout) -> Status:
    up_now = answers(layout)
    ours = processes.running_pid(layout.pidfile(NAME), _markers(layout)) is not None
    return service(
        NAME, layout.logfile(NAME), address=url(layout), version=_version() if up_now else None,
        answers=up_now, ours=ours,
    )  # fmt: skip


def up(layout: Layout) -> None:
    if answers(layout):
        return
    logfile = layout.logfile(NAME)
    program = apt.ensure_program("docker-registry", "docker-registry", NAME, layout.logfile("apt"))
    (layout.registry_dir / "data").mkdir(parents=True, exist_ok=True)
    write_config(layout)
    processes.ensure_started(
        NAME, layout.pidfile(NAME), _markers(layout),
        lambda: [program, "serve", str(config_path(layout))],
        lambda: answers(layout), START_TIMEOUT_S, logfile,
        hint=f"Is {layout.settings.registry} taken by another program (`ss -ltnp`)? "
        "Free it or set LIVELINE_REGISTRY_PORT.",
    )  # fmt: skip
    log.info("%s: answers at %s", NAME, url(layout))


def down(layout: Layout) -> bool:
    return processes.stop(NAME, layout.pidfile(NAME), _markers(layout))
