"""The packages an image has installed, parsed from what was read out of it: the Python
distributions' METADATA (as importlib.metadata lists them) and Debian's dpkg status."""

from __future__ import annotations

import email.parser
import re
from dataclasses import dataclass
from email.message import Message

from packageurl import PackageURL

# A license field longer than this is the license's full text, not its name.
LICENSE_NAME_MAX = 80


@dataclass(frozen=True)
class Package:
    ecosystem: str  # "pypi" or "deb"
    name: str
    version: str
    purl: str
    license: str = ""
    description: str = ""
    location: str = ""  # the site folder of a distribution, the architecture of a deb


def canonical(name: str) -> str:
    """PEP 503 normalisation: "Scikit_Learn" and "scikit-learn" are one distribution."""
    # The PEP's own one-liner; packaging.utils.canonicalize_name is the same, but packaging
    # is not one of our direct dependencies.
    return re.sub(r"[-_.]+", "-", name).lower()


def python_packages(listing: list[dict[str, str]]) -> list[Package]:
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


def _license(meta: Message) -> str:
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
