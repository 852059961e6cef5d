"""What changed on a watched git branch since the release sensor last looked.

Plain library code (no Dagster), every git call bounded by a timeout (liveline.git). A
local repository is read in place; a remote one (a URL, or user@host:path) is fetched into
a bare cache in the state folder, and the build reads the commit from that cache.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from liveline.git import GitError, run

# A sensor tick times out after 60 s: a fetch gets half of it; the other calls (three at
# most per tick) take milliseconds.
GIT_TIMEOUT_S = 10
FETCH_TIMEOUT_S = 30
SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
# What happened to the branch; the first two kinds ask for a build.
REWRITTEN, ADVANCED, UNRELATED, UNCHANGED, FIRST = (
    "rewritten", "advanced", "advanced outside the watched paths", "unchanged", "first look"
)  # fmt: skip


@dataclass(frozen=True)
class Change:
    head: str  # the branch head now
    build: str  # the commit to build: the head, or the last one that touched the paths
    kind: str

    @property
    def wants_build(self) -> bool:
        return self.kind in (REWRITTEN, ADVANCED)


def is_remote(source: str) -> bool:
    return "://" in source or bool(SCP_LIKE.match(source))


def redact(source: str) -> str:
    """source without a password or token in its URL, fit for logs and cursors."""
    if "://" not in source:
        return source
    parts = urlsplit(source)
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


def cache_path(cache_root: Path, source: str) -> Path:
    """A cache folder per remote: readable name plus a hash of the full URL."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", source.rstrip("/").rsplit("/", 1)[-1])
    return cache_root / f"{name.removesuffix('.git')[:40]}-{_sha(source)[:16]}.git"


def checkout(source: str, branch: str, cache_root: Path) -> Path:
    """The repository to read: source itself, or its cache after fetching branch."""
    if source.startswith("-") or branch.startswith("-") or not branch:
        raise GitError(f"refusing to watch {redact(source)!r} branch {branch!r}")
    if not is_remote(source):
        return Path(source).expanduser().resolve()
    repo = cache_path(cache_root, source)
    if not (repo / "HEAD").is_file():
        repo.parent.mkdir(parents=True, exist_ok=True)
        run(Path.cwd(), "init", "--quiet", "--bare", str(repo))
    refspec = f"+refs/heads/{branch}:refs/heads/{branch}"
    try:
        run(repo, "fetch", "--quiet", "--no-tags", source, refspec, timeout=FETCH_TIMEOUT_S)
    except GitError as e:  # git may echo the URL, credentials included
        raise GitError(str(e).replace(source, redact(source))) from None
    return repo


def head(repo: Path, branch: str) -> str:
    return run(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}")


def poll(repo: Path, branch: str, paths: tuple[str, ...], last: str, last_build: str) -> Change:
    """Compare the branch head with the head seen last (empty: never looked before)."""
    now = head(repo, branch)
    if not last:
        return Change(now, now, FIRST)
    if now == last:
        return Change(now, last_build or now, UNCHANGED)
    if not _is_ancestor(repo, last, now):  # a force push, or the old head is gone
        return Change(now, now, REWRITTEN)
    if not paths or run(repo, "diff", "--name-only", last, now, "--", *paths):
        return Change(now, now, ADVANCED)
    return Change(now, last_build or last, UNRELATED)


def parse_paths(text: str) -> tuple[str, ...]:
    """ "serving/,k8s/" -> ("serving/", "k8s/"); git pathspecs from the repository root."""
    return tuple(f":(top){p.strip()}" for p in text.split(",") if p.strip())


def _is_ancestor(repo: Path, old: str, new: str) -> bool:
    try:
        run(repo, "merge-base", "--is-ancestor", old, new)
    except GitError:
        return False  # not an ancestor (exit 1), or no such commit any more (exit 128)
    return True


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
