"""The stream subcommands of the ``kookoo`` command: ``stream-call`` and ``stream-serve``.

``kookoo stream-call WS_URL (--handler NAME | --uui JSON) [--wav FILE] [--dtmf KEYS] ...``
    Play a KooKoo stream to a running bot with :class:`~kookoo.stream.fake.FakeStreamClient`:
    ``start`` with a token signed by the app's secret, the 16 kHz probe, caller audio in
    10 ms packets from WAV files, key presses and pauses in the order given, then ``stop``.
    Print what the bot sent (audio runs with their seqids, ``clearBuffer``, ``callDisconnect``,
    how the socket closed), optionally save the bot's audio (``--save-audio FILE.wav``) and
    every frame (``--record FILE.jsonl``, for :meth:`FakeStreamClient.replay`), and
    with ``--app`` send KooKoo's next HTTP request (``event=Stream`` after ``callDisconnect``,
    else ``event=Hangup&process=stream``) to the app and print the XML it answers.

``kookoo stream-serve BOTS [--host H] [--port P]``
    Serve ``module:attribute`` (or ``path/to/file.py[:attribute]``, default attribute
    ``bots``) of a :class:`~kookoo.stream.bots.StreamBots` (loaded by
    :func:`~kookoo.stream.bots.load_bots`) with the standalone ``websockets`` server
    (:mod:`kookoo.stream.server`, ``kookoo[websockets]``).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Sequence
from typing import Any, TextIO
from urllib.parse import urlencode

from kookoo.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    UsageError,
    print_error,
)
from kookoo.cli.target import is_url, load_target
from kookoo.core.errors import ConfigError
from kookoo.core.settings import Settings
from kookoo.stream.bots import load_bots
from kookoo.stream.codec import (
    CAUSE_CALLER_HANGUP,
    SAMPLE_RATE,
    CallDisconnect,
    ClearBuffer,
    OutboundAudio,
)
from kookoo.stream.fake import FakeStreamClient, FakeStreamResult, read_wav, write_wav
from kookoo.stream.session import JsonlRecorder
from kookoo.stream.tokens import stream_uui

__all__ = ["add_parser"]

_STREAM_CALL_EPILOG = """\
The caller's side is played in the order given: --wav FILE (16-bit PCM, resampled to
8 kHz mono), --dtmf KEYS (one key press per character), --pause SECONDS.  After the
last one the fake waits --hold seconds (less if the bot sends callDisconnect) and sends
stop (--stop-cause 433, the caller hanging up; 'none' sends no cause).  The token is
signed with --secret, else the --app's own secret, else the first one in KOOKOO_SECRET.

Exit status: 0 when the bot ran, 1 when the socket was refused or failed, the bot sent
frames that are not stream messages, or the app's answer was an HTTP error; 2 on usage
errors.
"""


def add_parser(subparsers: Subparsers) -> None:
    """Register ``kookoo stream-call`` and ``kookoo stream-serve``."""
    parser = subparsers.add_parser(
        "stream-call",
        help="play a <stream> call to a voice bot's WebSocket",
        description=(
            "Play a KooKoo <stream> to the voice bot at WS_URL with the fake KooKoo stream "
            "client, print what the bot sent, and with --app send the event=Stream request "
            "that follows to the app and print its XML."
        ),
        epilog=_STREAM_CALL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_stream_call_arguments(parser)
    parser.set_defaults(func=_stream_call)
    parser = subparsers.add_parser(
        "stream-serve",
        help="serve voice bots with the standalone websockets server",
        description=(
            "Serve the StreamBots named by BOTS (module:attribute or path/to/file.py[:attribute]"
            ", default attribute bots) on ws://HOST:PORT, for apps that keep gunicorn WSGI "
            "for HTTP (needs kookoo[websockets])."
        ),
    )
    _add_stream_serve_arguments(parser)
    parser.set_defaults(func=_stream_serve)


class _Step(argparse.Action):
    """Collects --wav, --dtmf and --pause into one ordered list ``args.steps``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        steps: list[tuple[str, str]] = list(getattr(namespace, "steps", None) or [])
        steps.append((self.dest, values if isinstance(values, str) else ""))
        namespace.steps = steps


