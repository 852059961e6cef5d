"""Command line: `python -m devplatform up|down|status|wheels`.

Progress goes to stderr through logging; `up` and `status` print the status table on
stdout. Exit code 1 means a component failed (the message says which, why and what to
do); `status` exits 3 when some component is not running.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from devplatform import control, report
from devplatform.processes import PlatformError
from liveline import settings
from liveline.images import wheels
from liveline.modelstore import select as modelstore_select
from liveline.modelstore.base import ModelStoreError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devplatform", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the engine, registry and Azurite; build the base image")
    down = sub.add_parser("down", help="stop what liveline started (never external services)")
    down.add_argument("components", nargs="*", help=f"some of {', '.join(control.SERVICES)}")
    sub.add_parser("status", help="one line per component")
    wh = sub.add_parser("wheels", help="download cp311 wheels for a hashed requirements file")
    wh.add_argument("requirements", type=Path)
    wh.add_argument("dest", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The Azure SDK logs every HTTP request at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        if args.command == "up":
            print(report.table(control.up()))
        elif args.command == "down":
            stopped = control.down(components=args.components or None)
            logging.getLogger(__name__).info("stopped: %s", ", ".join(stopped) or "nothing")
        elif args.command == "status":
            rows = control.status()
            print(report.table(rows))
            s = settings.load()
            try:
                print(f"\nmodel store: {s.model_store} ({modelstore_select.location(s)})")
            except ModelStoreError as e:
                print(f"\nmodel store: {e}")
                return 3
            return 0 if all(r.running for r in rows) else 3
        else:
            wheels.ensure_wheels(args.requirements, args.dest)
    except PlatformError as e:
        print(f"devplatform {args.command} failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
