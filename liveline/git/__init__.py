"""The one git runner, and the read-only queries built on it.

Which commit to build and who made it when (app_source), the tree of a commit (the image
build context), and what changed on a watched branch (`liveline.git.watch`). Every call
is bounded by a timeout and never waits for a password; nothing touches a working tree.
"""

from __future__ import annotations

import os
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


def run(repo: Path, *args: str, timeout: float = GIT_TIMEOUT_S) -> str:
    """git -C repo ARGS, its stripped standard output; GitError naming the repository,
    the command and git's own words when it fails or takes over timeout seconds."""
    return run_bytes(repo, *args, timeout=timeout).decode(errors="replace").strip()


def head_or_none(repo: Path) -> str | None:
    """The commit checked out in the repository around repo, if it is one (lineage)."""
    try:
        return run(repo, "rev-parse", "--verify", "HEAD") or None
    except GitError:
        return None


def run_bytes(repo: Path, *args: str, timeout: float = GIT_TIMEOUT_S) -> bytes:
    shown = " ".join(args)
    # Never wait for a password: a sensor or a build has nobody to type it.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            check=True,
            timeout=timeout,
            env=env,
        ).stdout
    except subprocess.CalledProcessError as e:
        why = e.stderr.decode(errors="replace").strip()
        raise GitError(f"git {shown} in {repo} failed: {why}") from e
    except subprocess.TimeoutExpired as e:
        raise GitError(f"git {shown} in {repo} took over {timeout:.0f} s") from e
    except OSError as e:
        raise GitError(f"git {shown} in {repo} did not run: {e}") from e


def has_path(repo: Path, sha: str, path: str) -> bool:
    """Whether the commit's tree holds path (a file or folder)."""
    return bool(run(repo, "ls-tree", "--name-only", sha, "--", path))


def archive(repo: Path, sha: str, paths: tuple[str, ...], timeout: float = 60) -> bytes:
    """A tar of paths at sha (`git archive`)."""
    return run_bytes(repo, "archive", "--format=tar", sha, *paths, timeout=timeout)


def checked_out_branch(repo: Path) -> str:
    """The branch checked out in repo, or main when HEAD is detached."""
    try:
        return run(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    except GitError:
        return DEFAULT_BRANCH


def resolve(repo: Path, revision: str) -> Commit:
    """The commit a branch, tag or sha names, with its author, date and message."""
    if not revision or revision.startswith("-"):
        raise GitError(f"{revision!r} is not a git revision")
    try:
        sha = run(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except GitError as e:
        raise GitError(f"{repo} has no commit {revision!r}") from e
    fields = run(repo, "show", "-s", "--format=%an <%ae>%x00%cI%x00%B", sha).split("\0", 2)
    author, date, message = fields
    return Commit(sha=sha, author=author, date=date, message=message.strip())
