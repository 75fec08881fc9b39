"""The equivalent apps and documents the benchmarks compare, using only kookoo's own dependencies.

Every app answers ``GET /ivr?event=NewCall&sid=...`` with the same menu (:data:`WELCOME`,
:data:`WELCOME_AUDIO`, then a one-digit ``collectdtmf`` around :data:`MENU` and
:data:`MENU_AUDIO`):

- :data:`kookoo_app` — kookoo, no call state (``store=False``);
- :func:`make_kookoo_state_app` — kookoo with a call store; the handler writes call state;
- :func:`werkzeug_app` — hand-written: Werkzeug ``Request`` for the query, lxml for the XML;
- :func:`floor_app` — a raw WSGI function returning constant bytes: the floor of any app.

kookoo and the hand-written app return byte-identical XML.  The Flask + twilio-python and
Flask + plivo equivalents live in :mod:`benchmarks.thirdparty` (they need ``kookoo[bench]``).
Module-level apps are what gunicorn serves (``benchmarks.apps:kookoo_app``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, Literal

from lxml import etree
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as HTTPResponse

from kookoo import Call, GotDTMF, KooKoo, NewCall, Response
from kookoo.state.stores import CallStore
from kookoo.web.logs import REQUEST_LINE, TEXT_FORMAT

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "CONTENT_TYPE",
    "MENU",
    "MENU_AUDIO",
    "NEW_CALL_QUERY",
    "ROUTE",
    "SID",
    "WELCOME",
    "WELCOME_AUDIO",
    "build_kookoo",
    "build_lxml",
    "expected_reply",
    "floor_app",
    "kookoo_app",
    "kookoo_sqlite_app",
    "log_request",
    "make_kookoo_app",
    "make_kookoo_state_app",
    "new_call_query",
    "request_log",
    "werkzeug_app",
]

ROUTE = "/ivr"
SID = "1104528084461170"
# The prompts carry "&" and "<" so that every builder has to escape.
WELCOME = "Welcome to Ram & Shyam <Traders>"
WELCOME_AUDIO = "http://example.com/audio/welcome.wav"
MENU = "Press 1 for orders & 2 for accounts"
MENU_AUDIO = "http://example.com/audio/menu.wav"
MAX_DIGITS = 1
TERMINATOR: Final[Literal["#"]] = "#"
TIMEOUT_MS = 5000
CONTENT_TYPE = "text/xml; charset=utf-8"


def new_call_query(sid: str = SID) -> str:
    """The query string of a NewCall as KooKoo sends it (a captured request, ``sid`` swapped)."""
    return (
        "called_number=911130803946&cid=8041169706&cid_e164=%2B918041169706&cid_type=FIXED_LINE"
        f"&sid={sid}&operator=Airtel&circle=KARNATAKA&event=NewCall"
    )


NEW_CALL_QUERY = new_call_query()


# -- the document, two ways ---------------------------------------------------------------------


def build_kookoo(sid: str | None = SID) -> Response:
    """The menu with kookoo's builder (every value validated)."""
    r = Response(sid=sid)
    r.play_text(WELCOME).play_audio(WELCOME_AUDIO)
    r.collect_dtmf(max_digits=MAX_DIGITS, terminator=TERMINATOR, timeout_ms=TIMEOUT_MS).play_text(
        MENU
    ).play_audio(MENU_AUDIO)
    return r


_SUB = etree.SubElement


def build_lxml(sid: str | None = SID) -> bytes:
    """The same menu with raw lxml calls, serialised exactly as kookoo serialises it."""
    root = etree.Element("response", {"sid": sid} if sid is not None else {})
    _SUB(root, "playtext").text = WELCOME
    _SUB(root, "playaudio").text = WELCOME_AUDIO
    collect = _SUB(root, "collectdtmf", {"l": str(MAX_DIGITS), "t": TERMINATOR, "o": "5000"})
    _SUB(collect, "playtext").text = MENU
    _SUB(collect, "playaudio").text = MENU_AUDIO
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def expected_reply(sid: str = SID) -> bytes:
    """The exact body kookoo and the hand-written app send for a NewCall with ``sid``."""
    return build_lxml(sid)


