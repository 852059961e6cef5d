"""Push notifications: each sender's shared secret is checked, and each payload is read
down to the branch that moved (GitHub push events and Azure Repos service hooks as their
documentation shows them; Liveline's own notifiers)."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from liveline import settings, webhooks

KEY = "s3cret"


def github_push(ref: str = "refs/heads/main", deleted: bool = False) -> bytes:
    return json.dumps({"ref": ref, "before": "a" * 40, "after": "b" * 40, "deleted": deleted,
                       "repository": {"full_name": "team/app"}}).encode()  # fmt: skip


def azure_push(*updates: tuple[str, str]) -> bytes:
    return json.dumps({"eventType": "git.push", "resource": {"refUpdates": [
        {"name": name, "oldObjectId": "1" * 40, "newObjectId": new} for name, new in updates
    ]}}).encode()  # fmt: skip


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_body_signed_with_the_secret_is_accepted_and_any_other_refused():
    body = github_push()
    webhooks.verify_signature(body, webhooks.sign(body, KEY), KEY, webhooks.GITHUB_SIGNATURE)
    for header in (None, "", webhooks.sign(body, "other"), webhooks.sign(body + b" ", KEY),
                   webhooks.sign(body, KEY).replace("sha256=", "sha1=")):  # fmt: skip
        with pytest.raises(webhooks.Unauthorized, match=r"shared secret|sign the body"):
            webhooks.verify_signature(body, header, KEY, webhooks.GITHUB_SIGNATURE)


def test_azure_repos_basic_authentication_needs_the_secret_as_password():
    webhooks.verify_basic(basic("liveline", KEY), KEY)
    for header in (None, "", basic("liveline", "wrong"), "Bearer x", "Basic !!notbase64"):
        with pytest.raises(webhooks.Unauthorized):
            webhooks.verify_basic(header, KEY)


def test_a_github_push_names_its_branch_and_head_and_other_events_nothing():
    (notice,) = webhooks.github("push", github_push())
    assert (notice.kind, notice.source, notice.branch, notice.head) == (
        "commit", "github", "main", "b" * 40)  # fmt: skip
    assert webhooks.github("ping", b'{"zen": "x"}') == []
    assert webhooks.github("push", github_push("refs/tags/v1")) == []
    assert webhooks.github("push", github_push(deleted=True)) == []
    with pytest.raises(webhooks.BadNotification, match="not JSON"):
        webhooks.github("push", b"<xml/>")


def test_an_azure_repos_push_names_each_branch_pushed_but_not_deleted_ones():
    notices = webhooks.azure_repos(azure_push(
        ("refs/heads/main", "c" * 40), ("refs/heads/gone", "0" * 40), ("refs/tags/v2", "d" * 40)
    ))  # fmt: skip
    assert [(n.branch, n.head) for n in notices] == [("main", "c" * 40)]
    assert webhooks.azure_repos(b'{"eventType": "git.pullrequest.created"}') == []


def test_local_notices_are_commits_or_models_only():
    (notice,) = webhooks.local(webhooks.body_for("model"))
    assert notice.kind == "model"
    with pytest.raises(webhooks.BadNotification, match="kind"):
        webhooks.local(b'{"kind": "rm -rf"}')


def test_the_generated_secret_is_kept_private_and_reused(tmp_path):
    s = settings.load({"LIVELINE_STATE_DIR": str(tmp_path)})
    first = webhooks.secret(s)
    assert len(first) == 64 and webhooks.secret(s) == first
    assert stat.S_IMODE((tmp_path / "webhook-secret").stat().st_mode) == 0o600
    given = settings.load(
        {"LIVELINE_STATE_DIR": str(tmp_path), "LIVELINE_WEBHOOK_SECRET": "hush-4f2a"}
    )
    assert webhooks.secret(given) == "hush-4f2a" and "hush-4f2a" not in repr(given)
