"""``kookoo lint FILE... | -``: check KooKoo XML replies (:mod:`kookoo.xml.lint`) and print
one ``FILE:LINE: CODE message`` line per finding, a summary on standard error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kookoo.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG, Subparsers, plural
from kookoo.xml.lint import RULES, Finding, has_errors, lint

__all__ = ["STDIN_NAME", "add_parser", "format_finding"]

STDIN_NAME = "<stdin>"
"""How findings name standard input (``-``)."""


def add_parser(subparsers: Subparsers) -> None:
    """Register ``kookoo lint``."""
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
            f"{PROG} lint: {plural(errors, 'error')}, {plural(warnings, 'warning')}",
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
