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
    app and print its XML (see :mod:`kookoo.cli.stream`).

``kookoo stream-serve BOTS [--host H] [--port P]``
    Serve a ``StreamBots`` with the standalone ``websockets`` server (``kookoo[websockets]``).

Each subcommand is one ``_add_<name>_parser(subparsers)`` function, which registers its
arguments and sets ``func`` to a ``_cmd_<name>(args) -> int``; :func:`main` dispatches.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urljoin

from kookoo.protocol import schema
from kookoo.xml.lint import RULES, Finding, has_errors, lint

if TYPE_CHECKING:
    from werkzeug.serving import WSGIRequestHandler

    from kookoo.testing import SimulatedCall, Simulator
    from kookoo.testing.fake_outbound import OutboundCallPlay

__all__ = ["format_finding", "main"]

PROG = "kookoo"
#: Exit statuses shared by the subcommands.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: What a command killed by SIGPIPE exits with (128 + 13): standard output was closed.
EXIT_BROKEN_PIPE = 141
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
    try:
        status = command(args)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
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
    _add_lint_parser(subparsers)
    _add_call_parser(subparsers)
    _add_run_parser(subparsers)
    _add_routes_parser(subparsers)
    from kookoo.cli.ops import add_check_parser, add_config_parser

    add_check_parser(subparsers)
    add_config_parser(subparsers)
    _add_stream_call_parser(subparsers)
    _add_stream_serve_parser(subparsers)
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


# -- loading a TARGET --------------------------------------------------------------------------


class _UsageError(Exception):
    """A bad command line (exit status 2); the message is printed after the command name."""


def _load_target(target: str) -> Any:
    """The WSGI app named by ``module:app`` or ``path/to/file.py[:app]``."""
    from kookoo.core.loading import load_app

    try:
        return load_app(target)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    except Exception as exc:
        raise _UsageError(f"importing {target} failed: {type(exc).__name__}: {exc}") from exc


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


# -- kookoo call -------------------------------------------------------------------------------

_CALL_EPILOG = """\
Without actions the call is interactive: what the caller hears is printed, and keys,
recordings and dial outcomes are asked for.  A --script FILE holds one action a line
("press 1", "timeout", "record", "dial answered:30", "say yes", "hangup"; lines
starting with "# " are comments).  When the actions run out before the call ends, the
caller hangs up.

Exit status: 0 when the call completed, 1 when the app erred (HTTP error, invalid XML,
a failing handler) or did not wait for the next action, 2 on usage errors.
"""

#: Action name -> (metavar or None when it takes no value, help).
_ACTIONS: dict[str, tuple[str | None, str]] = {
    "press": ("DIGITS", "the caller presses keys ('' = nothing until the timeout)"),
    "timeout": (None, "the caller presses nothing"),
    "record": ("[URL][:SEC]", "the recording ends (default: a made-up URL, 5 s)"),
    "dial": ("OUTCOME", "answered[:TALK_SECONDS] or not_answered[:MESSAGE]"),
    "say": ("TEXT", "the caller speaks to <recognize>"),
    "leave-conference": (None, "the caller leaves the conference"),
    "end-stream": (None, "the voice-bot stream ends"),
    "hangup": (None, "the caller hangs up"),
}

_Action = tuple[str, str]


