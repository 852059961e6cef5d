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
"""

from __future__ import annotations

import contextlib
import email.parser
import hashlib
import io
import json
import logging
import re
import tarfile
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import docker
import docker.errors
import requests
from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.contrib.this.builders import this_component
from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import LicenseAcknowledgement
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

log = logging.getLogger(__name__)

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
# A license field longer than this is the license's full text, not its name.
LICENSE_NAME_MAX = 80
PROPERTY_LOCATION = "liveline:location"
# The image component's name, when the image has this label (serving/Dockerfile sets it).
TITLE_LABEL = "org.opencontainers.image.title"
SERIAL_NAMESPACE = uuid.UUID("5b0b6a7e-6c55-4d4e-9a7e-2f5e3c1b8d10")
# Packages named in the summary's Debian line when the image has them.
NOTABLE_DEBS = ("python3.11", "libc6", "libssl3", "openssl", "ca-certificates")


class SbomError(Exception):
    """An image's contents could not be read."""


@dataclass(frozen=True)
class Package:
    ecosystem: str  # "pypi" or "deb"
    name: str
    version: str
    purl: str
    license: str = ""
    description: str = ""
    location: str = ""  # the site folder of a distribution, the architecture of a deb


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
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.filename
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.document)
        tmp.replace(path)  # readers never see half a document
        return path


def _key(ecosystem: str, name: str) -> str:
    return canonical(name) if ecosystem == "pypi" else name


def canonical(name: str) -> str:
    """PEP 503 normalisation: "Scikit_Learn" and "scikit-learn" are one distribution."""
    # The PEP's own one-liner; packaging.utils.canonicalize_name is the same, but packaging
    # is not one of our direct dependencies.
    return re.sub(r"[-_.]+", "-", name).lower()


def for_image(client: docker.DockerClient, image: str) -> ImageSbom:
    """Read the packages installed in image (a reference or id) and build its SBOM."""
    try:
        attrs = client.api.inspect_image(image)
    except docker.errors.APIError as e:
        raise SbomError(f"cannot inspect {image}: {e.explanation or e}") from e
    status, os_release, listing = read_image(client, attrs["Id"])
    distro = distro_id(os_release)
    packages = (
        *python_packages(listing),
        *deb_packages(status, os_release),
    )
    document = to_cyclonedx(attrs, packages)
    log.info("SBOM of %s: %d components", attrs["Id"], len(packages))
    return ImageSbom(attrs["Id"], document, tuple(packages), distro)


