"""The ``kookoo`` command.

Subcommands:

``kookoo lint FILE... | -``
    Check KooKoo XML files (``-`` reads standard input) and print one line per finding::

        FILE:LINE: CODE message

    ``LINE`` is ``0`` when the position is unknown (a document too large to read).  Standard
    input is named ``<stdin>``.  Files are read as bytes, so the XML declaration decides the
    encoding.  A summary goes to standard error.  Exit status: ``0`` when there are no errors
    (warnings are allowed unless ``--strict``), ``1`` otherwise, ``2`` on usage errors (no
    files, an unreadable file).  ``--strict`` makes warnings fail too; ``--quiet`` hides the
    findings that do not affect the exit status (the warnings, unless ``--strict``).

``kookoo call TARGET [--press DIGITS ...] [--script FILE] [--json]``
    Simulate a phone call (see :mod:`kookoo.testing`) to ``module:app``,
    ``path/to/file.py[:app]`` or an http(s) URL: print what the caller hears, and ask for keys,
    recordings and dial outcomes (interactive), or take them from ``--press``, ``--record``,
    ``--dial``, ``--say``, ``--hangup``... in order, or one a line from ``--script``.  Exit
    status ``1`` when the app errs (HTTP error, invalid XML, a failing handler).

``kookoo run TARGET [--host H] [--port P] [--no-reload]``
    Serve the app with Werkzeug's development server: reload on changes, one log line per
    request.

``kookoo routes TARGET``
    Print the handler table: route, event, step, handler.

``kookoo check TARGET``
    Check an app before serving it: its call store can be read and written (the message names
    the file or server and the variable it came from), no handler names a step nobody serves,
    no route is shadowed. Exit status ``1`` when anything is wrong.

``kookoo config TARGET``
    Print the settings in effect (arguments, ``KOOKOO_*`` variables, defaults), secrets masked.

``kookoo --version`` prints the version.

``kookoo stream-call WS_URL --handler NAME [--wav FILE] [--dtmf KEYS] [--app TARGET]``
    Play a KooKoo ``<stream>`` to a running voice bot with the fake stream client and print
    what the bot sent; with ``--app``, send the ``event=Stream`` request that follows to the
    app and print its XML.

``kookoo stream-serve BOTS [--host H] [--port P]``
    Serve a ``StreamBots`` with the standalone ``websockets`` server (``kookoo[websockets]``).

Each subcommand is a module of this package (:mod:`~kookoo.cli.lint`, :mod:`~kookoo.cli.call`,
:mod:`~kookoo.cli.run`, :mod:`~kookoo.cli.routes`, :mod:`~kookoo.cli.check`,
:mod:`~kookoo.cli.config`, :mod:`~kookoo.cli.stream` for both stream commands) whose
``add_parser(subparsers)`` registers its arguments and sets ``func`` to a function of the
parsed arguments returning the exit status; :func:`main` builds the parser and dispatches.
The commands share :mod:`kookoo.cli.common` (exit statuses, the usage error) and
:mod:`kookoo.cli.target` (the one loader of ``module:app``, ``path/to/file.py[:app]``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from kookoo.cli import call, check, config, lint, routes, run, stream
from kookoo.cli.common import EXIT_BROKEN_PIPE, EXIT_USAGE, PROG, Command, UsageError, print_error
from kookoo.cli.lint import format_finding

__all__ = ["EXIT_BROKEN_PIPE", "format_finding", "main"]

#: The subcommands, in the order ``kookoo --help`` lists them.
_COMMANDS = (lint, call, run, routes, check, config, stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kookoo`` command line and return its exit status.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv[1:]``.
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits on --help (0) and on usage errors (2); return the status instead so
        # main() can be driven in-process.
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    command: Command = args.func
    try:
        status = command(args)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
    except UsageError as exc:
        print_error(args.command, exc)
        return EXIT_USAGE
    except BrokenPipeError:
        # `kookoo call ... | head`: the reader has gone; stop quietly, like other tools.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return status


def _silence_stdout() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (captured in-process): nothing will flush to the pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _build_parser() -> argparse.ArgumentParser:
    from kookoo import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="Tools for KooKoo (Ozonetel) IVR apps built with kookoo."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    for module in _COMMANDS:
        module.add_parser(subparsers)
    return parser
