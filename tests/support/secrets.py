"""A scanner for credential canaries in what a run leaves behind: an image's layers and
config, a Dagster run's events, logs and files, Python log records, a kubeconfig's keys.
It searches for exact bytes (tests/integration/orchestration/test_secrets.py shows what it
finds)."""

from __future__ import annotations

import base64
import io
import json
import logging
import tarfile
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

import yaml
from dagster import serialize_value

CHUNK = 8 << 20
AZURE_CANARIES = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "IDENTITY_HEADER",
    "MSI_SECRET",
)
CONTROL = "control: "


def leaks(found: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(name, where) for name, where in found if not name.startswith(CONTROL)}


def places(found: set[tuple[str, str]], name: str) -> set[str]:
    """Where name was found: the part of each place before ":", e.g. "labels", "event"."""
    return {where.split(":")[0] for n, where in found if n == name}


def canary(purpose: str) -> str:
    # Letters, digits and dashes only: JSON, YAML, URLs and shells leave it unescaped, so
    # a copy is found byte for byte. (azure-identity also refuses "_" in a tenant id.)
    return f"canary-{purpose.lower().replace('_', '-')}-{uuid.uuid4().hex}"


class Scanner:
    """Finds the named secrets in bytes; reports names and places, never the values."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.needles = {name: value.encode() for name, value in secrets.items()}
        self.overlap = max(len(n) for n in self.needles.values()) - 1
        self.bytes_scanned = 0

    def scan(self, data: bytes, where: str) -> set[tuple[str, str]]:
        self.bytes_scanned += len(data)
        return {(name, where) for name, needle in self.needles.items() if needle in data}

    def scan_stream(self, chunks: Iterable[bytes], where: str) -> set[tuple[str, str]]:
        """Chunk by chunk, keeping an overlap so a secret cut in two is still found."""
        found: set[tuple[str, str]] = set()
        tail = b""
        for chunk in chunks:
            window = tail + chunk
            found |= self.scan(window, where)
            tail = window[-self.overlap :]
            self.bytes_scanned -= len(tail)  # counted again with the next chunk
        return found


class _ChunkReader(io.RawIOBase):
    """A file over the docker SDK's chunk generator: tarfile reads a file, and docker-py
    offers the `docker save` stream only as a generator of chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n], self._pending = self._pending[:n], self._pending[n:]
        return n


def scan_image(client, image_id: str, scanner: Scanner) -> tuple[set, Counter]:
    """The image's labels, environment and history, then every file of `docker save`."""
    attrs = client.api.inspect_image(image_id)
    found = scanner.scan(json.dumps(attrs["Config"].get("Labels") or {}).encode(), "labels")
    found |= scanner.scan(json.dumps(attrs["Config"].get("Env") or []).encode(), "env")
    found |= scanner.scan(json.dumps(client.api.history(image_id)).encode(), "history")
    found |= scanner.scan(json.dumps(attrs).encode(), "inspect")
    seen: Counter = Counter()
    archive = io.BufferedReader(_ChunkReader(client.api.get_image(image_id)), CHUNK)
    with tarfile.open(fileobj=archive, mode="r|") as tar:
        for member in tar:
            data = tar.extractfile(member) if member.isfile() else None
            if data is None:
                continue
            where = f"docker save: {member.name}"
            found |= scanner.scan_stream(iter(partial(data.read, CHUNK), b""), where)
            seen["layers" if member.name.endswith("layer.tar") else "other files"] += 1
            seen["bytes"] += member.size
    return found, seen


def scan_dagster(instance, run_id: str, scanner: Scanner) -> tuple[set, Counter]:
    """Every event of the run as stored, the run record, and every file of the instance
    (its databases and the captured compute logs)."""
    found: set[tuple[str, str]] = set()
    seen: Counter = Counter()
    for entry in instance.all_logs(run_id):
        kind = entry.dagster_event_type.value if entry.dagster_event_type else "log message"
        found |= scanner.scan(serialize_value(entry).encode(), f"event: {kind} {entry.step_key}")
        seen["events"] += 1
    found |= scanner.scan(serialize_value(instance.get_run_by_id(run_id)).encode(), "run record")
    root = Path(instance.root_directory)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        kind = "compute log" if "compute_logs" in path.parts else "instance file"
        found |= scanner.scan(path.read_bytes(), f"{kind}: {path.relative_to(root)}")
        seen[f"{kind}s"] += 1
    return found, seen


class LogRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(message)s").format(record))


def scan_log_records(lines: list[str], scanner: Scanner) -> set:
    return scanner.scan("\n".join(lines).encode(), "python log records")


def kubeconfig_secrets(path: Path) -> dict[str, str]:
    """The cluster credentials of a kubeconfig: tokens, passwords, client keys (inline or
    in a file; for a PEM key, its first and last lines of base64, as any copy has them)."""
    found = {}
    for user in yaml.safe_load(path.read_text()).get("users") or []:
        creds = user.get("user") or {}
        for field in ("token", "password", "client-key-data"):
            if creds.get(field):
                found[f"kubeconfig {field}"] = str(creds[field])
        key = creds.get("client-key-data") and base64.b64decode(creds["client-key-data"]).decode()
        if creds.get("client-key"):
            key = (path.parent / creds["client-key"]).read_text()
        if key:
            body = [line for line in key.splitlines() if line and not line.startswith("-----")]
            found["kubeconfig client key (first line)"] = body[0]
            found["kubeconfig client key (last full line)"] = body[max(len(body) - 2, 0)]
    return found
