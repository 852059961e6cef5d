"""Push notifications: a commit pushed to a hosted repository (GitHub push events, Azure
Repos service hooks), a local commit (the git hook of `liveline hooks install`) or a
model just published (`liveline publish`), verified and reduced to what the release
sensor watches. The receiver (liveline_cli.receiver) asks the sensor to evaluate at once;
nothing here decides a release.

Verification: GitHub signs the body with the shared secret (HMAC-SHA256 in
X-Hub-Signature-256), and so do Liveline's own notifiers (X-Liveline-Signature-256);
Azure Repos service hooks send it as the password of HTTP basic authentication (their
only form of shared secret). Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liveline.settings import Settings

GITHUB_SIGNATURE = "X-Hub-Signature-256"
LIVELINE_SIGNATURE = "X-Liveline-Signature-256"
KINDS = ("commit", "model")


class Unauthorized(Exception):
    """The notification does not carry the shared secret."""


class BadNotification(ValueError):
    """The body is not a notification Liveline reads; the message says what is wrong."""


@dataclass(frozen=True)
class Notice:
    """Something the release sensor watches may have changed."""

    kind: str  # "commit" or "model"
    source: str  # "github", "azure-repos" or "local"
    branch: str = ""  # for commits: the branch that moved
    head: str = ""  # for commits: its new head, when the sender says


def secret(s: Settings) -> str:
    """The shared secret: LIVELINE_WEBHOOK_SECRET, else one generated for this machine
    into the state folder (readable by its owner only), which local notifiers read too."""
    if s.webhook_secret:
        return s.webhook_secret
    path = s.state_dir / "webhook-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a temporary name, then linked into place: of two processes
        # making one at once, one wins and both read the winner's, never half of one.
        tmp = path.with_name(f".webhook-secret.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return Path(path).read_text().strip()


def sign(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, key: str, name: str) -> None:
    if not header:
        raise Unauthorized(f"no {name} header: sign the body with the shared secret")
    if not hmac.compare_digest(header.encode(), sign(body, key).encode()):
        raise Unauthorized(f"{name} does not match the body: check the shared secret")


def verify_basic(authorization: str | None, key: str) -> None:
    """Azure Repos service hooks: basic authentication, the secret as the password."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("no basic authentication: set the service hook's password")
    try:
        _, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as e:
        raise Unauthorized("malformed basic authentication") from e
    if not hmac.compare_digest(password.encode(), key.encode()):
        raise Unauthorized("wrong password in basic authentication: check the shared secret")


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as e:
        raise BadNotification(f"the body is not JSON: {e}") from e
    if not isinstance(data, dict):
        raise BadNotification("the body is not a JSON object")
    return data


def _branch(ref: object) -> str:
    """refs/heads/<branch> -> <branch>; "" for tags and anything else."""
    if isinstance(ref, str) and ref.startswith("refs/heads/"):
        return ref.removeprefix("refs/heads/")
    return ""


def github(event: str | None, body: bytes) -> list[Notice]:
    """A GitHub webhook delivery: push events name a branch; ping and the rest, none."""
    if event != "push":
        return []
    data = _json(body)
    branch = _branch(data.get("ref"))
    if not branch or data.get("deleted"):
        return []
    return [Notice("commit", "github", branch, str(data.get("after") or ""))]


def azure_repos(body: bytes) -> list[Notice]:
    """An Azure Repos service hook of event type git.push: one notice per branch pushed."""
    data = _json(body)
    if data.get("eventType") != "git.push":
        return []
    updates = (data.get("resource") or {}).get("refUpdates") or []
    if not isinstance(updates, list):
        raise BadNotification("resource.refUpdates is not a list")
    return [
        Notice("commit", "azure-repos", branch, str(u.get("newObjectId") or ""))
        for u in updates
        if isinstance(u, dict) and (branch := _branch(u.get("name")))
        and set(str(u.get("newObjectId") or "1")) != {"0"}  # a deleted branch: all zeros
    ]  # fmt: skip


def local(body: bytes) -> list[Notice]:
    """Liveline's own notifiers: {"kind": "commit", "branch": ...} or {"kind": "model"}."""
    data = _json(body)
    kind = data.get("kind")
    if kind not in KINDS:
        raise BadNotification(f"kind is {kind!r}; one of {list(KINDS)}")
    return [Notice(str(kind), "local", str(data.get("branch") or ""), str(data.get("head") or ""))]


def body_for(kind: str, branch: str = "", head: str = "") -> bytes:
    return json.dumps({"kind": kind, "branch": branch, "head": head}).encode()


def notify(s: Settings, kind: str, branch: str = "", head: str = "", timeout: float = 2) -> str:
    """Tell the local receiver (`make dev`) that a commit was made or a model published;
    what happened, in a few words. Never raises: without a receiver, the polling sensor
    sees the change at its next tick."""
    import requests  # only here: the module's other users need no HTTP client

    body = body_for(kind, branch, head)
    url = f"http://127.0.0.1:{s.webhook_port}/hooks/local"
    try:
        headers = {LIVELINE_SIGNATURE: sign(body, secret(s)), "Content-Type": "application/json"}
        r = requests.post(url, data=body, timeout=timeout, headers=headers)
    except requests.RequestException:
        return f"no receiver at {url}; the release sensor's poll will see it"
    return f"receiver at {url} answered {r.status_code}: {r.text.strip()[:200]}"