class _AppendAction(argparse.Action):
    """Collects every action option into one ordered list ``args.actions``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        actions: list[_Action] = list(getattr(namespace, "actions", None) or [])
        value = values if isinstance(values, str) else ""
        actions.append((self.dest, value))
        namespace.actions = actions


def _add_call_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "call",
        help="simulate a phone call to an app",
        description=(
            "Call an app the way KooKoo does and print what the caller hears.\nTARGET is "
            "module:app, path/to/file.py[:app] or the http(s) URL of a running app."
        ),
        epilog=_CALL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="TARGET")
    actions = parser.add_argument_group("actions, performed in the order given")
    for name, (metavar, help_text) in _ACTIONS.items():
        actions.add_argument(
            f"--{name}",
            action=_AppendAction,
            dest=name,  # _AppendAction files every action under args.actions
            nargs=("?" if name == "record" else None) if metavar else 0,
            metavar=metavar,
            help=help_text,
        )
    parser.add_argument("--script", metavar="FILE", help="read actions from FILE, one a line")
    parser.add_argument("--cid", default=schema.DEFAULT_CALLER, help="the caller's number (cid)")
    parser.add_argument(
        "--called-number",
        default=schema.DEFAULT_CALLED_NUMBER,
        help="the number dialled (called_number)",
    )
    parser.add_argument("--sid", help="the call id (default: a random 16-digit number)")
    parser.add_argument(
        "--secret",
        help="the app's shared secret, sent as kk_token (default: the app's own, or for a URL "
        "the first in KOOKOO_SECRET)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the whole call as JSON on standard output"
    )
    parser.add_argument(
        "--outbound",
        action="store_true",
        help="play an outbound call: a fake KooKoo outbound API queues it, the app gets NewCall "
        "with outbound_sid (--cid is the person called), and when the call ends the completion "
        "callback is POSTed to --callback",
    )
    parser.add_argument(
        "--callback",
        metavar="PATH",
        default="/",
        help="with --outbound: the app's callback_url path (default /)",
    )
    parser.set_defaults(func=_cmd_call, actions=None)


def _read_script(path: str) -> list[_Action]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    actions: list[_Action] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("//") or line.startswith("# "):
            continue
        name, _, value = line.partition(" ")
        if name not in _ACTIONS:
            known = ", ".join(_ACTIONS)
            raise _UsageError(f"{path}:{number}: unknown action {name!r} (known: {known})")
        if _ACTIONS[name][0] and name not in ("press", "record") and not value.strip():
            raise _UsageError(f"{path}:{number}: {name} needs a value, e.g. '{name} ...'")
        actions.append((name, value.strip()))
    return actions


class _Phone:
    """Prints the call as it goes and performs actions on it."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = 0
        self.status = ""

    def show(self, call: SimulatedCall) -> None:
        new_turns = len(call.turns) > self.shown
        for turn in call.turns[self.shown :]:
            print(f"-> {_request_line(turn.params)}", file=self.out)
            for text in turn.heard:
                print(f"caller hears: {text}", file=self.out)
            for sms in turn.sms:
                print(f"sms to {sms.to or 'the caller'}: {sms.text}", file=self.out)
            for finding in turn.findings:
                line = "?" if finding.line is None else finding.line
                print(f"lint {finding.code} (line {line}): {finding.message}", file=self.out)
        self.shown = len(call.turns)
        status = ""
        if call.ended_by == "app":
            status = "call over: the app hung up"
        elif call.ended_by == "caller":
            status = "call over: the caller hung up"
        elif call.waiting_for is not None:
            status = f"app waits for {_waiting_text(call)}"
        # Shown again after an error: the state line is said once, unless the call moved on.
        if status and (new_turns or status != self.status):
            print(status, file=self.out)
        self.status = status

    def act(self, call: SimulatedCall, name: str, value: str) -> None:
        if name == "press":
            call.press(value)
        elif name == "timeout":
            call.timeout()
        elif name == "record":
            url, seconds = _split_seconds(value)
            call.record(url or None, duration=5 if seconds is None else seconds)
        elif name == "dial":
            outcome, _, extra = value.partition(":")
            if outcome in ("answered", "a", ""):
                if extra and not _is_seconds(extra):
                    raise _UsageError(f"--dial {value}: the talk time must be whole seconds")
                call.answer_dial(duration=int(extra) if extra else 30)
            elif outcome in ("not_answered", "n"):
                call.dial_not_answered(message=extra or "NoAnswer")
            else:
                raise _UsageError(f"--dial {value}: say answered[:SECONDS] or not_answered")
        elif name == "say":
            call.say(value)
        elif name == "leave-conference":
            call.leave_conference()
        elif name == "end-stream":
            call.end_stream()
        else:
            call.hangup()


def _is_seconds(value: str) -> bool:
    # str.isdigit() also accepts "²" and other digits int() refuses.
    return value.isascii() and value.isdigit() and len(value) <= 9


