"""``kookoo config TARGET``: print the settings an app runs with in this environment, each
with where it came from (an argument, a ``KOOKOO_*`` variable, the default), secrets masked.

What the settings are and how they are shown is the web layer's (:func:`show_settings` is the
one place this command asks it); this module only loads the app and prints."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kookoo.cli.common import EXIT_OK, Subparsers
from kookoo.cli.target import load_kookoo

if TYPE_CHECKING:
    from kookoo.web.app import KooKoo

__all__ = ["add_parser", "show_settings"]


def add_parser(subparsers: Subparsers) -> None:
    """Register ``kookoo config``."""
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


def show_settings(app: KooKoo) -> str:
    """The text ``kookoo config`` prints for ``app``: one line per setting."""
    from kookoo.web.config import describe, format_settings

    return format_settings(describe(app))


def _cmd_config(args: argparse.Namespace) -> int:
    print(show_settings(load_kookoo(args.target)))
    return EXIT_OK
