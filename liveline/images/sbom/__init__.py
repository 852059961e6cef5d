"""A CycloneDX SBOM of a container image, from what is installed in it.

Read from the image itself, never from the build context or the requirements: the
Debian packages recorded in its /var/lib/dpkg/status (copied out of a created container),
and the Python distributions that its own interpreter finds on its sys.path (listed with
importlib.metadata inside a throwaway container: no network, read-only, no capabilities;
their METADATA is parsed here). cyclonedx-python-lib builds the document.

The document is a function of the image alone (its id, configuration and files, never a
tag or the time of the scan): its timestamp is the image's creation time and its serial
number is derived from the image id, so the same image always gives the same bytes and
the same sha256, whichever repository or run it was built for.

The package is split by step: `reading` takes the lists out of the image, `packages`
parses them, `document` builds the CycloneDX JSON; this module joins them (`for_image`)
and keeps the result (`ImageSbom`). Their public names are all importable from here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from liveline.images.sbom.document import (
    PROPERTY_LOCATION,
    SERIAL_NAMESPACE,
    TITLE_LABEL,
    to_cyclonedx,
)
from liveline.images.sbom.packages import (
    LICENSE_NAME_MAX,
    Package,
    canonical,
    deb_packages,
    distro_id,
    parse_os_release,
    python_packages,
)
from liveline.images.sbom.reading import (
    DPKG_STATUS,
    LIST_DISTRIBUTIONS,
    OS_RELEASE,
    PYTHON,
    RUN_TIMEOUT_S,
    SbomError,
    read_image,
)

__all__ = [
    "DPKG_STATUS",
    "LICENSE_NAME_MAX",
    "LIST_DISTRIBUTIONS",
    "NOTABLE_DEBS",
    "OS_RELEASE",
    "PROPERTY_LOCATION",
    "PYTHON",
    "RUN_TIMEOUT_S",
    "SERIAL_NAMESPACE",
    "TITLE_LABEL",
    "ImageSbom",
    "Package",
    "SbomError",
    "canonical",
    "deb_packages",
    "distro_id",
    "for_image",
    "parse_os_release",
    "python_packages",
    "read_image",
    "to_cyclonedx",
]

log = logging.getLogger(__name__)

# Packages named in the summary's Debian line when the image has them.
NOTABLE_DEBS = ("python3.11", "libc6", "libssl3", "openssl", "ca-certificates")


@dataclass(frozen=True)
class ImageSbom:
    image_id: str
    document: str  # CycloneDX JSON
    packages: tuple[Package, ...]
    distro: str  # e.g. "debian-12", "" when the image has no os-release

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document.encode()).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.image_id.replace(':', '-')}.cdx.json"

    def version_of(self, name: str, ecosystem: str = "pypi") -> str | None:
        """The installed version of a package (Python names compared normalised)."""
        for p in self.packages:
            if p.ecosystem == ecosystem and _key(p.ecosystem, p.name) == _key(ecosystem, name):
                return p.version
        return None

    def counts(self) -> dict[str, int]:
        return dict(Counter(p.ecosystem for p in self.packages))

    def summary(self) -> str:
        """Markdown: the counts, the Python distributions, and notable Debian packages."""
        counts = self.counts()
        python = sorted(
            (p for p in self.packages if p.ecosystem == "pypi"), key=lambda p: canonical(p.name)
        )
        debs = {p.name: p.version for p in self.packages if p.ecosystem == "deb"}
        lines = [
            f"**{len(self.packages)} components**: {counts.get('pypi', 0)} Python distributions, "
            f"{counts.get('deb', 0)} Debian packages ({self.distro or 'unknown distribution'}); "
            f"sha256 `{self.sha256[:16]}…`",
            "",
            "| Python distribution | version | license |",
            "|---|---|---|",
            *(f"| {p.name} | {p.version} | {p.license or '-'} |" for p in python),
        ]
        notable = [f"{name} {debs[name]}" for name in NOTABLE_DEBS if name in debs]
        if notable:
            lines += ["", "Debian: " + ", ".join(notable)]
        return "\n".join(lines)

    def write(self, folder: Path) -> Path:
        """Keep the document as <folder>/sha256-<image id>.cdx.json; return its path."""
        return _write_whole(folder / self.filename, self.document)


def _write_whole(path: Path, text: str) -> Path:
    """Write path through a file of this process's own, renamed into place: readers (and
    another release writing the same file) never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def _key(ecosystem: str, name: str) -> str:
    return canonical(name) if ecosystem == "pypi" else name


def for_image(
    client: docker.DockerClient, image: str, reuse: Path | None = None, packages_from: str = ""
) -> ImageSbom:
    """Read the packages installed in image (a reference or id) and build its SBOM.

    packages_from: the id of the image that holds everything the listing reads (for a
    serving image, its `deps` stage: serving/Dockerfile's final stage is FROM the same
    base and takes /opt/venv from it, and adds only code and the model, which no listing
    reads). With reuse, the listing read for that id is kept in reuse/ and read from
    there next time: a model-only or code-only rebuild runs no listing container (about
    a third of a second of every release). Image ids are digests of their content, so
    a kept listing is the listing of any image with that id."""
    try:
        attrs: dict[str, Any] = client.api.inspect_image(image)
    except docker.errors.APIError as e:
        raise SbomError(f"cannot inspect {image}: {e.explanation or e}") from e
    kept = reuse / f"{packages_from.replace(':', '-')}.json" if reuse and packages_from else None
    if kept is not None and kept.is_file():
        status, os_release, listing = json.loads(kept.read_text())
    else:
        status, os_release, listing = read_image(client, attrs["Id"])
        if kept is not None:
            _write_whole(kept, json.dumps([status, os_release, listing]))
    distro = distro_id(os_release)
    packages = (
        *python_packages(listing),
        *deb_packages(status, os_release),
    )
    document = to_cyclonedx(attrs, packages)
    log.info("SBOM of %s: %d components", attrs["Id"], len(packages))
    return ImageSbom(attrs["Id"], document, tuple(packages), distro)
