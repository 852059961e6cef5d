"""What the release sensor sees on a git branch, on throwaway repositories: new commits,
the path filter, rewritten history, and remote repositories fetched into a cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from liveline.git import GitError
from liveline.git import watch as git_watch
from tests.support.gitrepo import git

PATHS = git_watch.parse_paths("serving/,k8s/")


def commit(repo: Path, path: str, text: str, message: str = "change") -> str:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "serving/app.py", "v1", "first")
    return repo


def test_first_look_sets_the_baseline_without_a_build(repo):
    change = git_watch.poll(repo, "main", PATHS, "", "")
    assert change.kind == git_watch.FIRST and not change.wants_build
    assert change.head == change.build == git(repo, "rev-parse", "HEAD")


def test_a_commit_under_a_watched_path_asks_for_a_build_of_that_commit(repo):
    first = git(repo, "rev-parse", "HEAD")
    second = commit(repo, "k8s/base/deployment.yaml", "replicas: 3")
    change = git_watch.poll(repo, "main", PATHS, first, first)
    assert (change.kind, change.head, change.build) == (git_watch.ADVANCED, second, second)
    assert change.wants_build
    again = git_watch.poll(repo, "main", PATHS, second, second)
    assert again.kind == git_watch.UNCHANGED and not again.wants_build


def test_commits_outside_the_watched_paths_advance_without_a_build(repo):
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, "README.md", "docs")
    docs = commit(repo, "docs/serving/notes.md", "not serving/: a nested folder of that name")
    change = git_watch.poll(repo, "main", PATHS, first, first)
    assert (change.kind, change.head, change.build) == (git_watch.UNRELATED, docs, first)
    # Several commits at once: one of them under serving/ makes the head the build.
    commit(repo, "serving/app.py", "v2")
    head = commit(repo, "README.md", "more docs")
    change = git_watch.poll(repo, "main", PATHS, docs, first)
    assert (change.kind, change.build) == (git_watch.ADVANCED, head)
    # No filter: every commit builds.
    other = commit(repo, "README.md", "again")
    assert git_watch.poll(repo, "main", (), head, head).build == other


def test_a_rewritten_history_builds_the_new_head_whatever_it_touches(repo):
    commit(repo, "serving/app.py", "v2")
    old_head = commit(repo, "serving/app.py", "v3")
    git(repo, "reset", "-q", "--hard", "HEAD~2")
    new_head = commit(repo, "README.md", "force-pushed docs only")
    change = git_watch.poll(repo, "main", PATHS, old_head, old_head)
    assert (change.kind, change.head, change.build) == (git_watch.REWRITTEN, new_head, new_head)
    # A head the repository never had counts as rewritten too.
    gone = git_watch.poll(repo, "main", PATHS, "f" * 40, "f" * 40)
    assert gone.kind == git_watch.REWRITTEN


def test_a_remote_is_fetched_into_a_cache_and_read_there(repo, tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(remote)], check=True)
    url = f"file://{remote}"
    cache_root = tmp_path / "state" / "git-cache"
    cache = git_watch.checkout(url, "main", cache_root)
    assert cache.parent == cache_root and cache.name.startswith("remote-")
    first = git_watch.poll(cache, "main", PATHS, "", "").head
    assert first == git(repo, "rev-parse", "HEAD")
    # Force-push a rewritten branch to the remote: the next fetch sees it.
    git(repo, "commit", "-q", "--amend", "-m", "rewritten")
    git(repo, "push", "-q", "--force", url, "main")
    cache = git_watch.checkout(url, "main", cache_root)
    change = git_watch.poll(cache, "main", PATHS, first, first)
    assert change.kind == git_watch.REWRITTEN
    assert change.head == git(repo, "rev-parse", "HEAD")
    assert git(cache, "cat-file", "-t", change.head) == "commit"  # the build reads it here


def test_git_failures_name_the_repository_and_never_leak_credentials(tmp_path):
    url = "http://user:s3cret@127.0.0.1:9/nothing.git"  # nothing listens on port 9
    with pytest.raises(GitError) as failure:
        git_watch.checkout(url, "main", tmp_path)
    assert "s3cret" not in str(failure.value)
    assert git_watch.redact(url) == "http://user@127.0.0.1:9/nothing.git"
    with pytest.raises(GitError, match="no-such-branch"):
        git_watch.head(tmp_path, "no-such-branch")
    with pytest.raises(GitError, match="refusing"):
        git_watch.checkout("--upload-pack=evil", "main", tmp_path)


def test_remote_or_local():
    assert git_watch.is_remote("https://github.com/o/r.git")
    assert git_watch.is_remote("git@github.com:o/r.git")
    assert git_watch.is_remote("file:///srv/r.git")
    assert not git_watch.is_remote("/work/main")
    assert not git_watch.is_remote("relative/path")
