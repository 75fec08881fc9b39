"""The app the store fault tests serve with gunicorn (``--pythonpath tests``).

Its store comes from the environment: ``KOOKOO_TEST_REDIS_URL`` (with
``KOOKOO_TEST_REDIS_TIMEOUT`` seconds for connect and socket timeouts) for a RedisStore, else
the SQLite store at ``KOOKOO_DB`` (``KOOKOO_TEST_BUSY_TIMEOUT``; ``KOOKOO_TEST_MAX_PAGES`` caps
the database at that many pages, a full database on demand).
"""

from __future__ import annotations

import os
import sqlite3

from kookoo import Call, GotDTMF, KooKoo, NewCall, Response
from kookoo.state.stores import CallStore, RedisStore, SQLiteStore

FALLBACK = "Sorry, please call again."
OUTAGE = "Our system is down for a moment, please call again."


class CappedSQLiteStore(SQLiteStore):
    """An SQLiteStore whose every connection may grow the file to at most ``max_pages``."""

    def __init__(self, max_pages: int, busy_timeout: float) -> None:
        super().__init__(busy_timeout=busy_timeout)
        self.max_pages = max_pages

    def _open(self) -> sqlite3.Connection:
        conn = super()._open()
        conn.execute(f"PRAGMA max_page_count = {self.max_pages:d}")
        return conn


def _store() -> CallStore:
    url = os.environ.get("KOOKOO_TEST_REDIS_URL")
    if url:
        timeout = float(os.environ["KOOKOO_TEST_REDIS_TIMEOUT"])
        return RedisStore(url, connect_timeout=timeout, socket_timeout=timeout)
    busy_timeout = float(os.environ.get("KOOKOO_TEST_BUSY_TIMEOUT", "5"))
    if max_pages := os.environ.get("KOOKOO_TEST_MAX_PAGES"):
        return CappedSQLiteStore(int(max_pages), busy_timeout)
    return SQLiteStore(busy_timeout=busy_timeout)


app = KooKoo("faults", store=_store(), fallback_prompt=FALLBACK, unavailable_prompt=OUTAGE)


@app.on_new_call
def start(event: NewCall, call: Call) -> Response:
    call.state["presses"] = []
    return Response(sid=event.sid).collect_dtmf(max_digits=1).play_text("presses none")  # type: ignore[return-value]


@app.on_dtmf
def press(event: GotDTMF, call: Call) -> Response:
    call.state["presses"].append(event.digits)
    presses = ",".join(call.state["presses"])
    return Response(sid=event.sid).collect_dtmf(max_digits=1).play_text(f"presses {presses}")  # type: ignore[return-value]
