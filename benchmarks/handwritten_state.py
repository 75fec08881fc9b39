"""The menu app with call state written by hand: Werkzeug, lxml and :mod:`sqlite3`.

It is what kookoo + :class:`~kookoo.state.stores.SQLiteStore` is compared with, like for like: the
same replies (byte for byte), its state in an SQLite file shared by every worker, with the
same durability as kookoo's store (WAL, ``synchronous=NORMAL``) and the same protection
against two workers overwriting each other (a compare-and-set on a version column). What
such an app usually leaves out, it leaves out too: no cache of its own (each GotDTMF reads
the call, then writes it: two statements), no history, no expiry, the standard library's
:mod:`json`.

- ``NewCall`` creates the call's row (``{"menu": "main"}``); a repeated one keeps it.
- ``GotDTMF`` reads the row, stores ``choice`` and writes it back if nobody else did since
  (else it reads again and retries, up to three times); an unknown sid gets 404.
- Both answer the menu of :func:`benchmarks.apps.build_lxml`; other events get 400.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as HTTPResponse

from benchmarks.apps import CONTENT_TYPE, ROUTE, build_lxml, log_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["HandWrittenSQLiteApp", "handwritten_sqlite_app"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS calls (sid TEXT PRIMARY KEY NOT NULL,"
    " version INTEGER NOT NULL, data TEXT NOT NULL) WITHOUT ROWID"
)
_CREATE = "INSERT INTO calls (sid, version, data) VALUES (?, 1, ?) ON CONFLICT (sid) DO NOTHING"
_LOAD = "SELECT version, data FROM calls WHERE sid = ?"
_SAVE = "UPDATE calls SET version = version + 1, data = ? WHERE sid = ? AND version = ?"
_TRIES = 3


class HandWrittenSQLiteApp:
    """A WSGI app keeping each call's state in an SQLite file, written without a framework.

    Args:
        path: the database file; ``None`` reads ``$KOOKOO_DB`` when the first request comes
            (as kookoo's default store does, so gunicorn can serve it with the same setting).

    One connection per thread, opened on the thread's first request (after gunicorn's fork).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened, and the table created, on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            path = self.path or os.environ["KOOKOO_DB"]
            conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(_SCHEMA)
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def state(self, sid: str) -> dict[str, object] | None:
        """The stored state of call ``sid``, or ``None``."""
        row = self.connection().execute(_LOAD, (sid,)).fetchone()
        return None if row is None else dict(json.loads(row[1]))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request = Request(environ)
        args = request.args
        event = args.get("event")
        sid = args.get("sid")
        if request.path.rstrip("/") != ROUTE:
            response = HTTPResponse("Not found\n", status=404, content_type="text/plain")
        elif not sid or event not in ("NewCall", "GotDTMF"):
            response = HTTPResponse(
                "Unsupported event or no sid\n", status=400, content_type="text/plain"
            )
        else:
            conn = self.connection()
            if event == "NewCall":
                conn.execute(_CREATE, (sid, json.dumps({"menu": "main"})))
                found = True
            else:
                found = self._store_choice(conn, sid, args.get("data", ""))
            if found:
                response = HTTPResponse(build_lxml(sid), content_type=CONTENT_TYPE)
            else:
                response = HTTPResponse("Unknown call\n", status=404, content_type="text/plain")
        log_request(sid, event, response.status_code, started)  # the line kookoo writes
        return response(environ, start_response)

    @staticmethod
    def _store_choice(conn: sqlite3.Connection, sid: str, digits: str) -> bool:
        for _ in range(_TRIES):
            row = conn.execute(_LOAD, (sid,)).fetchone()
            if row is None:
                return False
            state = json.loads(row[1])
            state["choice"] = digits
            if conn.execute(_SAVE, (json.dumps(state), sid, row[0])).rowcount == 1:
                return True
        raise RuntimeError(f"call {sid}: another request saved it {_TRIES} times in a row")


handwritten_sqlite_app = HandWrittenSQLiteApp()
"""What gunicorn serves as ``benchmarks.handwritten_state:handwritten_sqlite_app`` (the file
comes from ``$KOOKOO_DB``)."""