def _split_seconds(value: str) -> tuple[str, int | None]:
    """``URL:30`` -> (URL, 30); ``30`` -> ("", 30); ``URL`` -> (URL, None)."""
    if _is_seconds(value):
        return "", int(value)
    head, sep, tail = value.rpartition(":")
    if sep and _is_seconds(tail):
        return head, int(tail)
    return value, None


def _request_line(params: Mapping[str, str]) -> str:
    event = params.get("event") or "(continue)"
    skip = {"event", "sid", "cid_e164", "circle", "operator"}
    if event != "NewCall":
        skip |= {"cid", "called_number"}
    rest = " ".join(f"{k}={v}" for k, v in params.items() if k not in skip)
    return f"{event} {rest}".rstrip()


def _waiting_text(call: SimulatedCall) -> str:
    node = call.waiting_node
    waiting = call.waiting_for
    if node is None or waiting is None:
        return "nothing"
    if waiting == "digits":
        details = [f"max {node.get('l')}" if node.get("l") else "", f"end with {node.get('t')}"]
        timeout = node.get_int("o")
        if timeout is None:
            timeout = schema.DEFAULT_DTMF_TIMEOUT_MS
        details.append(f"timeout {timeout / 1000:g} s")
        return "digits (" + ", ".join(d for d in details if d and "None" not in d) + ")"
    if waiting == "recording":
        return f"a recording ({node.text.strip() or 'unnamed'})"
    if waiting == "dial":
        return f"the dial to {node.text.strip()} (answered or not)"
    return {"speech": "speech", "conference": "the conference to end", "stream": "the stream"}.get(
        waiting, waiting
    )


_PROMPTS = {
    "digits": "Press keys (Enter: no input, h: hang up): ",
    "recording": "Recording... Enter to finish, or [URL][:SECONDS] (h: hang up): ",
    "dial": "Dial outcome: a[:SECONDS] answered, n not answered (h: hang up) [a]: ",
    "speech": "Say something (h: hang up): ",
    "conference": "In the conference: Enter to leave (h: hang up): ",
    "stream": "Streaming: Enter to end the stream (h: hang up): ",
    "transfer": "Transferred: h to hang up: ",
}


def _interactive_action(call: SimulatedCall, out: TextIO) -> _Action:
    """Ask for the next action on standard input; EOF hangs up."""
    waiting = call.waiting_for or "transfer"
    print(_PROMPTS[waiting], end="", file=out, flush=True)
    line = sys.stdin.readline()
    if not line:
        print(file=out)
        return ("hangup", "")
    answer = line.strip()
    if answer.lower() in ("h", "hangup", "q"):
        return ("hangup", "")
    if waiting == "digits":
        return ("press", answer) if answer else ("timeout", "")
    if waiting == "recording":
        return ("record", answer)
    if waiting == "dial":
        return ("dial", answer)
    if waiting == "speech":
        return ("say", answer)
    if waiting == "conference":
        return ("leave-conference", "")
    if waiting == "stream":
        return ("end-stream", "")
    return ("hangup", "")


