"""The CycloneDX 1.6 document of an image and its packages, built by cyclonedx-python-lib.

A function of the image alone: its timestamp is the image's creation time and its serial
number is derived from the image id, so the same image always gives the same bytes.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.contrib.this.builders import this_component
from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import LicenseAcknowledgement
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from liveline.images.sbom.packages import Package

PROPERTY_LOCATION = "liveline:location"
# The image component's name, when the image has this label (serving/Dockerfile sets it).
TITLE_LABEL = "org.opencontainers.image.title"
SERIAL_NAMESPACE = uuid.UUID("5b0b6a7e-6c55-4d4e-9a7e-2f5e3c1b8d10")


def to_cyclonedx(attrs: dict[str, Any], packages: tuple[Package, ...]) -> str:
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
        fraction = re.match(r"\d*", rest)  # matches always, if only the empty string
        digits = fraction.group() if fraction else ""
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
