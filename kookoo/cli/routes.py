"""``kookoo routes TARGET``: print an app's handler table (route, event, step, handler) and
whether its shared secret is on."""

from __future__ import annotations

import argparse

from kookoo.cli.common import EXIT_OK, Subparsers, UsageError
from kookoo.cli.target import load_target

__all__ = ["add_parser"]


def add_parser(subparsers: Subparsers) -> None:
    """Register ``kookoo routes``."""
    parser = subparsers.add_parser(
        "routes",
        help="list an app's routes, events, steps and handlers",
        description="Print the handler table of TARGET (module:app or path/to/file.py[:app]).",
    )
    parser.add_argument("target", metavar="TARGET")
    parser.set_defaults(func=_cmd_routes)


def _cmd_routes(args: argparse.Namespace) -> int:
    app = load_target(args.target)
    # Duck-typed: any object with a routes() table is listed, not only a KooKoo.
    routes = getattr(app, "routes", None)
    if not callable(routes):
        raise UsageError(f"{args.target} is not a kookoo app")
    rows = [("ROUTE", "EVENT", "STEP", "HANDLER")]
    rows += [(r, e or "Continue", s or "-", h) for r, e, s, h in routes()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]))
    secret = getattr(app, "secret", None)
    if secret is not None:
        count = len(secret.secrets)
        print(
            f"secret: on ({count} active secret{'s' if count > 1 else ''}); KooKoo's URL needs "
            "?kk_token=<secret> or /<secret>/ in front of the path"
        )
    else:
        print("secret: off (anyone who can reach the URL drives calls; set KOOKOO_SECRET)")
    return EXIT_OK
