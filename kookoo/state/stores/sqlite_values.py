"""The values of an :class:`~kookoo.state.stores.SQLiteStore`
(:meth:`~kookoo.state.stores.CallStore.update`): their table, its statements and its clean-up.

Values live in a table of their own, ``kookoo_kv``, one row per namespace and key with a
version, the JSON text and the expiry time, beside the calls' ``kookoo_calls`` (which no
statement here touches). Like the calls' table it is one B-tree (WITHOUT ROWID) without an
expiry index: an expired row is invisible to every read and write at once, and the clean-up
that removes it scans the table, which holds kookoo's few records (limits, outbound slots,
replies voice bots left), not one row per call.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["EXPIRE_BATCH", "READ", "SCHEMA", "expire_values", "write_statement"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS kookoo_kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
"""

READ = "SELECT version, data FROM kookoo_kv WHERE namespace = ? AND key = ? AND expires_at > ?"
# An expired row that the clean-up has not removed yet counts as no value at all.
_CREATE = (
    "INSERT INTO kookoo_kv (namespace, key, version, data, expires_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET version = excluded.version,"
    " data = excluded.data, expires_at = excluded.expires_at WHERE kookoo_kv.expires_at <= ?"
)
_UPDATE = (
    "UPDATE kookoo_kv SET version = ?, data = ?, expires_at = ?"
    " WHERE namespace = ? AND key = ? AND version = ? AND expires_at > ?"
)
_DELETE = "DELETE FROM kookoo_kv WHERE namespace = ? AND key = ? AND version = ? AND expires_at > ?"
# The clean-up reads expired keys in key order, each read starting after the last key the
# one before returned (as the calls' sweep does), and deletes them in short transactions.
_EXPIRED_FIRST = (
    "SELECT namespace, key FROM kookoo_kv WHERE expires_at <= ? ORDER BY namespace, key LIMIT ?"
)
_EXPIRED_AFTER = (
    "SELECT namespace, key FROM kookoo_kv WHERE (namespace, key) > (?, ?) AND expires_at <= ?"
    " ORDER BY namespace, key LIMIT ?"
)
# A save's own clean-up (background=False): one bounded batch.
EXPIRE_BATCH = (
    "DELETE FROM kookoo_kv WHERE (namespace, key) IN"
    " (SELECT namespace, key FROM kookoo_kv WHERE expires_at <= ? LIMIT ?)"
)


class _Sweeper(Protocol):
    """What the clean-up needs of an :class:`~kookoo.state.stores.SQLiteStore`."""

    cleanup_batch: int
    expire_chunk: int
    expire_pause: float

    def _execute(
        self, conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ...
    ) -> sqlite3.Cursor: ...


def write_statement(
    namespace: str,
    key: str,
    expected: int,
    version: int,
    data: str | None,
    now: float,
    ttl_seconds: float,
) -> tuple[str, tuple[object, ...]]:
    """The one statement that compare-and-sets a value (it changed a row iff it won)."""
    if data is None:
        return _DELETE, (namespace, key, expected, now)
    if expected == 0:
        return _CREATE, (namespace, key, version, data, now + ttl_seconds, now)
    return _UPDATE, (version, data, now + ttl_seconds, namespace, key, expected, now)


def expire_values(
    store: _Sweeper,
    conn: sqlite3.Connection,
    now: float,
    stop: threading.Event | None = None,
    between: Callable[[], object] | None = None,
) -> int:
    """Delete the values expired by ``now`` as ``store`` (an SQLiteStore) deletes expired
    calls: reading its ``cleanup_batch`` expired keys at a time and deleting ``expire_chunk``
    rows per write transaction; with ``stop`` (the background thread) resting
    ``expire_pause`` between chunks and ending early once it is set; ``between`` runs in each
    rest. Return how many were removed."""
    batch, pause = store.cleanup_batch, store.expire_pause
    removed = 0
    chunk = max(1, store.expire_chunk)
    last: tuple[str, str] | None = None
    while stop is None or not stop.is_set():
        if last is None:
            rows = conn.execute(_EXPIRED_FIRST, (now, batch))
        else:
            rows = conn.execute(_EXPIRED_AFTER, (*last, now, batch))
        keys = [(str(row[0]), str(row[1])) for row in rows]
        for start in range(0, len(keys), chunk):
            if start and between is not None:
                between()
            if stop is not None and stop.wait(pause if start else 0):
                return removed
            part = keys[start : start + chunk]
            marks = ",".join("(?, ?)" for _ in part)
            cursor = store._execute(
                conn,
                "DELETE FROM kookoo_kv WHERE expires_at <= ? AND (namespace, key) IN"
                f" (VALUES {marks})",
                (now, *(name for pair in part for name in pair)),
            )
            removed += cursor.rowcount
        if len(keys) < batch:
            break
        last = keys[-1]
    return removed
