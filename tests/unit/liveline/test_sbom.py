"""The SBOM from an image's contents: dpkg's status file, the interpreter's distributions,
and a CycloneDX 1.6 document that validates and depends on the image alone.

The Python listing here is this very environment's, read with importlib.metadata as the
image's interpreter reads its own: the scikit-learn that trains the model must come out.
"""

from __future__ import annotations

import importlib.metadata
import json

import pytest
import sklearn
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from liveline.images import sbom

IMAGE_ID = "sha256:" + "ab" * 32
ATTRS = {
    "Id": IMAGE_ID,
    "Created": "2026-01-02T03:04:05.123456789Z",  # the engine's nanoseconds
    "RepoTags": ["127.0.0.1:5000/liveline/serving:abc-123"],
    "Config": {"Labels": {"org.opencontainers.image.title": "liveline-serving", "x.y": "z"}},
}
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
DPKG_STATUS = """\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: removed-but-configured
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1
Description: gone

Package: tzdata
Status: install ok installed
Architecture: all
Version: 1:2024a-0+deb12u1
Description: time zone and daylight-saving time data
"""


def this_environment() -> list[dict]:
    """What LIST_DISTRIBUTIONS prints, for the interpreter running the tests."""
    return [
        {
            "location": str(d.locate_file("")),
            "metadata": d.read_text("METADATA") or d.read_text("PKG-INFO") or "",
        }
        for d in importlib.metadata.distributions()
    ]


@pytest.fixture(scope="module")
def python_packages() -> list[sbom.Package]:
    return sbom.python_packages(this_environment())


def test_installed_debian_packages_only_with_purls():
    debs = sbom.deb_packages(DPKG_STATUS, OS_RELEASE)
    assert [(p.name, p.version) for p in debs] == [
        ("libc6", "2.36-9+deb12u4"),
        ("tzdata", "1:2024a-0+deb12u1"),
    ]
    libc = debs[0]
    assert libc.purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
    assert libc.description == "GNU C Library: Shared libraries"
    assert debs[1].purl.startswith("pkg:deb/debian/tzdata@1:2024a-0%2Bdeb12u1?arch=all")


def test_os_release_names_the_distro():
    assert sbom.distro_id(OS_RELEASE) == "debian-12"
    assert sbom.distro_id("ID=alpine\n") == "alpine"
    assert sbom.distro_id("") == ""


def test_python_distributions_come_with_versions_purls_and_licenses(python_packages):
    by_name = {sbom.canonical(p.name): p for p in python_packages}
    learn = by_name["scikit-learn"]
    assert learn.version == sklearn.__version__
    assert learn.purl == f"pkg:pypi/scikit-learn@{sklearn.__version__}"
    assert learn.license == "BSD-3-Clause"
    assert learn.location.endswith("site-packages")
    # Every distribution this interpreter sees, once per site folder.
    assert len(by_name) == len({sbom.canonical(d.metadata["Name"]) for d in
                                importlib.metadata.distributions()})  # fmt: skip
    # Names of licenses, never a license's pasted text.
    assert all("\n" not in p.license for p in python_packages)


def test_license_falls_back_to_the_classifier_and_drops_pasted_texts():
    meta = "Metadata-Version: 2.1\nName: Old_Pkg\nVersion: 1.0\nLicense: {}\n{}\n"
    classifier = "Classifier: License :: OSI Approved :: BSD License"
    pasted = "Copyright (c) someone\n        Redistribution and use in source..."
    [short] = sbom.python_packages([{"location": "/x", "metadata": meta.format("MIT", "")}])
    [long_] = sbom.python_packages(
        [{"location": "/x", "metadata": meta.format(pasted, classifier)}]
    )
    assert (short.name, short.license, short.purl) == ("Old_Pkg", "MIT", "pkg:pypi/old-pkg@1.0")
    assert long_.license == "BSD License"
    assert sbom.python_packages([{"location": "/x", "metadata": "Name: no-version\n"}]) == []


def _document(python_packages) -> tuple[str, tuple[sbom.Package, ...]]:
    packages = (*python_packages, *sbom.deb_packages(DPKG_STATUS, OS_RELEASE))
    return sbom.to_cyclonedx(ATTRS, packages), packages


def test_the_document_is_valid_cyclonedx_1_6(python_packages):
    document, packages = _document(python_packages)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None
    doc = json.loads(document)
    assert doc["specVersion"] == "1.6"
    assert len(doc["components"]) == len(packages)
    assert {c["purl"].split("/", 1)[0] for c in doc["components"]} == {"pkg:pypi", "pkg:deb"}
    image = doc["metadata"]["component"]
    assert (image["type"], image["name"], image["version"]) == (
        "container",
        "liveline-serving",
        IMAGE_ID,
    )
    assert image["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert {"name": "x.y", "value": "z"} in image["properties"]
    # The image depends on every component: the dependency graph is complete.
    [root] = [d for d in doc["dependencies"] if d["ref"] == IMAGE_ID]
    assert len(root["dependsOn"]) == len(packages)
    assert doc["metadata"]["tools"]["components"][0]["name"] == "cyclonedx-python-lib"


def test_the_document_depends_on_the_image_alone(python_packages):
    first, _ = _document(python_packages)
    again, _ = _document(python_packages)
    assert first == again  # same image, same bytes: its sha256 identifies it
    doc = json.loads(first)
    assert doc["metadata"]["timestamp"].startswith("2026-01-02T03:04:05.123456")
    retagged = {**ATTRS, "RepoTags": ["elsewhere/serving:other"]}
    assert sbom.to_cyclonedx(retagged, tuple(python_packages)) == sbom.to_cyclonedx(
        ATTRS, tuple(python_packages)
    )
    other = sbom.to_cyclonedx({**ATTRS, "Id": "sha256:" + "cd" * 32}, ())
    assert json.loads(other)["serialNumber"] != doc["serialNumber"]


def test_image_sbom_answers_versions_summarises_and_is_kept_by_image_id(tmp_path, python_packages):
    document, packages = _document(python_packages)
    result = sbom.ImageSbom(IMAGE_ID, document, packages, "debian-12")
    assert result.version_of("Scikit_Learn") == sklearn.__version__
    assert result.version_of("libc6", ecosystem="deb") == "2.36-9+deb12u4"
    assert result.version_of("no-such-package") is None
    assert result.counts() == {"pypi": len(python_packages), "deb": 2}
    summary = result.summary()
    assert f"**{len(packages)} components**" in summary
    assert f"| scikit-learn | {sklearn.__version__} | BSD-3-Clause |" in summary
    assert "Debian: libc6 2.36-9+deb12u4" in summary
    path = result.write(tmp_path / "sboms")
    assert path.name == f"sha256-{'ab' * 32}.cdx.json"
    assert path.read_text() == document
    assert len(result.sha256) == 64
