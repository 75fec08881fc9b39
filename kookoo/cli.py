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

Each subcommand is one ``_add_<name>_parser(subparsers)`` function, which registers its
arguments and sets ``func`` to a ``_cmd_<name>(args) -> int``; :func:`main` dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from kookoo.lint import RULES, Finding, has_errors, lint

__all__ = ["format_finding", "main"]

PROG = "kookoo"
#: Exit statuses shared by the subcommands.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STDIN_NAME = "<stdin>"

_Command = Callable[[argparse.Namespace], int]


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
    command: _Command = args.func
    return command(args)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Tools for KooKoo (Ozonetel) IVR apps built with kookoo."
    )
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    _add_lint_parser(subparsers)
    return parser


# -- kookoo lint -------------------------------------------------------------------------------


def _add_lint_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    codes = "\n".join(f"  {code}  {sev:<7}  {title}" for code, (sev, title) in RULES.items())
    parser = subparsers.add_parser(
        "lint",
        help="check KooKoo XML replies",
        description=(
            "Check KooKoo XML replies and print FILE:LINE: CODE message for each finding. "
            "Exit 0 when there are no errors, 1 otherwise, 2 on usage errors."
        ),
        epilog="rules:\n" + codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="XML file, or - for stdin")
    parser.add_argument("--strict", action="store_true", help="fail on warnings too (exit 1)")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the findings that fail the run (errors; with --strict, all)",
    )
    parser.set_defaults(func=_cmd_lint)


def _cmd_lint(args: argparse.Namespace) -> int:
    strict: bool = args.strict
    quiet: bool = args.quiet
    unreadable = False
    errors = warnings = 0
    for name in args.files:
        try:
            data, shown = _read(name)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            print(f"{PROG} lint: cannot read {name}: {reason}", file=sys.stderr)
            unreadable = True
            continue
        for finding in lint(data):
            if finding.severity == "error":
                errors += 1
            else:
                warnings += 1
            if quiet and not has_errors([finding], strict=strict):
                continue
            print(format_finding(shown, finding))
    if (errors or warnings) and not quiet:
        print(
            f"{PROG} lint: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}",
            file=sys.stderr,
        )
    if unreadable:
        return EXIT_USAGE
    failed = errors > 0 or (strict and warnings > 0)
    return EXIT_FAILED if failed else EXIT_OK


def format_finding(name: str, finding: Finding) -> str:
    """One output line: ``FILE:LINE: CODE message`` (``LINE`` is 0 when unknown)."""
    line = 0 if finding.line is None else finding.line
    return f"{name}:{line}: {finding.code} {finding.message}"


def _read(name: str) -> tuple[bytes, str]:
    if name == "-":
        return sys.stdin.buffer.read(), STDIN_NAME
    return Path(name).read_bytes(), name


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