def _cmd_call(args: argparse.Namespace) -> int:
    from kookoo.testing import SimulatorError

    try:
        sim = _simulator(args.target, args.secret)
        actions: list[_Action] = list(args.actions or [])
        if args.script:
            actions += _read_script(args.script)
    except _UsageError as exc:
        print(f"{PROG} call: {exc}", file=sys.stderr)
        return EXIT_USAGE
    interactive = not actions and not args.script
    as_json: bool = args.json
    # With --json, standard output carries only the JSON: an interactive call talks on
    # standard error, a scripted one stays quiet.
    out: TextIO = sys.stdout
    if as_json:
        out = sys.stderr if interactive else _NullWriter()
    phone = _Phone(out)
    call: SimulatedCall | None = None
    error: str | None = None
    status = EXIT_OK
    played: OutboundCallPlay | None = None
    try:
        if args.outbound:
            played = _answer_outbound(args)
            call = played.call
        else:
            call = sim.call(args.cid, called_number=args.called_number, sid=args.sid)
        phone.show(call)
        while not call.ended:
            if interactive:
                name, value = _interactive_action(call, out)
            elif actions:
                name, value = actions.pop(0)
            else:
                print("(no more actions: the caller hangs up)", file=phone.out)
                name, value = "hangup", ""
            try:
                phone.act(call, name, value)
            except (SimulatorError, _UsageError) as exc:
                if not interactive or call.ended:
                    raise
                # At the terminal a typo or an impossible action should not end the call.
                print(f"not possible: {exc}", file=out)
            phone.show(call)
        if played is not None:
            callback = played.complete()
            if callback is not None:
                answer = callback.body.decode("utf-8", "replace").strip()
                print(f"completion callback: HTTP {callback.status} {answer}", file=phone.out)
        if actions:
            left = ", ".join(name for name, _ in actions)
            raise _Unfinished(f"the call ended with {len(actions)} action(s) left: {left}")
    except _UsageError as exc:
        print(f"{PROG} call: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (SimulatorError, _Unfinished) as exc:
        error = str(exc)
        status = EXIT_FAILED
        if call is None and isinstance(exc, SimulatorError):
            call = exc.call
        if call is not None:
            phone.show(call)
        print(f"{PROG} call: error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print(file=out)
        return 130
    if as_json:
        print(json.dumps(_call_json(call, error, args), ensure_ascii=False, indent=2))
    return status


class _Unfinished(Exception):
    """Scripted actions were left when the call ended (exit status 1)."""


class _NullWriter(io.StringIO):
    """Swallows the transcript when only JSON is wanted."""


def _answer_outbound(args: argparse.Namespace) -> OutboundCallPlay:
    """Queue a call on a fake KooKoo outbound API and have the person answer it."""
    from werkzeug.test import Client as WSGIClient

    from kookoo.testing.fake_outbound import TEST_API_KEY, FakeOutbound

    fake = FakeOutbound()
    if _is_url(args.target):
        app: Any = None
        url = args.target
        callback = urljoin(url, args.callback)
    else:
        app = _load_target(args.target)
        url = "http://localhost/"
        callback = urljoin(url, args.callback)
    placed = WSGIClient(fake).get(
        "/outbound/outbound.php",
        query_string={
            "api_key": TEST_API_KEY,
            "phone_no": args.cid,
            "caller_id": args.called_number,
            "url": url,
            "callback_url": callback,
            "outbound_version": "2",
        },
    )
    if not fake.calls:
        raise _UsageError(f"the fake outbound API refused the call: {placed.get_data(True)}")
    return fake.answer(fake.calls[-1], app)


def _simulator(target: str, secret: str | None = None) -> Simulator:
    from kookoo.state.stores.memory import MemoryStore
    from kookoo.testing import Simulator

    if _is_url(target):
        return Simulator(target, secret=secret)
    app = _load_target(target)
    from kookoo.web.app import KooKoo

    if isinstance(app, KooKoo) and app.uses_default_store and not os.environ.get("KOOKOO_DB"):
        # The app would create its default SQLite file in the working directory; a simulated
        # call leaves no file. A store the user chose (KOOKOO_DB, KOOKOO_STORE, store=) is
        # used as it is.
        with contextlib.suppress(RuntimeError):  # an app that already served keeps its own
            app.store = MemoryStore()
            print(
                f"{PROG} call: the call state is kept in memory for this call (set KOOKOO_DB "
                "or KOOKOO_STORE to use a real store)",
                file=sys.stderr,
            )
    return Simulator(app, secret=secret)


def _call_json(
    call: SimulatedCall | None, error: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    if call is None:
        return {"target": args.target, "error": error, "turns": []}
    return {
        "target": args.target,
        "sid": call.sid,
        "caller": call.caller,
        "called_number": call.called_number,
        "ended_by": call.ended_by,
        "waiting_for": call.waiting_for,
        "error": error,
        "heard": list(call.heard),
        "sms": [{"to": s.to, "text": s.text} for s in call.sms],
        "turns": [turn.to_dict() for turn in call.turns],
    }


# -- kookoo run --------------------------------------------------------------------------------


def _add_run_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="serve an app with a development server",
        description=(
            "Serve TARGET (module:app or path/to/file.py[:app]) with Werkzeug's development "
            "server, reloading on code changes, one log line per request. Use gunicorn in "
            "production."
        ),
    )
    parser.add_argument("target", metavar="TARGET")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--no-reload", action="store_true", help="do not restart when the code changes"
    )
    parser.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    import logging

    from werkzeug.serving import WSGIRequestHandler, is_running_from_reloader, run_simple

    try:
        app = _load_target(args.target)
    except _UsageError as exc:
        print(f"{PROG} run: {exc}", file=sys.stderr)
        if args.no_reload or not is_running_from_reloader():
            return EXIT_USAGE
        # A reload hit broken code: keep serving (a 500 that says why) and watching, so
        # saving the fixed file brings the app back.
        print(f"{PROG} run: waiting for the code to be fixed...", file=sys.stderr)
        app = _broken_app(str(exc))
    from kookoo.web.app import KooKoo

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    handler: type[WSGIRequestHandler] = WSGIRequestHandler
    if isinstance(app, KooKoo):
        # The app logs its own line per request (sid, event, handler, status, time); the
        # server's access line would repeat it.
        handler = _quiet_handler()
    run_simple(
        args.host,
        args.port,
        app,
        use_reloader=not args.no_reload,
        # The stat reloader behaves the same whether or not watchdog is installed (mkdocs
        # brings it), and watches the target's file even while it does not import.
        reloader_type="stat",
        request_handler=handler,
        extra_files=_target_files(args.target),
    )
    return EXIT_OK


def _broken_app(message: str) -> Callable[..., Any]:
    body = f"{PROG} run: the app could not be loaded: {message}\n".encode()

    def app(environ: Any, start_response: Callable[..., Any]) -> list[bytes]:
        start_response(
            "500 INTERNAL SERVER ERROR",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


def _target_files(target: str) -> list[str]:
    """The file a TARGET names, for the reloader to watch even when it does not import."""
    import importlib.util

    name = target.rpartition(":")[0] if target.count(":") == 1 else target
    if name.endswith(".py"):
        return [os.path.abspath(name)]
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    return [spec.origin] if spec is not None and spec.origin else []


def _quiet_handler() -> type[WSGIRequestHandler]:
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    return Quiet


# -- kookoo routes -----------------------------------------------------------------------------


def _add_routes_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "routes",
        help="list an app's routes, events, steps and handlers",
        description="Print the handler table of TARGET (module:app or path/to/file.py[:app]).",
    )
    parser.add_argument("target", metavar="TARGET")
    parser.set_defaults(func=_cmd_routes)


def _cmd_routes(args: argparse.Namespace) -> int:
    try:
        app = _load_target(args.target)
    except _UsageError as exc:
        print(f"{PROG} routes: {exc}", file=sys.stderr)
        return EXIT_USAGE
    routes = getattr(app, "routes", None)
    if not callable(routes):
        print(f"{PROG} routes: {args.target} is not a kookoo app", file=sys.stderr)
        return EXIT_USAGE
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


# -- kookoo stream-call, kookoo stream-serve (the code is in kookoo.cli.stream) --------------


def _add_stream_call_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    from kookoo.cli.stream import STREAM_CALL_EPILOG, add_stream_call_arguments, stream_call

    parser = subparsers.add_parser(
        "stream-call",
        help="play a <stream> call to a voice bot's WebSocket",
        description=(
            "Play a KooKoo <stream> to the voice bot at WS_URL with the fake KooKoo stream "
            "client, print what the bot sent, and with --app send the event=Stream request "
            "that follows to the app and print its XML."
        ),
        epilog=STREAM_CALL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stream_call_arguments(parser)
    parser.set_defaults(func=stream_call)


def _add_stream_serve_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    from kookoo.cli.stream import add_stream_serve_arguments, stream_serve

    parser = subparsers.add_parser(
        "stream-serve",
        help="serve voice bots with the standalone websockets server",
        description=(
            "Serve the StreamBots named by BOTS (module:attribute or path/to/file.py[:attribute]"
            ", default attribute bots) on ws://HOST:PORT, for apps that keep gunicorn WSGI "
            "for HTTP (needs kookoo[websockets])."
        ),
    )
    add_stream_serve_arguments(parser)
    parser.set_defaults(func=stream_serve)
