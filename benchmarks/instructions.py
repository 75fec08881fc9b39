"""Instruction counts per request, with callgrind: deterministic where timings are not.

``python -m benchmarks.instructions [--source DIR] [--cases a,b]`` runs each case under
``valgrind --tool=callgrind`` twice, with ``N1`` and ``N2`` requests after the same setup, and
prints ``(total(N2) - total(N1)) / (N2 - N1)``: the instructions of one request, whatever the
interpreter's start-up and the setup cost. ``--source`` points at another checkout of kookoo
(``PYTHONPATH``), to compare two versions in one run. Needs valgrind (Debian's package).

The cases (each over real WSGI, a fresh environ per request):

- ``newcall``: a NewCall answered with a menu by an app without call state;
- ``dtmf_sqlite``: a GotDTMF on one of 50 live calls, in SQLite (no background thread, so
  the count is the request's own), the handler writing the call's state and its next step;
- ``dtmf_memory``: the same in a MemoryStore;
- ``flow_kept``: a GotDTMF answering a linear flow's pending step, resumed from the kept
  generator (a MemoryStore);

each with the request log off (the ``kookoo`` logger at WARNING) or on (``--log``: the
default handler writing the request line to ``/dev/null``).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

__all__ = ["CASES", "main", "per_request"]

CALLS = 50


def _environ(query: dict[str, str]) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/ivr",
        "QUERY_STRING": urlencode(query),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "SCRIPT_NAME": "",
        "REMOTE_ADDR": "127.0.0.1",
    }


def _start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    if not status.startswith("200"):
        raise SystemExit(f"the app answered {status}")


def _call(app: Any, query: dict[str, str]) -> bytes:
    return b"".join(app(_environ(query), _start_response))


def _menu(store: Any) -> Any:
    from kookoo import GotDTMF, KooKoo, NewCall, Response

    app = KooKoo("bench", store=store)
    if store is False:

        @app.on_new_call(route="/ivr")
        def welcome(event: NewCall) -> Response:
            reply = Response(sid=event.sid)
            with reply.collect_dtmf(max_digits=1, timeout_ms=5000) as menu:
                menu.play_text("Welcome. For English press 1, for Hindi press 2.")
            return reply

        return app

    @app.on_new_call(route="/ivr")
    def welcome_state(event: NewCall, call: Any) -> Response:
        call.state["visits"] = 0
        reply = Response(sid=event.sid)
        with reply.collect_dtmf(max_digits=1, timeout_ms=5000) as menu:
            menu.play_text("Welcome. For English press 1, for Hindi press 2.")
        return reply.next_step("menu")

    @app.on_dtmf(route="/ivr", step="menu")
    def pick(event: GotDTMF, call: Any) -> Response:
        call.state["visits"] = call.state.get("visits", 0) + 1
        call.state["last"] = event.digits
        reply = Response(sid=event.sid)
        with reply.collect_dtmf(max_digits=1, timeout_ms=5000) as menu:
            menu.play_text("You pressed a key. Press another.")
        return reply.next_step("menu")

    return app


def _stores() -> tuple[type[Any], type[Any]]:
    try:
        from kookoo import MemoryStore, SQLiteStore  # the layout of issue 24
    except ImportError:
        from kookoo.stores import MemoryStore, SQLiteStore  # type: ignore[import-not-found,no-redef]
    return MemoryStore, SQLiteStore


def _newcall(n: int) -> None:
    app = _menu(False)
    _call(app, {"event": "NewCall", "sid": "1", "cid": "09876543210", "called_number": "08033"})
    for i in range(n):
        query = {"event": "NewCall", "sid": str(10 + i), "cid": "09876543210"}
        _call(app, {**query, "called_number": "08033"})


def _dtmf(n: int, sqlite: bool) -> None:
    memory, sqlite_store = _stores()
    if sqlite:
        path = os.path.join(tempfile.mkdtemp(), "calls.sqlite3")
        store = sqlite_store(path, background=False)
    else:
        store = memory()
    app = _menu(store)
    for c in range(CALLS):
        _call(app, {"event": "NewCall", "sid": str(100 + c), "cid": "09876543210"})
    for _ in range(4):  # each call has a few key presses behind it
        for c in range(CALLS):
            _call(app, {"event": "GotDTMF", "sid": str(100 + c), "data": "1"})
    for i in range(n):
        _call(app, {"event": "GotDTMF", "sid": str(100 + i % CALLS), "data": "1"})


def _flow_kept(n: int) -> None:
    from kookoo import KooKoo

    memory, _ = _stores()
    app = KooKoo("bench", store=memory())

    @app.flow("/ivr")
    def loop(call: Any) -> Any:
        while True:
            digits = yield call.ask_digits("Press a key", max_digits=1)
            call.state["last"] = digits

    for c in range(CALLS):
        _call(app, {"event": "NewCall", "sid": str(100 + c), "cid": "09876543210"})
    for _ in range(2):
        for c in range(CALLS):
            _call(app, {"event": "GotDTMF", "sid": str(100 + c), "data": "1"})
    for i in range(n):
        _call(app, {"event": "GotDTMF", "sid": str(100 + i % CALLS), "data": "1"})


CASES: dict[str, Callable[[int], None]] = {
    "newcall": _newcall,
    "dtmf_sqlite": lambda n: _dtmf(n, sqlite=True),
    "dtmf_memory": lambda n: _dtmf(n, sqlite=False),
    "flow_kept": _flow_kept,
}
"""The cases, by name: each runs its setup, then ``n`` requests."""

_COLLECTED = re.compile(r"Collected : (\d+)")


def _total(case: str, n: int, log: bool, source: str | None) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if source is not None:
        env["PYTHONPATH"] = source
    command = [
        *("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
        # The file itself, not -m: the measured kookoo comes from PYTHONPATH (or the
        # installed one), never from the working directory.
        *(sys.executable, os.path.abspath(__file__), "--run", case, str(n)),
        *(["--log"] if log else []),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, check=True, cwd=tempfile.gettempdir()
    )
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_request(
    case: str, *, log: bool = False, source: str | None = None, n1: int = 200, n2: int = 1200
) -> float:
    """Instructions of one request of ``case`` (see the module docstring)."""
    return (_total(case, n2, log, source) - _total(case, n1, log, source)) / (n2 - n1)


def _run(case: str, n: int, log: bool) -> None:
    if log:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # the default handler's stream
    else:
        logging.getLogger("kookoo").setLevel(logging.WARNING)
    CASES[case](n)


def main(argv: list[str] | None = None) -> int:
    """Print the instructions per request of each case, with the log off and on."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--source", help="a checkout of kookoo to measure instead (PYTHONPATH)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--log", action="store_true", help="with the request line (--run)")
    parser.add_argument("--run", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        _run(args.run[0], int(args.run[1]), args.log)
        return 0
    for case in args.cases.split(","):
        for log in (False, True):
            count = per_request(case, log=log, source=args.source)
            print(f"{case:12} log={'on ' if log else 'off'} {count / 1000:8.1f} k instructions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
