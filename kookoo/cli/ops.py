"""``kookoo check`` and ``kookoo config``: an app's deployment, checked and shown (the rest of
the ``kookoo`` command is :mod:`kookoo.cli`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kookoo.cli.main import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    _load_target,
    _plural,
    _UsageError,
)

__all__ = ["add_check_parser", "add_config_parser"]

# -- kookoo check ------------------------------------------------------------------------------


def add_check_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kookoo check TARGET``."""
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

    app = _load_kookoo(args.target, "check")
    if app is None:
        return EXIT_USAGE
    problems = check_app(app)
    for problem in problems:
        print(f"{args.target}: {problem.kind}: {problem.message}")
    if uses_call_state(app) and not any(p.kind == "store" for p in problems):
        print(f"{args.target}: store: {app.store.name}: reads and writes")
    elif not uses_call_state(app):
        print(f"{args.target}: store: not used (no handler keeps call state)")
    handlers = len(app.routes())
    if not any(p.kind == "handlers" for p in problems):
        print(f"{args.target}: handlers: {_plural(handlers, 'handler')}, no problems")
    if problems:
        print(f"{PROG} check: {_plural(len(problems), 'problem')}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _load_kookoo(target: str, command: str) -> Any:
    """The KooKoo app TARGET names, or ``None`` after saying why on stderr."""
    from kookoo.web.app import KooKoo

    try:
        app = _load_target(target)
    except _UsageError as exc:
        print(f"{PROG} {command}: {exc}", file=sys.stderr)
        return None
    if not isinstance(app, KooKoo):
        print(f"{PROG} {command}: {target} is not a kookoo app", file=sys.stderr)
        return None
    return app


# -- kookoo config -----------------------------------------------------------------------------


def add_config_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kookoo config TARGET``."""
    parser = subparsers.add_parser(
        "config",
        help="print the settings an app runs with, secrets masked",
        description=(
            "Print the settings TARGET runs with in this environment: each value and where it "
            "came from (an argument, a KOOKOO_* variable, or the default). Secrets are masked."
        ),
    )
    parser.add_argument("target", metavar="TARGET")
    parser.set_defaults(func=_cmd_config)


def _cmd_config(args: argparse.Namespace) -> int:
    from kookoo.web.config import describe, format_settings

    app = _load_kookoo(args.target, "config")
    if app is None:
        return EXIT_USAGE
    print(format_settings(describe(app)))
    return EXIT_OK
