"""The default call store: an SQLite file shared by every worker process on one machine."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from pathlib import Path

from kookoo.core.settings import Settings
from kookoo.state.calls import Call
from kookoo.state.stores import sqlite_values as values
from kookoo.state.stores.base import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_TTL_SECONDS,
    CallStore,
    ConflictError,
    StoreUnavailableError,
)
from kookoo.state.stores.version_board import VersionBoard, open_board

__all__ = ["DEFAULT_DB_FILENAME", "SQLiteStore"]

logger = logging.getLogger("kookoo")

DEFAULT_DB_FILENAME = "kookoo-calls.sqlite3"
"""The file :class:`SQLiteStore` uses in the current directory when neither a path nor
``KOOKOO_DB`` is given."""

# One B-tree keyed by sid (WITHOUT ROWID) and no index on expires_at: every request writes a
# row, while expiry runs at most once a minute per process, so the write is what to keep cheap
# (measured: 30 us per insert with a rowid table and an expiry index, 19.5 us like this).  The
# lazy clean-up scans the table instead, bounded by cleanup_batch rows deleted per pass.
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS kookoo_calls (
    sid TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
"""
    + values.SCHEMA  # the values' table (CallStore.update): see sqlite_values
)

_LOAD = "SELECT version, data FROM kookoo_calls WHERE sid = ? AND expires_at > ?"
_FOUND = "SELECT version FROM kookoo_calls WHERE sid = ? AND expires_at > ?"
_UPDATE = (
    "UPDATE kookoo_calls SET version = version + 1, data = ?, expires_at = ?"
    " WHERE sid = ? AND version = ? AND expires_at > ?"
)
# An expired row that expire() has not removed yet must not block a new call with its sid.
_CREATE = (
    "INSERT INTO kookoo_calls (sid, version, data, expires_at) VALUES (?, 1, ?, ?)"
    " ON CONFLICT (sid) DO UPDATE SET version = 1, data = excluded.data,"
    " expires_at = excluded.expires_at WHERE kookoo_calls.expires_at <= ?"
)
_DELETE = "DELETE FROM kookoo_calls WHERE sid = ?"
# Starts (and commits) a write transaction that changes nothing: SQLite opens a file it may not
# write read-only without a word, even with mode=rw, and only a write attempt tells.
_WRITE_PROBE = "DELETE FROM kookoo_calls WHERE 0"
# The clean-up sweep walks the table in key order, each read starting after the last sid
# the one before returned, so one sweep reads every row once (re-reading from the start each
# time walked past every live row again: quadratic in the backlog, and a core busy on it).
# The first read has no lower bound: "" is a sid like any other.
_EXPIRED_FIRST = "SELECT sid FROM kookoo_calls WHERE expires_at <= ? ORDER BY sid LIMIT ?"
_EXPIRED_AFTER = (
    "SELECT sid FROM kookoo_calls WHERE sid > ? AND expires_at <= ? ORDER BY sid LIMIT ?"
)
_EXPIRE_BATCH = (
    "DELETE FROM kookoo_calls WHERE sid IN"
    " (SELECT sid FROM kookoo_calls WHERE expires_at <= ? LIMIT ?)"
)

# SQLITE_BUSY and SQLITE_LOCKED: another connection holds a lock this statement needs.
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
# How a statement that found the database busy waits before trying again (seconds): short
# and growing to 1 ms. SQLite's own busy handler sleeps 1, 2, 5, 10, 15 ms... so a request
# that found a 2 ms clean-up chunk in its way waited 3-8 ms; this waits about as long as
# the lock is held, plus a tenth of a millisecond.
_FIRST_BUSY_WAIT = 0.00005
_LONGEST_BUSY_WAIT = 0.001
# See journal_size_limit in SQLiteStore._open.
_WAL_CUT_BACK_BYTES = 256 * 1024 * 1024
# How often the background thread looks whether a checkpoint is due (seconds).
_CHECKPOINT_TICK = 0.05


def _is_busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY_CODES


# One descriptor per database file (by device and inode: a file replaced at the same path is
# another file), opened once per process tree and never closed: closing any descriptor of a
# file drops every POSIX lock this process holds on it, SQLite's too.
_FLUSH_FDS: dict[tuple[int, int], int] = {}
_FLUSH_FDS_LOCK = threading.Lock()


