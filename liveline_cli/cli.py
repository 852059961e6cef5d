"""The `liveline` command: one entry point for the project's tools."""

from __future__ import annotations

import importlib
import sys

# Each subcommand is a module with a `main(argv) -> int`, imported only when used so
# that `liveline train` does not pay for importing the platform code and vice versa.
COMMANDS = {
    "train": ("liveline_cli.train", "train the declared model, write model.skops + card"),
    "platform": ("devplatform.__main__", "up | down | status of the local platform"),
    "publish": ("liveline_cli.publish", "publish a model to blob storage, or --list them"),
    "status": ("liveline_cli.status", "what is live in the cluster, and its lineage"),
    "rollback": ("liveline_cli.rollback", "roll the previous verified release out"),
    "demo": ("liveline_cli.demo", "train, build the serving image, run it and score"),
    "hooks": ("liveline_cli.hooks", "install the git hooks that start releases at once"),
    "receiver": ("liveline_cli.receiver", "receive push notifications (GitHub, Azure Repos)"),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        lines = [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
        usage = "usage: liveline COMMAND [ARGS]\n\ncommands:\n" + "\n".join(lines)
        if args and args[0] not in ("-h", "--help"):
            print(f"liveline: unknown command {args[0]!r}\n\n{usage}", file=sys.stderr)
            return 2
        print(usage)
        return 0
    module, _, function = COMMANDS[args[0]][0].partition(":")
    return getattr(importlib.import_module(module), function or "main")(args[1:])


if __name__ == "__main__":
    sys.exit(main())