def _add_stream_call_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="WS_URL", help="the bot's ws:// or wss:// URL")
    who = parser.add_argument_group("the token in x-uui")
    who.add_argument("--handler", metavar="NAME", help="the bot handler the token names")
    who.add_argument(
        "--data",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="extra x-uui data for the bot (repeatable)",
    )
    who.add_argument(
        "--uui",
        metavar="JSON",
        help="send this x-uui as is (e.g. copied from the app's <stream>), instead of signing",
    )
    who.add_argument("--secret", help="the app's secret (default: KOOKOO_SECRET)")
    who.add_argument("--sid", help="the call's ucid (default: a random 17-digit number)")
    who.add_argument("--caller", default="919704665032", help="call_id, the caller's number")
    steps = parser.add_argument_group("the caller, in the order given")
    steps.add_argument("--wav", dest="wav", metavar="FILE", action=_Step, help="caller audio")
    steps.add_argument("--dtmf", dest="dtmf", metavar="KEYS", action=_Step, help="key presses")
    steps.add_argument(
        "--pause", dest="pause", metavar="SECONDS", action=_Step, help="wait (the bot talks)"
    )
    steps.add_argument(
        "--hold",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="wait this long after the last step before stop, unless the bot hangs up (2)",
    )
    steps.add_argument(
        "--stop-cause",
        default=str(CAUSE_CALLER_HANGUP),
        metavar="CAUSE",
        help="the stop message's cause (433: caller hung up; 'none': no cause)",
    )
    steps.add_argument(
        "--fast",
        action="store_true",
        help="send audio as fast as the bot reads it, not 10 ms a packet",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--save-audio", metavar="FILE", help="write the bot's audio to a WAV file")
    out.add_argument(
        "--record",
        metavar="FILE",
        help="write every frame, both ways, to a JSON Lines file (replay it in a test with "
        "FakeStreamClient.replay(read_recording(FILE)))",
    )
    out.add_argument(
        "--app",
        metavar="TARGET",
        help="after the stream, send KooKoo's next request to this app (module:app, "
        "path/to/file.py[:app] or an http(s) URL) and print its XML",
    )
    out.add_argument("--status", default="completed", help="the Stream event's status (completed)")
    parser.set_defaults(steps=None)


def _stream_call(args: argparse.Namespace) -> int:
    out: TextIO = sys.stdout
    try:
        app = load_target(args.app) if args.app and not is_url(args.app) else None
        secret = _secret(args, app)
        fake = _build(args, secret)
    except UsageError as exc:
        print_error("stream-call", exc)
        return EXIT_USAGE
    print(f"stream {args.url} sid={fake.sid}", file=out)
    started = time.monotonic()
    if args.record:
        try:
            fake.recorder = JsonlRecorder(args.record)
        except OSError as exc:
            print_error("stream-call", f"--record {args.record}: {exc}")
            return EXIT_USAGE
    try:
        result = asyncio.run(fake.connect(args.url))
    except (OSError, ImportError, ValueError) as exc:
        # OSError: nothing listens; ValueError/InvalidURI: a bad URL; the websockets
        # handshake errors are OSError subclasses or InvalidHandshake (caught below).
        print_error("stream-call", f"cannot connect to {args.url}: {exc}")
        return EXIT_FAILED
    except Exception as exc:  # websockets.InvalidHandshake (e.g. HTTP 403 on the upgrade)
        print_error("stream-call", f"{args.url}: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    finally:
        if fake.recorder is not None:
            fake.recorder.close()
            print(f"frames recorded to {args.record}", file=out)
    seconds = time.monotonic() - started
    status = _show(result, fake, out)
    if args.save_audio:
        write_wav(args.save_audio, result.audio, sample_rate=SAMPLE_RATE)
        print(f"bot audio saved to {args.save_audio}", file=out)
    if args.app and not result.refused:
        try:
            code, xml = _send_http(args, app, result, secret, seconds)
        except OSError as exc:
            print_error("stream-call", f"cannot reach {args.app}: {exc}")
            return EXIT_FAILED
        params = result.http_params(status=args.status, duration=max(1, round(seconds)))
        line = " ".join(f"{k}={v}" for k, v in params.items() if k != "sid")
        print(f"-> {line}", file=out)
        print(f"app answered HTTP {code}:", file=out)
        print(xml.strip() or "(empty)", file=out)
        if code >= 400:
            status = EXIT_FAILED
    return status


def _secret(args: argparse.Namespace, app: Any) -> str | None:
    if args.secret:
        return str(args.secret)
    own = getattr(app, "secret", None)  # the --app's own, which its HTTP requests carry
    primary = getattr(own, "primary", None)
    if isinstance(primary, str):
        return primary
    try:
        configured = Settings.from_environ(only=["secret"]).secret
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return configured[0] if configured else None


def _build(args: argparse.Namespace, secret: str | None) -> FakeStreamClient:
    sid: str = args.sid or str(10**16 + secrets.randbelow(9 * 10**16))
    uui: str
    if args.uui is not None:
        uui = args.uui
    elif not args.handler:
        raise UsageError("give --handler NAME (a token is signed for it) or --uui JSON")
    elif not secret:
        raise UsageError("signing the token needs the app's secret: --secret or KOOKOO_SECRET")
    else:
        data: dict[str, str] = {}
        for pair in args.data:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise UsageError(f"--data {pair!r}: expected KEY=VALUE")
            data[key] = value
        uui = stream_uui(secret, sid=sid, handler=args.handler, data=data)
    cause: int | None
    if args.stop_cause.lower() == "none":
        cause = None
    elif args.stop_cause.isascii() and args.stop_cause.isdigit():
        cause = int(args.stop_cause)
    else:
        raise UsageError(f"--stop-cause {args.stop_cause!r}: a number, or 'none'")
    fake = FakeStreamClient(uui=uui, sid=sid, caller=args.caller, realtime=not args.fast)
    for kind, value in args.steps or []:
        if kind == "wav":
            try:
                fake.audio(read_wav(value))
            except (OSError, EOFError, ValueError, wave.Error) as exc:
                raise UsageError(f"--wav {value}: {exc}") from None
        elif kind == "dtmf":
            for key in value:
                fake.dtmf(key)
        else:
            fake.pause(_seconds(value))
    if args.hold > 0:
        fake.pause(args.hold)
    return fake.stop(cause)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError(f"--pause {value!r}: expected seconds, e.g. 1.5") from None
    if not 0 <= seconds <= 3600:
        raise UsageError(f"--pause {value!r}: between 0 and 3600 seconds")
    return seconds


def _show(result: FakeStreamResult, fake: FakeStreamClient, out: TextIO) -> int:
    """Print what the bot sent; return the exit status it deserves."""
    caller = len(fake.caller_audio) / 2 / SAMPLE_RATE
    print(f"caller sent {caller:.2f} s of audio in {len(result.sent)} frames", file=out)
    run: list[OutboundAudio] = []

    def flush() -> None:
        if run:
            seconds = sum(len(m.pcm) for m in run) / 2 / SAMPLE_RATE
            first, last = run[0].seqid, run[-1].seqid
            span = first if len(run) == 1 else f"{first} .. {last}"
            print(f"bot: audio x{len(run)} ({seconds:.2f} s, seqid {span})", file=out)
            run.clear()

    for message in result.received:
        if isinstance(message, OutboundAudio):
            run.append(message)
            continue
        flush()
        if isinstance(message, ClearBuffer):
            print("bot: clearBuffer", file=out)
        elif isinstance(message, CallDisconnect):
            print("bot: callDisconnect", file=out)
        else:
            print(f"bot: {type(message).__name__}", file=out)
    flush()
    seqids = result.seqids
    total = len(result.audio) / 2 / SAMPLE_RATE
    unique = "all unique" if len(set(seqids)) == len(seqids) else "REPEATED seqids"
    print(f"bot sent {total:.2f} s of audio in {len(seqids)} packets ({unique})", file=out)
    status = EXIT_OK
    if len(set(seqids)) != len(seqids):
        status = EXIT_FAILED
    for frame in result.bad_frames:
        shown = frame if isinstance(frame, str) else f"<{len(frame)} bytes>"
        print(f"bot sent a frame that is not a stream message: {shown[:200]}", file=out)
        status = EXIT_FAILED
    code, reason = result.close_code, result.close_reason
    if result.refused:
        print(f"socket refused (close {code}): {reason}", file=out)
        return EXIT_FAILED
    if code is not None and code != 1000:
        print(f"socket closed with {code}: {reason or '(no reason)'}", file=out)
        return EXIT_FAILED
    ended = "the bot hung up (callDisconnect)" if result.disconnected_by_bot else "stop sent"
    print(f"stream over: {ended}", file=out)
    return status


def _send_http(
    args: argparse.Namespace,
    app: Any,
    result: FakeStreamResult,
    secret: str | None,
    seconds: float,
) -> tuple[int, str]:
    params = result.http_params(status=args.status, duration=max(1, round(seconds)))
    token: str | None = secret
    if app is not None:
        own = getattr(app, "secret", None)
        token = own.primary if own is not None else None
    if token:
        params["kk_token"] = token
    if app is not None:
        from werkzeug.test import Client

        response = Client(app).get("/", query_string=params)
        return response.status_code, response.get_data(as_text=True)
    sep = "&" if "?" in args.app else "?"
    try:
        with urllib.request.urlopen(f"{args.app}{sep}{urlencode(params)}", timeout=30) as r:
            return int(r.status), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


# -- stream-serve ------------------------------------------------------------------------------


def _add_stream_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bots",
        metavar="BOTS",
        help="module:attribute or path/to/file.py[:attribute] of a StreamBots (default "
        "attribute: bots)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)"
    )


def _stream_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    bots = load_target(args.bots, load_bots)
    try:
        from kookoo.stream.server import run_server
    except ImportError as exc:
        print_error(
            "stream-serve",
            f"needs the websockets extra (pip install 'kookoo[websockets]'): {exc}",
        )
        return EXIT_USAGE
    run_server(bots, args.host, args.port)
    return EXIT_OK
