"""Installing Debian packages the platform needs, only when their program is missing.

Recommends are skipped (apparmor, git, ... are not needed to run the services), and
Debian's policy-rc.d or the missing init system keeps packages from starting services.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from devplatform.layout import APT_TIMEOUT_S
from devplatform.processes import PlatformError
from liveline.runlog import run_logged, tail

log = logging.getLogger(__name__)


def _apt(args: list[str], logfile: Path) -> bool:
    # Waits for the dpkg lock (another install on the machine) instead of failing.
    cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=600", *args]
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    return run_logged(cmd, logfile, APT_TIMEOUT_S, env=env) == 0


def ensure_program(program: str, package: str, component: str, logfile: Path) -> str:
    """Path of program; installs package with apt-get first if it is missing."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin:/sbin")
    if found:
        return found
    if os.geteuid() != 0:
        raise PlatformError(
            f"{component}: `{program}` is missing and installing `{package}` needs root. "
            f"Run `sudo apt-get install -y {package}`, then retry."
        )
    logfile.parent.mkdir(parents=True, exist_ok=True)
    log.info("%s: installing Debian package %s (log %s)", component, package, logfile)
    started = time.monotonic()
    install = ["install", "-y", "--no-install-recommends", package]
    # A fresh machine may have no package lists yet: update once, then try again.
    if not _apt(install, logfile) and not (_apt(["update"], logfile) and _apt(install, logfile)):
        raise PlatformError(
            f"{component}: `apt-get install {package}` failed. Last lines of {logfile}:\n"
            f"{tail(logfile)}\nFix apt (network to Debian's mirror, dpkg lock), then retry."
        )
    log.info("%s: installed %s in %.1f s", component, package, time.monotonic() - started)
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin:/sbin")
    if not found:
        raise PlatformError(f"{component}: {package} installed but `{program}` is not on PATH.")
    return found