def read_image(client: docker.DockerClient, image_id: str) -> tuple[str, str, list[dict]]:
    """(dpkg status, os-release, Python distribution listing) from one throwaway container."""
    name = f"liveline-sbom-{uuid.uuid4().hex[:12]}"
    try:
        container = client.api.create_container(
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


def _run(client: docker.DockerClient, container: str, image_id: str) -> list[dict]:
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
    return json.loads(out)


def python_packages(listing: list[dict]) -> list[Package]:
    """Packages from importlib.metadata's view: {"location", "metadata" (METADATA text)}."""
    parser = email.parser.HeaderParser()
    seen: dict[tuple[str, str, str], Package] = {}
    for entry in listing:
        meta = parser.parsestr(entry["metadata"])
        name, version = meta.get("Name"), meta.get("Version")
        if not name or not version:
            continue  # a broken dist-info folder: nothing to name
        purl = PackageURL(type="pypi", name=name, version=version).to_string()
        license_ = _license(meta)
        key = (canonical(name), version, entry["location"])
        seen[key] = Package("pypi", name, version, purl, license_.strip(),
                            (meta.get("Summary") or "").strip(), entry["location"])  # fmt: skip
    return list(seen.values())


def _license(meta) -> str:
    """The declared license: an SPDX expression, else a short License field, else the
    first license classifier ("License :: OSI Approved :: BSD License" -> "BSD License")."""
    for text in (meta.get("License-Expression"), meta.get("License")):
        text = (text or "").strip()
        if text and "\n" not in text and len(text) <= LICENSE_NAME_MAX:
            return text  # longer: a pasted license text, not a name
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            return classifier.rsplit("::", 1)[1].strip()
    return ""


def deb_packages(status: str, os_release: str) -> list[Package]:
    """Installed packages from a dpkg status file (stanzas separated by blank lines)."""
    release = parse_os_release(os_release)
    namespace = release.get("ID", "debian")
    distro = distro_id(os_release)
    # dpkg stanzas are RFC 822-style fields (continuation lines included), which the
    # standard library parses; python-debian's deb822 would too, but is no dependency here.
    parser = email.parser.HeaderParser()
    packages = []
    for stanza in re.split(r"\n\s*\n", status.strip()):
        fields = parser.parsestr(stanza)
        if not (fields.get("Status") or "").endswith(" installed"):
            continue  # removed but with config files left, or half-installed
        name, version, arch = fields["Package"], fields["Version"], fields.get("Architecture", "")
        qualifiers = {k: v for k, v in (("arch", arch), ("distro", distro)) if v}
        purl = PackageURL(type="deb", namespace=namespace, name=name, version=version,
                          qualifiers=qualifiers).to_string()  # fmt: skip
        summary = (fields.get("Description") or "").split("\n", 1)[0].strip()
        packages.append(Package("deb", name, version, purl, "", summary, arch))
    return packages


def parse_os_release(text: str) -> dict[str, str]:
    # platform.freedesktop_os_release parses only this machine's file, not an image's.
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip().strip('"') for k, v in pairs}


def distro_id(os_release: str) -> str:
    """purl's deb distro qualifier, e.g. "debian-12"."""
    release = parse_os_release(os_release)
    if "ID" not in release:
        return ""
    return f"{release['ID']}-{release['VERSION_ID']}" if "VERSION_ID" in release else release["ID"]


def to_cyclonedx(attrs: dict, packages: tuple[Package, ...]) -> str:
    """The CycloneDX 1.6 JSON document for an image (attrs: the engine's inspect) and its
    packages. The image is described by its id and labels, never by a tag: tags move,
    and one image may carry several."""
    image_id = attrs["Id"]
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    image = Component(
        type=ComponentType.CONTAINER,
        name=labels.get(TITLE_LABEL) or "image",
        version=image_id,
        bom_ref=image_id,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=image_id.removeprefix("sha256:"))],
        properties=[Property(name=k, value=v) for k, v in sorted(labels.items())],
    )
    bom = Bom(serial_number=uuid.uuid5(SERIAL_NAMESPACE, image_id))
    bom.metadata.timestamp = _created(attrs["Created"])
    bom.metadata.component = image
    bom.metadata.tools.components.add(this_component())
    components = [_component(p) for p in packages]
    bom.components = components
    bom.register_dependency(image, components)
    return JsonV1Dot6(bom).output_as_string(indent=2)


def _component(p: Package) -> Component:
    declared = LicenseAcknowledgement.DECLARED
    licenses = (
        [LicenseFactory().make_from_string(p.license, license_acknowledgement=declared)]
        if p.license
        else []
    )
    # The same name and version may sit in two site folders: the folder keeps refs unique.
    ref = f"{p.purl}#{p.location}" if p.ecosystem == "pypi" else p.purl
    return Component(
        type=ComponentType.LIBRARY,
        name=p.name,
        version=p.version,
        bom_ref=ref,
        purl=PackageURL.from_string(p.purl),
        description=p.description or None,
        licenses=licenses,
        properties=[Property(name=PROPERTY_LOCATION, value=p.location)] if p.location else [],
    )


def _created(text: str) -> datetime:
    """The engine's RFC 3339 time, whose nanoseconds Python 3.11 cannot parse."""
    head, dot, rest = text.partition(".")
    if dot:
        digits = re.match(r"\d*", rest).group()
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
