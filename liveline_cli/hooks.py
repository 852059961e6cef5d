"""`liveline hooks install`: a git hook in the watched repository that tells the local
receiver (`make dev`) of every commit, so the release starts at once instead of at the
sensor's next poll. Installed only by this command, never behind the user's back, and
never over a hook of someone else's: it says what is there and how to chain it.

`liveline hooks notify commit|model` is what the hook runs (in the background, so that a
commit does not wait for it).
"""

from __future__ import annotations

import argparse
import shlex
import stat
import sys
from pathlib import Path

from liveline import git, settings, webhooks

MARK = "# Installed by `liveline hooks install`"
HOOKS = ("post-commit", "post-merge")  # a commit, and a pull or merge into the branch


def script(python: str, s: settings.Settings) -> str:
    """The hook: the settings it needs (where the receiver listens, where the shared
    secret is) fixed at install time, since a commit's environment has none of them."""
    env = {settings.env_name("webhook_port"): str(s.webhook_port),
           settings.env_name("state_dir"): str(s.state_dir)}  # fmt: skip
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # -I: not the repository's own packages (it may hold a `liveline` of another version).
    command = shlex.join([python, "-I", "-m", "liveline_cli.hooks", "notify", "commit"])
    return (
        "#!/bin/sh\n"
        f"{MARK}: tells Liveline's receiver that the branch moved.\n"
        f'{assignments} {command} --repo "$(git rev-parse --show-toplevel)" '
        ">/dev/null 2>&1 &\n"
    )


def install(repo: Path, s: settings.Settings) -> list[str]:
    """Install the hooks in repo; what was done, one line per hook."""
    hooks_dir = Path(git.run(repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks"))
    hooks_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for name in HOOKS:
        path = hooks_dir / name
        if path.exists() and MARK not in path.read_text(errors="replace"):
            raise SystemExit(
                f"{path} exists and is not Liveline's: add this line to it instead:\n"
                f"  {sys.executable} -I -m liveline_cli.hooks notify commit --repo {repo} &"
            )
        path.write_text(script(sys.executable, s))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        done.append(f"installed {path}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liveline hooks")
    sub = parser.add_subparsers(dest="action", required=True)
    inst = sub.add_parser("install", help="git hooks that notify the receiver of commits")
    inst.add_argument(
        "--repo",
        type=Path,
        help="the watched repository (default: LIVELINE_WATCH_REPO, else the app repository)",
    )
    note = sub.add_parser("notify", help="tell the receiver that a commit or model is new")
    note.add_argument("kind", choices=webhooks.KINDS)
    note.add_argument("--repo", type=Path, help="for a commit: the repository")
    args = parser.parse_args(argv)
    s = settings.load()
    if args.action == "install":
        repo = args.repo or Path(s.watch_repo or s.app_repo)
        print("\n".join(install(repo.resolve(), s)))
        return 0
    branch = head = ""
    if args.kind == "commit" and args.repo:
        branch = git.checked_out_branch(args.repo)
        head = git.run(args.repo, "rev-parse", "HEAD")
    print(webhooks.notify(s, args.kind, branch, head))
    return 0


if __name__ == "__main__":
    sys.exit(main())
