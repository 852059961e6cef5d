"""Reading an image's package lists out of the image itself, in one throwaway container:
its dpkg status and os-release files (copied out before it starts), and the listing of
the Python distributions that its own interpreter finds (run with no network, read-only,
no capabilities)."""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import uuid

import docker
import docker.errors
import requests

DPKG_STATUS = "/var/lib/dpkg/status"
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
# Resolved through the image's PATH, so a venv first on it is the environment listed.
PYTHON = "python3"
# Runs inside the image: names where each distribution lives and returns its METADATA
# as text; parsing it happens here, outside the image.
LIST_DISTRIBUTIONS = """\
import importlib.metadata as m, json
print(json.dumps([
    {"location": str(d.locate_file("")),
     "metadata": d.read_text("METADATA") or d.read_text("PKG-INFO") or ""}
    for d in m.distributions()
]))
"""
RUN_TIMEOUT_S = 60


class SbomError(Exception):
    """An image's contents could not be read."""


def read_image(client: docker.DockerClient, image_id: str) -> tuple[str, str, list[dict[str, str]]]:
    """(dpkg status, os-release, Python distribution listing) from one throwaway container."""
    name = f"liveline-sbom-{uuid.uuid4().hex[:12]}"
    try:
        container: str = client.api.create_container(
            image_id,
            entrypoint=[PYTHON, "-I", "-c", LIST_DISTRIBUTIONS],
            command=[],
            name=name,
            network_disabled=True,
            labels={"io.liveline.purpose": "sbom"},
            host_config=client.api.create_host_config(
                read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"]
            ),
        )["Id"]
    except docker.errors.APIError as e:
        raise SbomError(f"cannot create a container from {image_id}: {e.explanation or e}") from e
    try:
        # Files are read before the container starts: nothing in the image has run yet.
        status = _read_file(client, container, DPKG_STATUS) or ""
        os_release = next(filter(None, (_read_file(client, container, p) for p in OS_RELEASE)), "")
        listing = _run(client, container, image_id)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_container(container, force=True)
    return status, os_release, listing


def _read_file(client: docker.DockerClient, container: str, path: str) -> str | None:
    """A regular file's text from the container's filesystem, None if it has none."""
    try:
        stream, _ = client.api.get_archive(container, path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        if member is None or not member.isfile():  # e.g. a symlink: try the next path
            return None
        data = tar.extractfile(member)
        return data.read().decode("utf-8", errors="replace") if data else None


def _run(client: docker.DockerClient, container: str, image_id: str) -> list[dict[str, str]]:
    try:
        client.api.start(container)
    except docker.errors.APIError as e:
        if "executable file not found" in str(e):
            return []  # an image without Python has no Python distributions
        raise SbomError(f"cannot run {PYTHON} in {image_id}: {e.explanation or e}") from e
    try:
        result = client.api.wait(container, timeout=RUN_TIMEOUT_S)
    except requests.RequestException as e:  # a timeout, or the engine going away
        raise SbomError(
            f"listing the Python distributions of {image_id} did not finish: {e}"
        ) from e
    out = client.api.logs(container, stdout=True, stderr=False).decode()
    if result.get("StatusCode") != 0:
        err = client.api.logs(container, stdout=False, stderr=True).decode(errors="replace")
        raise SbomError(
            f"listing the Python distributions of {image_id} failed "
            f"(exit {result.get('StatusCode')}): {err.strip()[-500:]}"
        )
    listing = json.loads(out)
    if not isinstance(listing, list) or not all(isinstance(d, dict) for d in listing):
        raise SbomError(f"the Python distributions of {image_id} were not listed as objects")
    return listing
