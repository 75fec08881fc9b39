"""What every ``kookoo`` subcommand shares: the program name, the exit statuses, the usage
error and a few words of output. The command modules import from here (and from
:mod:`kookoo.cli.target`), never from each other."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeAlias

from kookoo.core.errors import KooKooError

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "Command",
    "Subparsers",
    "UsageError",
    "plural",
    "print_error",
]

PROG = "kookoo"
"""The program name every message starts with."""

EXIT_OK = 0
"""Exit status: the command did what it was asked."""
EXIT_FAILED = 1
"""Exit status: the command ran and found something wrong (lint errors, a failing call...)."""
EXIT_USAGE = 2
"""Exit status: a bad command line (also argparse's), or a TARGET that cannot be loaded."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""
EXIT_BROKEN_PIPE = 141
"""What a command killed by SIGPIPE exits with (128 + 13): standard output was closed."""

Command: TypeAlias = Callable[[argparse.Namespace], int]
"""A subcommand's body: the parsed arguments in, the exit status out."""

# argparse's subparsers action is generic only in typeshed, not at run time: a string alias.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``ArgumentParser.add_subparsers()`` returns; each command module's ``add_parser``
takes it."""


class UsageError(KooKooError):
    """A bad command line (exit status 2); the message is printed after the command name.

    A command may let it escape: :func:`kookoo.cli.main` prints ``kookoo COMMAND: message``
    on standard error and exits with :data:`EXIT_USAGE`.
    """


def print_error(command: str, message: object) -> None:
    """Print ``kookoo COMMAND: message`` on standard error."""
    print(f"{PROG} {command}: {message}", file=sys.stderr)


def plural(count: int, noun: str) -> str:
    """``1 error``, ``2 errors``, ``0 errors``.

    >>> plural(1, "error"), plural(2, "warning")
    ('1 error', '2 warnings')
    """
    return f"{count} {noun}" + ("" if count == 1 else "s")