def _flush_to_disk(path: str) -> None:
    """Write the database file's pages that are still only in memory out to disk
    (``fdatasync``), best effort; SQLite syncs again itself, with little left to write."""
    try:
        found = os.stat(path)
        key = (found.st_dev, found.st_ino)
        with _FLUSH_FDS_LOCK:
            fd = _FLUSH_FDS.get(key)
            if fd is None:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                opened = os.fstat(fd)
                # (if the file was replaced between stat and open, file it under its own key)
                _FLUSH_FDS[(opened.st_dev, opened.st_ino)] = fd
        os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)
    except OSError as exc:
        logger.debug("could not flush %s ahead of a checkpoint: %s", path, exc)


# Every live store, so a fork can make the child drop connections it inherited.
_STORES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._forget_connections()


os.register_at_fork(after_in_child=_after_fork_in_child)


class SQLiteStore(CallStore):
    """Keeps calls in an SQLite database file; safe for several processes on one machine.

    This is kookoo's default store. gunicorn workers (processes) and their threads all share
    the file: SQLite runs in WAL mode (readers never block the writer), waits up to
    ``busy_timeout`` seconds for a lock, and every save is a single compare-and-set statement,
    so two workers handling the same call cannot overwrite each other
    (:class:`~kookoo.state.stores.ConflictError`). For several machines use
    :class:`~kookoo.state.stores.RedisStore`.

    The database file is, in order: ``path`` if given; else the ``KOOKOO_DB`` environment
    variable; else ``kookoo-calls.sqlite3`` in the current working directory. It is resolved to
    an absolute path when the store is created. The file and its tables (``kookoo_calls``;
    ``kookoo_kv`` for the values, see :mod:`~kookoo.state.stores.sqlite_values`) are created on
    first use. Beside it live SQLite's ``-wal`` and ``-shm`` files and kookoo's
    ``-kookoo-versions`` (1 MiB, the :mod:`~kookoo.state.stores.version_board`: the version each
    call was last saved at, shared by the processes, so a request of a call this process
    served last runs one statement, its save, instead of two).

    A statement that finds the database locked by another connection (a save of another
    worker, a clean-up chunk) tries again after 50 µs, doubling to 1 ms, until
    ``busy_timeout``: it waits about as long as the lock is held (SQLite's own busy handler
    sleeps 1, 2, 5, 10 ms...).

    Connections are opened lazily, never shared by two threads at once (a small pool), and
    reopened in a child process after ``fork``: gunicorn imports the app (and creates this
    store) in its master process, then forks workers, and an SQLite connection must not cross a
    fork.

    Each connection is opened read-write and checked with a write that changes nothing, so a
    file this process cannot write fails at once with
    :class:`~kookoo.state.stores.StoreUnavailableError` naming the file (and ``KOOKOO_DB`` when the
    path came from it), instead of a connection that reads but silently cannot save. Any
    SQLite error (read-only file, full disk or a full database, a lock held past
    ``busy_timeout``) is raised as :class:`~kookoo.state.stores.StoreUnavailableError` and the
    connection that raised it is closed, never reused: once the file is writable again the
    next request opens a fresh connection and works, without restarting the workers.

    Housekeeping stays off the request path (``background=True``, the default): each process
    that saves runs one daemon thread that copies the WAL into the database
    (``PRAGMA wal_checkpoint(PASSIVE)``, every ``checkpoint_interval`` seconds, or as soon
    as the process saved :attr:`checkpoint_saves` times since the last one; request
    connections never checkpoint) and, every ``cleanup_interval`` seconds, deletes expired
    records: it walks the table in key order with reads (which never block a writer in WAL
    mode), each starting where the last stopped, and deletes what they found in short write
    transactions of :attr:`expire_chunk` rows, so a request waits at most for one such
    chunk; checkpoints that fall due meanwhile run between the chunks. A checkpoint only
    copies committed pages, so durability is the same. Expired values go the same way.
    With ``background=False`` a save (or a value's write) deletes a bounded batch itself, at
    most once every ``cleanup_interval`` seconds, and SQLite checkpoints inside the commit
    that fills the WAL (the behaviour before 0.3). No cron job is needed either way.

    Args:
        path: the database file (see above for the default).
        ttl_seconds: lifetime of a live call without activity (default 2 hours).
        grace_seconds: lifetime of an ended call after its last save (default 10 minutes).
        clock: returns the current unix time; inject a fake one in tests.
        cleanup_interval: minimum seconds between clean-ups per process (default 60).
        busy_timeout: seconds to wait for another process's write lock (default 5).
        background: run checkpoints and clean-up in a thread of each process (default True).
        checkpoint_interval: seconds between the background thread's checkpoints (default 1).

    Example::

        app = KooKoo(store=SQLiteStore("/var/lib/myivr/calls.sqlite3", grace_seconds=300))
    """

    cleanup_batch = 500
    """Most rows one clean-up in a request deletes (``background=False``), so no request pays
    for a large backlog; the sweep of the background thread and of :meth:`expire` reads this
    many expired sids at a time."""
    expire_chunk = 16
    """Rows the background clean-up deletes per write transaction (each holds the write lock
    for well under a millisecond)."""
    wal_busy_frames = 1000
    """WAL size (4 KB frames) past which the background thread checkpoints every 50 ms
    instead of every ``checkpoint_interval``, so one finishes between two writes and the
    WAL starts over."""
    checkpoint_saves = 256
    """Saves by this process after which its background thread checkpoints without waiting
    for ``checkpoint_interval`` (it looks every 50 ms). A checkpoint first syncs the WAL,
    and syncing a file that writers are appending to holds them up for as long as it has
    data to write out (measured on ext4: saves waited 6-9 ms while a checkpoint synced the
    13,000-20,000 frames one second of saves without pause had written), so no checkpoint
    is left with more than a few hundred frames to sync."""
    wal_restart_frames = 4096
    """WAL size (4 KB frames, 16 MB) past which the background checkpoint makes the WAL
    start over (a RESTART checkpoint, which holds writers off while it copies the last
    :attr:`wal_restart_left` frames or fewer and syncs), so it cannot grow without bound
    under load that never pauses between two writes long enough for a passive checkpoint
    to finish."""
    wal_restart_left = 32
    """Frames a RESTART checkpoint may be left to copy: passive ones run first until one
    copies at most this many (up to :attr:`wal_restart_passes` of them), so what is left is
    what the writers added during that short pass (measured at 1 M calls under saves that
    never pause: with 256, RESTART held the writers 4-8 ms; with 32, 0.5-2.8 ms)."""
    wal_restart_passes = 16
    """Most passive passes (each after a flush of the database file) ahead of a RESTART."""
    expire_pause = 0.005
    """Seconds the background clean-up rests between two chunks, so a request waiting for
    the write lock gets it first (it tries again within a millisecond: a clean-up that took
    the lock again at once could make it wait for several chunks)."""
    max_idle_connections = 8
    """Idle connections kept per process; extra ones are closed when returned."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        clock: Callable[[], float] = time.time,
        cleanup_interval: float = 60.0,
        busy_timeout: float = 5.0,
        background: bool = True,
        checkpoint_interval: float = 1.0,
    ) -> None:
        super().__init__(ttl_seconds=ttl_seconds, grace_seconds=grace_seconds, clock=clock)
        configured = Settings.from_environ(only=["db"]).db if path is None else None
        chosen = os.fspath(path) if path is not None else configured or DEFAULT_DB_FILENAME
        if chosen in ("", ":memory:") or chosen.startswith("file:"):
            raise ValueError(
                f"SQLiteStore needs a database file path, got {chosen!r}; "
                "for an in-process store use MemoryStore"
            )
        self.path = os.path.abspath(chosen)
        if path is not None:
            where = ""
        elif configured:
            where = " (from KOOKOO_DB)"
        else:
            where = " (the default in the working directory; set KOOKOO_DB to choose the file)"
        # The file, and KOOKOO_DB when the path came from it (or could choose it).
        self.name = f"SQLite database {self.path}{where}"
        self.cleanup_interval = cleanup_interval
        self.busy_timeout = busy_timeout
        self.background = background
        self.checkpoint_interval = checkpoint_interval
        self._maintenance: _Maintenance | None = None
        self._next_cleanup = self._next_values_cleanup = clock() + cleanup_interval
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle: list[sqlite3.Connection] = []
        self._busy: set[sqlite3.Connection] = set()
        # Connections that belong to the parent of a fork. Closing them in the child could
        # checkpoint and delete the parent's WAL, so they are kept referenced and never used.
        self._inherited: list[sqlite3.Connection] = []
        # The background thread's connection, so a fork can keep it from being closed too.
        self._thread_conns: list[sqlite3.Connection] = []
        self._generation = 0
        self._schema_ready = False
        # Opened with the first connection (the database's directory exists by then).
        self._board: VersionBoard | None = None
        self._board_tried = False
        # Saves since the background thread's last checkpoint (advice: not locked).
        self._saves_since_checkpoint = 0
        _STORES.add(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    # -- connections -------------------------------------------------------------------------

    def _forget_connections(self) -> None:
        """Called in a forked child: abandon the parent's connections and lock."""
        self._inherited.extend(self._idle)
        self._inherited.extend(self._busy)
        self._inherited.extend(self._thread_conns)
        self._thread_conns = []
        self._idle = []
        self._busy = set()
        self._lock = threading.Lock()  # the parent's may have been held at fork time
        self._pid = os.getpid()
        self._maintenance = None  # threads do not survive a fork; the child starts its own

    def _unavailable(self, exc: sqlite3.Error, doing: str = "") -> StoreUnavailableError:
        cause = f"{doing}{exc}"
        if _is_busy(exc):
            cause += (
                f" (another connection held it longer than busy_timeout={self.busy_timeout:g} s)"
            )
        return StoreUnavailableError(self.name, cause)

    def _open(self) -> sqlite3.Connection:
        try:
            # mode=rwc: read-write, creating the file on first use; never the read-only mode.
            conn = sqlite3.connect(
                Path(self.path).as_uri() + "?mode=rwc",
                uri=True,
                # No SQLite busy handler (it sleeps 1, 2, 5, 10 ms...): _execute retries a
                # statement that found the database busy at a finer grain, up to busy_timeout.
                timeout=0,
                isolation_level=None,  # autocommit: each statement below is its own transaction
                check_same_thread=False,  # the pool hands a connection to one thread at a time
            )
        except sqlite3.Error as exc:
            raise self._unavailable(exc, "cannot open it: ") from exc
        try:
            if not self._schema_ready:
                self._create_schema(conn)
                self._schema_ready = True
            # Durable at every checkpoint; a power cut can lose the last moments of call
            # state, which is an acceptable trade for not syncing on every request.
            conn.execute("PRAGMA synchronous = NORMAL")
            if self.background:
                # The background thread checkpoints; a commit never does it for a request.
                conn.execute("PRAGMA wal_autocheckpoint = 0")
                # When the WAL starts over, its file is cut back to this size (bytes). The
                # cut is made by the next writer, under the write lock, and freeing file
                # space is slow (measured: 72 ms to cut 250 MB back to 16 MB), so the limit
                # is far above what the WAL reaches between two background passes: it only
                # applies after something kept the WAL from starting over for a long time.
                conn.execute(f"PRAGMA journal_size_limit = {_WAL_CUT_BACK_BYTES}")
            self._execute(conn, _WRITE_PROBE)
        except sqlite3.Error as exc:
            conn.close()
            raise self._unavailable(exc, "cannot open it for writing: ") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.002
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                # Switching a new file to WAL needs a lock that SQLite does not wait for (it
                # skips the busy handler to avoid deadlock), so workers starting together on
                # a fresh file would fail here; they retry until busy_timeout instead.
                busy = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _execute(
        self, conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()
    ) -> sqlite3.Cursor:
        """``conn.execute``; a statement that finds the database locked by another connection
        is tried again after a short wait (50 µs, doubling to 1 ms) until ``busy_timeout``.

        Every statement runs in autocommit mode, so a busy one did nothing and is safe to
        repeat.
        """
        try:
            return conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        deadline = time.monotonic() + self.busy_timeout
        wait = _FIRST_BUSY_WAIT
        while True:
            time.sleep(wait)
            try:
                return conn.execute(sql, params)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            wait = min(wait * 2, _LONGEST_BUSY_WAIT)

    def _acquire(self) -> tuple[sqlite3.Connection, int]:
        if self._pid != os.getpid():  # a fork that bypassed os.register_at_fork hooks
            self._forget_connections()
        with self._lock:
            conn = self._idle.pop() if self._idle else None
            generation = self._generation
        if conn is None:
            conn = self._open()
            if not self._board_tried:
                self._board_tried = True
                self._board = open_board(self.path)
        with self._lock:
            self._busy.add(conn)
        return conn, generation

    def _release(self, conn: sqlite3.Connection, generation: int, broken: bool = False) -> None:
        """Return ``conn`` to the pool, or close it; a ``broken`` one (it raised) never returns."""
        with self._lock:
            if conn not in self._busy:  # fork happened while it was out: it is the parent's
                return
            self._busy.discard(conn)
            if (
                not broken
                and generation == self._generation
                and len(self._idle) < self.max_idle_connections
            ):
                self._idle.append(conn)
                return
        conn.close()

    # -- CallStore ---------------------------------------------------------------------------

    recent_limit = 1024

    def _is_current(self, call: Call) -> bool:
        """Is ``call`` still the stored version? The version board says so without a query
        (see :mod:`kookoo.state.stores.version_board`); else one indexed version lookup."""
        board = self._board
        if board is not None:
            posted = board.version(call.sid)
            if posted is not None:
                return posted == call.version
        now = self.clock()
        conn, generation = self._acquire()
        broken = False
        try:
            row = self._execute(conn, _FOUND, (call.sid, now)).fetchone()
        except sqlite3.Error as exc:
            broken = True
            raise self._unavailable(exc) from exc
        finally:
            self._release(conn, generation, broken)
        return row is not None and row[0] == call.version

    def load(self, sid: str) -> Call | None:
        """Return the live call with this sid, or ``None``."""
        now = self.clock()
        conn, generation = self._acquire()
        broken = False
        try:
            row = self._execute(conn, _LOAD, (sid, now)).fetchone()
        except sqlite3.Error as exc:
            broken = True
            raise self._unavailable(exc) from exc
        finally:
            self._release(conn, generation, broken)
        if row is None:
            return None
        return Call.from_json(row[1], version=row[0])

    def save(self, call: Call) -> None:
        """Compare-and-set ``call`` on its version; see :meth:`CallStore.save`."""
        data = call.to_json()
        now = self.clock()
        expires_at = now + self.lifetime(call)
        if self.background and self._maintenance is None:
            self._start_maintenance()
        conn, generation = self._acquire()
        broken = False
        try:
            if call.version == 0:
                cursor = self._execute(conn, _CREATE, (call.sid, data, expires_at, now))
            else:
                cursor = self._execute(
                    conn, _UPDATE, (data, expires_at, call.sid, call.version, now)
                )
            if cursor.rowcount != 1:
                row = self._execute(conn, _FOUND, (call.sid, now)).fetchone()
                raise ConflictError(call.sid, call.version, 0 if row is None else row[0])
            if self._board is not None:
                self._board.post(call.sid, call.version + 1)
            self._saves_since_checkpoint += 1
        except sqlite3.Error as exc:
            broken = True
            self._release(conn, generation, broken)
            raise self._unavailable(exc) from exc
        except BaseException:
            self._release(conn, generation)
            raise
        call.version += 1
        try:
            if not self.background and now >= self._next_cleanup:
                self._next_cleanup = now + self.cleanup_interval
                self._execute(conn, _EXPIRE_BATCH, (now, self.cleanup_batch))
        except sqlite3.Error:
            # Busy or locked: clean-up is best effort and must not fail a request whose own
            # save already succeeded; the next interval tries again, on another connection.
            broken = True
        finally:
            self._release(conn, generation, broken)

    def delete(self, sid: str) -> None:
        """Remove the call with this sid, if any."""
        self.forget(sid)
        conn, generation = self._acquire()
        broken = False
        try:
            self._execute(conn, _DELETE, (sid,))
            if self._board is not None:
                self._board.post(sid, 0)
        except sqlite3.Error as exc:
            broken = True
            raise self._unavailable(exc) from exc
        finally:
            self._release(conn, generation, broken)

    def expire(self, now: float | None = None) -> int:
        """Remove every record expired by ``now``, in chunks of :attr:`expire_chunk` rows
        (the background thread's sweep, without its rests); return how many."""
        when = self.clock() if now is None else now
        conn, generation = self._acquire()
        broken = False
        try:
            return self._expire_in_chunks(conn, when) + values.expire_values(self, conn, when)
        except sqlite3.Error as exc:
            broken = True
            raise self._unavailable(exc) from exc
        finally:
            self._release(conn, generation, broken)

    # -- values (CallStore.update); the SQL is in sqlite_values ------------------------------

    def read_value(self, namespace: str, key: str) -> tuple[int, str | None]:
        now = self.clock()
        conn, generation = self._acquire()
        broken = False
        try:
            row = self._execute(conn, values.READ, (namespace, key, now)).fetchone()
        except sqlite3.Error as exc:
            broken = True
            raise self._unavailable(exc) from exc
        finally:
            self._release(conn, generation, broken)
        return (0, None) if row is None else (int(row[0]), str(row[1]))

    def write_value(
        self,
        namespace: str,
        key: str,
        expected: int,
        version: int,
        data: str | None,
        ttl_seconds: float,
    ) -> bool:
        now = self.clock()
        sql, params = values.write_statement(
            namespace, key, expected, version, data, now, ttl_seconds
        )
        if self.background and self._maintenance is None:
            self._start_maintenance()
        conn, generation = self._acquire()
        broken = False
        try:
            won = self._execute(conn, sql, params).rowcount == 1
            self._saves_since_checkpoint += 1
            if not self.background and now >= self._next_values_cleanup:
                self._next_values_cleanup = now + self.cleanup_interval
                try:
                    self._execute(conn, values.EXPIRE_BATCH, (now, self.cleanup_batch))
                except sqlite3.Error:
                    broken = True  # best effort, as a save's clean-up: the write went through
        except sqlite3.Error as exc:
            broken = True
            raise self._unavailable(exc) from exc
        finally:
            self._release(conn, generation, broken)
        return won

    def _start_maintenance(self) -> None:
        with self._lock:
            if self._maintenance is not None:
                return
            self._maintenance = _Maintenance(self)
        self._maintenance.start()

    def maintain(self, now: float | None = None) -> tuple[int, int]:
        """One pass of the background thread's work, in the calling thread: checkpoint the
        WAL (passive: it waits for nobody) and delete expired records in short chunks.

        Returns (WAL pages copied into the database, records removed).

        Raises:
            StoreUnavailableError: the file cannot be opened or written.
        """
        when = self.clock() if now is None else now
        conn, generation = self._acquire()
        broken = False
        try:
            copied = self._checkpoint(conn)[1]
            removed = self._expire_in_chunks(conn, when)
            return copied, removed + values.expire_values(self, conn, when)
        except sqlite3.Error as exc:
            broken = True
            raise self._unavailable(exc) from exc
        finally:
            self._release(conn, generation, broken)

    def _checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """A passive checkpoint, and a RESTART after it when the WAL is past
        :attr:`wal_restart_frames`; (frames in the WAL, frames copied)."""
        frames, copied = self._passive_checkpoint(conn)
        if frames >= self.wal_restart_frames:
            # The WAL starts over when a writer finds it fully copied; under load so steady
            # that no passive checkpoint ever finishes between two writes, it would grow
            # without end. The last resort is a RESTART checkpoint, which holds writers off
            # while it copies what is left and syncs. So that this is short, passive passes
            # first copy all but the last few frames; and it does not wait (no busy handler
            # on this connection): when a writer or a reader is in the way it gives up at
            # once and the next pass tries again.
            # (A pass reports the frames it found at its start; what the writers added
            # while it copied is what the next pass copies.)
            for _ in range(self.wal_restart_passes):
                # A passive pass that never caught up with the writers never synced the
                # database file: what it copied is still only in memory, and RESTART would
                # write it all out under the write lock (measured: 170 ms for 130 MB).
                # Flush it here, holding no SQLite lock.
                _flush_to_disk(self.path)
                # Then copy what the writers added during the flush: RESTART starts right
                # after a pass, so it is left only what they wrote during that (short) pass.
                before = copied
                frames, copied = self._passive_checkpoint(conn)
                if copied - before <= self.wal_restart_left:
                    break
            conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        return frames, copied

    @staticmethod
    def _passive_checkpoint(conn: sqlite3.Connection) -> tuple[int, int]:
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        frames = int(row[1]) if row is not None and row[1] > 0 else 0
        copied = int(row[2]) if row is not None and row[2] > 0 else 0
        return frames, copied

    def _expire_in_chunks(
        self,
        conn: sqlite3.Connection,
        now: float,
        stop: threading.Event | None = None,
        between: Callable[[], object] | None = None,
    ) -> int:
        """Delete what expired by ``now`` in chunks; with ``stop`` (the background thread),
        rest between chunks and end early when it is set; ``between`` runs in each rest (the
        thread's checkpoints, which a long clean-up must not hold off)."""
        removed = 0
        chunk = max(1, self.expire_chunk)
        last: str | None = None
        while stop is None or not stop.is_set():
            # A read: it holds no lock a writer waits for, however long the scan takes.
            if last is None:
                rows = conn.execute(_EXPIRED_FIRST, (now, self.cleanup_batch))
            else:
                rows = conn.execute(_EXPIRED_AFTER, (last, now, self.cleanup_batch))
            sids = [row[0] for row in rows]
            for start in range(0, len(sids), chunk):
                if start and between is not None:
                    between()
                if stop is not None and stop.wait(self.expire_pause if start else 0):
                    return removed
                part = sids[start : start + chunk]
                marks = ",".join("?" * len(part))
                cursor = self._execute(
                    conn,
                    f"DELETE FROM kookoo_calls WHERE expires_at <= ? AND sid IN ({marks})",
                    (now, *part),
                )
                removed += cursor.rowcount
            if len(sids) < self.cleanup_batch:
                break
            last = sids[-1]
        return removed

    def close(self) -> None:
        """Close this process's idle connections; ones in use close when returned; stop the
        background thread.

        The store stays usable: the next call opens a new connection (and thread).
        """
        with self._lock:
            maintenance, self._maintenance = self._maintenance, None
        if maintenance is not None and maintenance.pid == os.getpid():
            maintenance.stop()
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Maintenance(threading.Thread):
    """The background thread of one store in one process: checkpoints and expiry."""

    def __init__(self, store: SQLiteStore) -> None:
        super().__init__(name=f"kookoo-sqlite-maintenance-{os.getpid()}", daemon=True)
        # Weak: a store nobody uses any more is collected, and its thread ends.
        self._store = weakref.ref(store)
        self._stop_event = threading.Event()
        self.pid = os.getpid()
        self._next_cleanup = store.clock() + store.cleanup_interval
        self._interval = max(0.01, store.checkpoint_interval)
        self._checkpoint_due = time.monotonic() + self._interval

    def stop(self) -> None:
        """Ask the thread to end and wait briefly for it (it finishes the chunk it is on)."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)

    def run(self) -> None:
        conn: sqlite3.Connection | None = None
        # The thread looks every tick whether a checkpoint is due (a clock and a counter read
        # when it is not), so a burst of saves is checkpointed in small steps.
        tick = min(self._interval, _CHECKPOINT_TICK)
        try:
            while not self._stop_event.wait(tick):
                store = self._store()
                if store is None or os.getpid() != self.pid:
                    return
                try:
                    if conn is None:
                        conn = store._open()
                        with store._lock:
                            store._thread_conns.append(conn)
                    self._checkpoint_if_due(store, conn)
                    now = store.clock()
                    if now >= self._next_cleanup:
                        self._next_cleanup = now + store.cleanup_interval
                        between = partial(self._checkpoint_if_due, store, conn)
                        store._expire_in_chunks(conn, now, self._stop_event, between)
                        values.expire_values(store, conn, now, self._stop_event, between)
                except Exception as exc:
                    # Busy, locked or unwritable: housekeeping is best effort; requests report
                    # the store's trouble themselves. Try again on a fresh connection.
                    logger.debug("%s: background checkpoint or clean-up failed: %s", store, exc)
                    if conn is not None:
                        self._drop(store, conn)
                    conn = None
                del store
        finally:
            store = self._store()
            if conn is not None and store is not None and os.getpid() == self.pid:
                self._drop(store, conn)

    def _checkpoint_if_due(self, store: SQLiteStore, conn: sqlite3.Connection) -> None:
        """Checkpoint when ``checkpoint_interval`` has passed (a tick while the WAL is
        large), or sooner once this process saved :attr:`SQLiteStore.checkpoint_saves`
        times since the last one."""
        if (
            time.monotonic() < self._checkpoint_due
            and store._saves_since_checkpoint < store.checkpoint_saves
        ):
            return
        store._saves_since_checkpoint = 0
        frames = store._checkpoint(conn)[0]
        busy = frames >= store.wal_busy_frames
        self._checkpoint_due = time.monotonic() + (
            min(self._interval, _CHECKPOINT_TICK) if busy else self._interval
        )

    @staticmethod
    def _drop(store: SQLiteStore, conn: sqlite3.Connection) -> None:
        with store._lock:
            if conn not in store._thread_conns:
                return  # a fork made it the parent's: never close it here
            store._thread_conns.remove(conn)
        conn.close()
