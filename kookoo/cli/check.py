"""``kookoo check TARGET``: check an app before serving it (:mod:`kookoo.web.checks`): its
call store can be read and written, no handler names a step nobody serves, no route is
shadowed. Exit status ``1`` when anything is wrong."""

from __future__ import annotations

import argparse
import sys

from kookoo.cli.common import EXIT_FAILED, EXIT_OK, PROG, Subparsers, plural
from kookoo.cli.target import load_kookoo

__all__ = ["add_parser"]


def add_parser(subparsers: Subparsers) -> None:
    """Register ``kookoo check``."""
    parser = subparsers.add_parser(
        "check",
        help="check an app before serving it: store, handlers, routes",
        description=(
            "Load TARGET (module:app or path/to/file.py[:app]) with the settings of this "
            "environment and check that its call store can be read and written and that its "
            "handler table has no step nobody serves and no shadowed route. Exit 0 when all "
            "is well, 1 when something is wrong, 2 when TARGET cannot be loaded."
        ),
    )
    parser.add_argument("target", metavar="TARGET")
    parser.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from kookoo.web.checks import check_app, uses_call_state

    app = load_kookoo(args.target)
    problems = check_app(app)
    for problem in problems:
        print(f"{args.target}: {problem.kind}: {problem.message}")
    if uses_call_state(app) and not any(p.kind == "store" for p in problems):
        # Read only here: for an app without call state, reading app.store would create the
        # default SQLite file.
        store = app.store
        print(f"{args.target}: store: {getattr(store, 'name', store)}: reads and writes")
    elif not uses_call_state(app):
        print(f"{args.target}: store: not used (no handler keeps call state)")
    handlers = len(app.routes())
    if not any(p.kind == "handlers" for p in problems):
        print(f"{args.target}: handlers: {plural(handlers, 'handler')}, no problems")
    if problems:
        print(f"{PROG} check: {plural(len(problems), 'problem')}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
