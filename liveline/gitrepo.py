"""Read-only git queries for app_source: which commit to build, and who made it when.

Plain library code (no Dagster); nothing here touches a working tree.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BRANCH = "main"
GIT_TIMEOUT_S = 30


class GitError(Exception):
    """A git query failed; the message names the repository and git's own words."""


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str  # committer date, ISO 8601
    message: str


def _git(repo: Path, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=GIT_TIMEOUT_S,
        ).stdout.strip()
    except subprocess.CalledProcessError as e:
        raise GitError(f"git {' '.join(args)} in {repo} failed: {e.stderr.strip()}") from e
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GitError(f"git {' '.join(args)} in {repo} did not run: {e}") from e


def checked_out_branch(repo: Path) -> str:
    """The branch checked out in repo, or main when HEAD is detached."""
    try:
        return _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    except GitError:
        return DEFAULT_BRANCH


def resolve(repo: Path, revision: str) -> Commit:
    """The commit a branch, tag or sha names, with its author, date and message."""
    if not revision or revision.startswith("-"):
        raise GitError(f"{revision!r} is not a git revision")
    try:
        sha = _git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except GitError as e:
        raise GitError(f"{repo} has no commit {revision!r}") from e
    fields = _git(repo, "show", "-s", "--format=%an <%ae>%x00%cI%x00%B", sha).split("\0", 2)
    author, date, message = fields
    return Commit(sha=sha, author=author, date=date, message=message.strip())
