"""A call store in this process's memory: for tests and single-process development."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from kookoo.state.calls import Call
from kookoo.state.stores.base import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_TTL_SECONDS,
    CallStore,
    ConflictError,
)

__all__ = ["MemoryStore"]


class MemoryStore(CallStore):
    """Keeps calls in a dict guarded by a lock. Thread-safe, but each process has its own copy,
    so it is wrong under several gunicorn workers: use :class:`~kookoo.state.stores.SQLiteStore` or
    :class:`~kookoo.state.stores.RedisStore` there.

    Calls are stored as JSON text, exactly like the other stores: a non-JSON value in
    ``call.state`` fails here too, and a loaded call shares no mutable object with the one saved.

    Values (:meth:`~kookoo.state.stores.CallStore.update`) live in a dict of their own, by
    namespace and key, apart from the calls.

    Expired records are removed lazily: a save (or a value's write) runs :meth:`expire` at
    most once every ``cleanup_interval`` seconds.

    Args:
        ttl_seconds: lifetime of a live call without activity (default 2 hours).
        grace_seconds: lifetime of an ended call after its last save (default 10 minutes).
        clock: returns the current unix time; inject a fake one in tests.
        cleanup_interval: minimum seconds between lazy clean-ups (default 60).

    Example::

        store = MemoryStore(ttl_seconds=600)
        app = KooKoo(store=store)
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        clock: Callable[[], float] = time.time,
        cleanup_interval: float = 60.0,
    ) -> None:
        super().__init__(ttl_seconds=ttl_seconds, grace_seconds=grace_seconds, clock=clock)
        self.cleanup_interval = cleanup_interval
        self._lock = threading.Lock()
        # sid -> (version, JSON text, expires_at)
        self._records: dict[str, tuple[int, str, float]] = {}
        # (namespace, key) -> (version, JSON text, expires_at)
        self._values: dict[tuple[str, str], tuple[int, str, float]] = {}
        self._next_cleanup = clock() + cleanup_interval
        self.name = f"MemoryStore of process {os.getpid()}"

    recent_limit = 1024

    def _is_current(self, call: Call) -> bool:
        record = self._records.get(call.sid)
        return record is not None and record[0] == call.version

    def __len__(self) -> int:
        """Number of call records held, including expired ones not yet removed (values are
        not counted)."""
        return len(self._records)

    def load(self, sid: str) -> Call | None:
        """Return the live call with this sid, or ``None``."""
        now = self.clock()
        with self._lock:
            record = self._records.get(sid)
        if record is None or record[2] <= now:
            return None
        return Call.from_json(record[1], version=record[0])

    def save(self, call: Call) -> None:
        """Compare-and-set ``call`` on its version; see :meth:`CallStore.save`."""
        data = call.to_json()  # before taking the lock: a CallStateError must store nothing
        now = self.clock()
        expires_at = now + self.lifetime(call)
        with self._lock:
            record = self._records.get(call.sid)
            found = 0 if record is None or record[2] <= now else record[0]
            if found != call.version:
                raise ConflictError(call.sid, call.version, found)
            self._records[call.sid] = (found + 1, data, expires_at)
            call.version = found + 1
            if now >= self._next_cleanup:
                self._next_cleanup = now + self.cleanup_interval
                self._expire_locked(now)

    def delete(self, sid: str) -> None:
        """Remove the call with this sid, if any."""
        self.forget(sid)
        with self._lock:
            self._records.pop(sid, None)

    def expire(self, now: float | None = None) -> int:
        """Remove records expired by ``now``; return how many."""
        when = self.clock() if now is None else now
        with self._lock:
            return self._expire_locked(when)

    def _expire_locked(self, now: float) -> int:
        dead = [sid for sid, record in self._records.items() if record[2] <= now]
        for sid in dead:
            del self._records[sid]
        gone = [name for name, value in self._values.items() if value[2] <= now]
        for name in gone:
            del self._values[name]
        return len(dead) + len(gone)

    def read_value(self, namespace: str, key: str) -> tuple[int, str | None]:
        value = self._values.get((namespace, key))
        if value is None or value[2] <= self.clock():
            return 0, None
        return value[0], value[1]

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
        name = (namespace, key)
        with self._lock:
            value = self._values.get(name)
            found = 0 if value is None or value[2] <= now else value[0]
            if found != expected:
                return False
            if data is None:
                self._values.pop(name, None)
            else:
                self._values[name] = (version, data, now + ttl_seconds)
            if now >= self._next_cleanup:
                self._next_cleanup = now + self.cleanup_interval
                self._expire_locked(now)
        return True

    def close(self) -> None:
        """Nothing to release; records stay until the store is garbage-collected."""
