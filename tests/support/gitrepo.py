"""git for tests: the library's one runner, with a test identity for commits."""

from __future__ import annotations

from pathlib import Path

from liveline import git as git_runner

IDENTITY = ("-c", "user.name=Liveline tests", "-c", "user.email=tests@liveline.invalid")


def git(repo: Path, *args: str) -> str:
    """git -C repo ARGS as a test user; its stripped output (GitError when it fails)."""
    return git_runner.run(Path(repo), *IDENTITY, *args, timeout=60)
