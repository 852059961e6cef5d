"""Config files written from Python documents (dicts), in the format their name says.

YAML (PyYAML), JSON (json), TOML (tomlkit writes it, tomllib reads it): every value is
quoted and escaped by a serializer, never pasted into a template. `read` parses a file
back, so a writer can leave a file alone that already holds its document.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
import yaml


def yaml_text(doc: Any) -> str:
    # Block style, keys in the order written; no line wrapping of long paths.
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1 << 16)


def json_text(doc: Any) -> str:
    return json.dumps(doc, indent=2) + "\n"


def toml_text(doc: dict) -> str:
    return tomlkit.dumps(doc)


_FORMATS: dict[str, tuple[Callable[[Any], str], Callable[[str], Any]]] = {
    ".yaml": (yaml_text, yaml.safe_load),
    ".yml": (yaml_text, yaml.safe_load),
    ".kubeconfig": (yaml_text, yaml.safe_load),
    ".json": (json_text, json.loads),
    ".conflist": (json_text, json.loads),
    ".toml": (toml_text, tomllib.loads),
}


def _format(path: Path) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    try:
        return _FORMATS[path.suffix]
    except KeyError:
        raise ValueError(f"no serializer for {path.name} (known: {', '.join(_FORMATS)})") from None


def render(path: Path, doc: Any) -> str:
    """doc as the text of a file named like path."""
    return _format(path)[0](doc)


def read(path: Path) -> Any:
    """The document in path; None when the file is missing or does not parse."""
    load = _format(path)[1]
    try:
        return load(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None


def write(path: Path, doc: Any) -> None:
    path.write_text(render(path, doc))
