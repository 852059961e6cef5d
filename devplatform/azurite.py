"""Azurite, the Azure Blob Storage emulator, pinned in tools/azurite and run from the state.

Only the blob service runs, on 127.0.0.1, ALWAYS with --disableTelemetry (without it
Azurite sends telemetry off the machine) and --skipApiVersionCheck (azure-storage-blob
12.31 sends an API version newer than Azurite 3.35 knows). Azurite 3.36+ needs Node 22.
"""

from __future__ import annotations

import logging
import shutil

import requests
from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient

from devplatform import processes
from devplatform.layout import AZURITE_PACKAGE_DIR, Layout
from devplatform.report import Status, service
from liveline.runlog import run_logged, tail
from liveline.settings import AZURITE_ACCOUNT, AZURITE_KEY

log = logging.getLogger(__name__)

NAME = "azurite"
START_TIMEOUT_S = 30.0
NPM_TIMEOUT_S = 900.0
PACKAGE_FILES = ("package.json", "package-lock.json")


def blob_service(layout: Layout, **kwargs: object) -> BlobServiceClient:
    """A client for the local emulator, authenticated with the well-known dev account key."""
    credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    return BlobServiceClient(layout.settings.blob_account_url, credential=credential, **kwargs)


def _program(layout: Layout) -> str:
    return str(layout.azurite_dir / "node_modules" / ".bin" / "azurite-blob")


def _markers(layout: Layout) -> list[str]:
    return ["azurite-blob", str(layout.azurite_data)]


def server_version(layout: Layout) -> str | None:
    """Azurite's version from its Server header if it answers, else None."""
    try:
        resp = requests.get(layout.settings.blob_account_url, timeout=2)
    except requests.RequestException:
        return None
    server = resp.headers.get("Server", "")  # e.g. "Azurite-Blob/3.35.0"
    if not server.startswith("Azurite"):
        return None
    return server.partition("/")[2] or "?"


def install(layout: Layout) -> None:
    """npm ci the pinned package into the state folder, unless that copy is current."""
    dest = layout.azurite_dir
    current = all(
        (dest / f).exists() and (dest / f).read_bytes() == (AZURITE_PACKAGE_DIR / f).read_bytes()
        for f in PACKAGE_FILES
    )
    if current and (dest / "node_modules" / ".bin" / "azurite-blob").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise processes.PlatformError(f"{NAME}: npm is missing. Install Node.js 20 with npm.")
    dest.mkdir(parents=True, exist_ok=True)
    for f in PACKAGE_FILES:
        shutil.copyfile(AZURITE_PACKAGE_DIR / f, dest / f)
    logfile = layout.logfile(f"{NAME}-npm")
    log.info("%s: npm ci in %s (log %s)", NAME, dest, logfile)
    # No package needs install scripts; skipping them keeps the install inert. The flag
    # keeps registry addresses out of the lock file should npm ever rewrite it.
    cmd = [npm, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund",
           "--omit-lockfile-registry-resolved=true"]  # fmt: skip
    ok = run_logged(cmd, logfile, NPM_TIMEOUT_S, cwd=dest) == 0
    if not ok:
        (dest / "package-lock.json").unlink(missing_ok=True)  # so the next up retries
        raise processes.PlatformError(
            f"{NAME}: `npm ci` failed. Last lines of {logfile}:\n{tail(logfile)}\n"
            "Check that the npm registry is reachable, then retry."
        )


def status(layout: Layout) -> Status:
    ver = server_version(layout)
    ours = processes.running_pid(layout.pidfile(NAME), _markers(layout)) is not None
    return service(
        NAME, layout.logfile(NAME), address=layout.settings.blob_account_url, version=ver,
        answers=ver is not None, ours=ours,
    )  # fmt: skip


def up(layout: Layout) -> None:
    if server_version(layout) is None:
        install(layout)
        logfile = layout.logfile(NAME)
        s = layout.settings
        processes.ensure_started(
            NAME, layout.pidfile(NAME), _markers(layout),
            lambda: [
                _program(layout),
                "--blobHost",
                s.azurite_host,
                "--blobPort",
                str(s.azurite_port),
                "--location",
                str(layout.azurite_data),
                "--disableTelemetry",
                "--skipApiVersionCheck",
            ],
            lambda: server_version(layout) is not None, START_TIMEOUT_S, logfile,
            hint="Is the port taken (`ss -ltnp`)? Free it or set LIVELINE_AZURITE_PORT.",
        )  # fmt: skip
    # The dev account key must work, not just the port: one authenticated call, no retries.
    try:
        with blob_service(layout, retry_total=0) as client:
            client.get_service_properties()
    except AzureError as e:
        raise processes.PlatformError(
            f"{NAME}: answers at {layout.settings.blob_account_url} but rejects the dev "
            f"account ({e}). Is it an Azurite started without --skipApiVersionCheck?"
        ) from e
    log.info("%s: answers at %s", NAME, layout.settings.blob_account_url)


def down(layout: Layout) -> bool:
    return processes.stop(NAME, layout.pidfile(NAME), _markers(layout))
