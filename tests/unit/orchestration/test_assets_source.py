"""app_source and its git queries on a throwaway repository: which commit gets recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, instance_for_test, materialize

from liveline import git as gitrepo
from liveline.constants import COMMIT_TAG
from orchestration.assets.image import app_source
from tests.support.gitrepo import git


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """Two commits on branch trunk: "first" (with a body) and "second"."""
    monkeypatch.delenv("LIVELINE_APP_BRANCH", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "trunk")
    (repo / "a").write_text("1")
    git(repo, "add", "a")
    git(repo, "commit", "-qm", "first\n\nwith a body")
    (repo / "a").write_text("2")
    git(repo, "commit", "-qam", "second")
    return repo


def recorded(repo: Path, config: dict | None = None, tags: dict | None = None) -> dict:
    run_config = {"ops": {"app_source": {"config": {"repo": str(repo), **(config or {})}}}}
    with instance_for_test() as instance:
        assert materialize(
            [app_source], instance=instance, run_config=run_config, tags=tags
        ).success
        event = instance.get_latest_materialization_event(AssetKey("app_source"))
        metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
        return {
            **metadata,
            "data_version": event.asset_materialization.tags["dagster/data_version"],
        }


def test_git_resolves_branch_heads_and_commits(repo):
    first = git(repo, "rev-parse", "HEAD~1")
    assert gitrepo.checked_out_branch(repo) == "trunk"
    head = gitrepo.resolve(repo, "trunk")
    assert head.sha == git(repo, "rev-parse", "HEAD") and head.message == "second"
    assert head.author == "Liveline tests <tests@liveline.invalid>"
    old = gitrepo.resolve(repo, first[:10])
    assert old.sha == first and old.message == "first\n\nwith a body"
    git(repo, "checkout", "-q", "--detach", first)
    assert gitrepo.checked_out_branch(repo) == "main"
    with pytest.raises(gitrepo.GitError, match="has no commit 'nope'"):
        gitrepo.resolve(repo, "nope")
    with pytest.raises(gitrepo.GitError, match="not a git revision"):
        gitrepo.resolve(repo, "--output=/tmp/x")


def test_app_source_records_the_head_of_the_checked_out_branch(repo):
    facts = recorded(repo)
    head = git(repo, "rev-parse", "HEAD")
    assert facts["sha"] == facts["data_version"] == head
    assert (facts["branch"], facts["message"]) == ("trunk", "second")
    assert facts["repository"] == str(repo)
    assert facts["date"] == git(repo, "show", "-s", "--format=%cI", head)


def test_app_source_takes_a_commit_from_config_or_run_tag(repo):
    first = git(repo, "rev-parse", "HEAD~1")
    assert recorded(repo, {"commit": first[:8]})["sha"] == first
    assert recorded(repo, tags={COMMIT_TAG: first})["sha"] == first
    # Config is explicit, so it beats the tag.
    head = git(repo, "rev-parse", "HEAD")
    assert recorded(repo, {"commit": "trunk"}, tags={COMMIT_TAG: first})["sha"] == head


def test_app_source_follows_a_configured_branch(repo, monkeypatch):
    git(repo, "branch", "release", "HEAD~1")
    assert recorded(repo, {"branch": "release"})["message"].startswith("first")
    monkeypatch.setenv("LIVELINE_APP_BRANCH", "release")
    assert recorded(repo)["branch"] == "release"


def test_app_source_fails_naming_an_unknown_commit(repo):
    run_config = {"ops": {"app_source": {"config": {"repo": str(repo), "commit": "v9"}}}}
    with instance_for_test() as instance:
        result = materialize(
            [app_source], instance=instance, run_config=run_config, raise_on_error=False
        )
        (failure,) = result.get_step_failure_events()
        assert "has no commit 'v9'" in str(failure.event_specific_data.error)
