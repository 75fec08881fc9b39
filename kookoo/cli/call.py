"""``kookoo call TARGET``: a phone call to an app, at the terminal.

The call runs on the simulator (:mod:`kookoo.testing`) against ``module:app``,
``path/to/file.py[:app]`` or an http(s) URL. What the caller hears is printed; keys,
recordings and dial outcomes are asked for (interactive), or taken from ``--press``,
``--record``, ``--dial``, ``--say``, ``--hangup``... in order, or one a line from
``--script``. ``--json`` prints the whole call as JSON; ``--outbound`` plays an outbound call
through the fake KooKoo outbound API. Exit status ``1`` when the app errs (HTTP error, invalid
XML, a failing handler).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urljoin

from kookoo.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Subparsers,
    UsageError,
    print_error,
)
from kookoo.cli.target import is_url, load_target
from kookoo.protocol import schema

if TYPE_CHECKING:
    from kookoo.testing import SimulatedCall, Simulator
    from kookoo.testing.fake_outbound import OutboundCallPlay

__all__ = ["add_parser"]

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


def add_parser(subparsers: Subparsers) -> None:
    """Register ``kookoo call``."""
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
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    actions: list[_Action] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("//") or line.startswith("# "):
            continue
        name, _, value = line.partition(" ")
        if name not in _ACTIONS:
            known = ", ".join(_ACTIONS)
            raise UsageError(f"{path}:{number}: unknown action {name!r} (known: {known})")
        if _ACTIONS[name][0] and name not in ("press", "record") and not value.strip():
            raise UsageError(f"{path}:{number}: {name} needs a value, e.g. '{name} ...'")
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
                    raise UsageError(f"--dial {value}: the talk time must be whole seconds")
                call.answer_dial(duration=int(extra) if extra else 30)
            elif outcome in ("not_answered", "n"):
                call.dial_not_answered(message=extra or "NoAnswer")
            else:
                raise UsageError(f"--dial {value}: say answered[:SECONDS] or not_answered")
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
    except UsageError as exc:
        print_error("call", exc)
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
            except (SimulatorError, UsageError) as exc:
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
    except UsageError as exc:
        print_error("call", exc)
        return EXIT_USAGE
    except (SimulatorError, _Unfinished) as exc:
        error = str(exc)
        status = EXIT_FAILED
        if call is None and isinstance(exc, SimulatorError):
            call = exc.call
        if call is not None:
            phone.show(call)
        print_error("call", f"error: {error}")
    except KeyboardInterrupt:
        print(file=out)
        return EXIT_INTERRUPTED
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
    if is_url(args.target):
        app: Any = None
        url = args.target
        callback = urljoin(url, args.callback)
    else:
        app = load_target(args.target)
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
        raise UsageError(f"the fake outbound API refused the call: {placed.get_data(True)}")
    return fake.answer(fake.calls[-1], app)


def _simulator(target: str, secret: str | None = None) -> Simulator:
    from kookoo.state.stores.memory import MemoryStore
    from kookoo.testing import Simulator

    if is_url(target):
        return Simulator(target, secret=secret)
    app = load_target(target)
    from kookoo.web.app import KooKoo

    if isinstance(app, KooKoo) and app.uses_default_store and not app.settings.db:
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