# -- kookoo ------------------------------------------------------------------------------------


#: The shared secret of the benchmark app that checks one (never a real secret).
BENCH_SECRET = "bench-secret-0123456789abcdef"


def make_kookoo_app(secret: str | None = None) -> KooKoo:
    """kookoo without call state: the handler takes only the event (and, with ``secret``,
    every request must carry it as ``kk_token``)."""
    app = KooKoo("bench", store=False, secret=secret if secret is not None else False)

    @app.on_new_call(route=ROUTE)
    def welcome(event: NewCall) -> Response:
        return build_kookoo(event.sid)

    @app.on_dtmf(route=ROUTE)
    def choice(event: GotDTMF) -> Response:
        return build_kookoo(event.sid)

    return app


def make_kookoo_state_app(store: CallStore | None) -> KooKoo:
    """kookoo with call state: the handler takes ``call`` and writes to its state.

    ``store=None`` means kookoo's default (SQLite at ``$KOOKOO_DB``).
    """
    app = KooKoo("bench-state", store=store)

    @app.on_new_call(route=ROUTE)
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["menu"] = "main"
        return build_kookoo(event.sid)

    @app.on_dtmf(route=ROUTE)
    def choice(event: GotDTMF, call: Call) -> Response:
        call.state["choice"] = event.digits
        return build_kookoo(event.sid)

    return app


kookoo_app = make_kookoo_app()
kookoo_secret_app = make_kookoo_app(BENCH_SECRET)
"""kookoo, stateless: what gunicorn serves as ``benchmarks.apps:kookoo_app``."""

kookoo_sqlite_app = make_kookoo_state_app(None)
"""kookoo with the default SQLite store (path from ``$KOOKOO_DB``), for the memory case."""


# -- hand-written Werkzeug + lxml ----------------------------------------------------------------


def _request_log() -> logging.Logger:
    logger = logging.getLogger("handwritten")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


request_log = _request_log()
"""The hand-written apps' request log: the line kookoo's apps write (its text and fields),
through ``logging`` as a hand-written app would, to stderr. The in-process parts of the
benchmark turn it off with kookoo's (``python -m benchmarks`` sets both to WARNING)."""


def log_request(sid: str | None, event: str | None, status: int, started: float) -> None:
    """Log one request line of a hand-written app, as kookoo's apps do for theirs."""
    if request_log.isEnabledFor(logging.INFO):
        ms = (time.perf_counter() - started) * 1000
        request_log.info(REQUEST_LINE, sid or "-", event or "-", ROUTE, "welcome", status, ms)


_MENU_EVENTS = ("NewCall", "GotDTMF")


def werkzeug_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The same app written by hand: Werkzeug parses the query, lxml builds the same XML
    (for NewCall and GotDTMF, as kookoo's app; other events get 400), and logs the same
    request line."""
    started = time.perf_counter()
    request = Request(environ)
    event = request.args.get("event")
    if request.path.rstrip("/") != ROUTE:
        response = HTTPResponse("Not found\n", status=404, content_type="text/plain")
    elif event not in _MENU_EVENTS:
        response = HTTPResponse("Unsupported event\n", status=400, content_type="text/plain")
    else:
        body = build_lxml(request.args.get("sid"))
        response = HTTPResponse(body, content_type=CONTENT_TYPE)
    log_request(request.args.get("sid"), event, response.status_code, started)
    return response(environ, start_response)


# -- the floor ---------------------------------------------------------------------------------

_FLOOR_BODY = expected_reply()
_FLOOR_HEADERS = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(_FLOOR_BODY)))]


def floor_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A raw WSGI function returning constant bytes: no app can be faster."""
    start_response("200 OK", _FLOOR_HEADERS)
    return [_FLOOR_BODY]
