"""The interface every call store implements, and the errors it raises: a lost race
(:class:`ConflictError`) and a backend that cannot be reached or cannot write
(:class:`StoreUnavailableError`)."""

from __future__ import annotations

import abc
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from kookoo.core.errors import KooKooError
from kookoo.state.calls import Call

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "DEFAULT_TTL_SECONDS",
    "CallStore",
    "ConflictError",
    "StoreUnavailableError",
]

DEFAULT_TTL_SECONDS = 2 * 60 * 60.0
"""A live call with no saved activity for this long (2 hours) expires."""

DEFAULT_GRACE_SECONDS = 10 * 60.0
"""An ended call is kept this long (10 minutes) after it was last saved, for late events."""


# Guards every store's recent-call cache (held only for a few dict operations).
_recent_lock = threading.Lock()


def _new_lock_in_child() -> None:
    global _recent_lock
    _recent_lock = threading.Lock()  # the parent's may have been held at fork time


os.register_at_fork(after_in_child=_new_lock_in_child)


class ConflictError(KooKooError):
    """Another request changed (or created, or removed) the call since this one loaded it.

    Stores use optimistic concurrency: :meth:`CallStore.save` writes only if the stored version
    is still the one the call was loaded with. The losing request gets this error; the app's
    policy decides whether to reload and retry or to play a fallback prompt.

    Attributes:
        sid: the call's sid.
        expected: the version the saving request loaded (0: it meant to create the call).
        found: the version now stored; 0 when there is no live record (deleted or expired).
    """

    def __init__(self, sid: str, expected: int, found: int) -> None:
        self.sid = sid
        self.expected = expected
        self.found = found
        if found == 0:
            detail = "found no record: it was deleted or has expired"
        else:
            detail = f"found {found}"
        super().__init__(
            f"call {sid} was changed by another request (expected version {expected}, {detail})"
        )

    def __reduce__(self) -> tuple[type[ConflictError], tuple[str, int, int]]:
        # Keeps the error picklable across processes despite the custom __init__.
        return (type(self), (self.sid, self.expected, self.found))


class StoreUnavailableError(KooKooError):
    """The store cannot be reached or cannot write right now; the call itself is not at fault.

    Raised by :meth:`CallStore.load`, :meth:`CallStore.save` and :meth:`CallStore.delete` when
    the backend fails: Redis refuses the connection, does not answer within its timeout, or
    refuses writes (out of memory, read-only replica); the SQLite file cannot be opened for
    writing, the disk or database is full, or another process held its lock past
    ``busy_timeout``. The original error is chained (``__cause__``). The store drops the
    connection that failed, so once the backend is back the next request works again, without
    restarting the process. :class:`~kookoo.state.stores.MemoryStore` never raises it.

    A save that raised it usually stored nothing; but when the connection broke after the
    command was sent (a timeout, Redis dying before it replied), the write may still have been
    applied. The next load shows which version is stored, and versions keep later saves
    consistent.

    It is distinct from :class:`ConflictError` (a concurrent request won a race) and from
    :class:`~kookoo.state.calls.CallStateError` (the call's data cannot be stored as JSON).

    Attributes:
        store: which store, e.g. ``SQLite database /var/lib/ivr/calls.sqlite3 (from KOOKOO_DB)``
            or ``Redis at 10.0.0.5:6379/0`` (never a password).
        cause: what went wrong, in the backend's words.
    """

    def __init__(self, store: str, cause: str) -> None:
        self.store = store
        self.cause = cause
        super().__init__(f"{store} is unavailable: {cause}")

    def __reduce__(self) -> tuple[type[StoreUnavailableError], tuple[str, str]]:
        # Keeps the error picklable across processes despite the custom __init__.
        return (type(self), (self.store, self.cause))


class CallStore(abc.ABC):
    """Where :class:`~kookoo.state.calls.Call` objects live between KooKoo's requests.

    Implementations: :class:`~kookoo.state.stores.MemoryStore` (one process; tests),
    :class:`~kookoo.state.stores.SQLiteStore` (the default; several processes on one machine) and
    :class:`~kookoo.state.stores.RedisStore` (many machines).

    Lifecycle: each save sets the record's expiry. A live call expires ``ttl_seconds`` after its
    last save; an ended call (:attr:`Call.ended`) is kept ``grace_seconds`` after its last save
    so late events (a Disconnect after a Hangup, a delayed callback) still find it. An expired
    record is never returned by :meth:`load`, even before :meth:`expire` physically removes it;
    no cron job is needed.

    Args:
        ttl_seconds: lifetime of a live call without activity (default 2 hours).
        grace_seconds: lifetime of an ended call after its last save (default 10 minutes).
        clock: returns the current unix time; inject a fake one in tests. Stores whose backend
            keeps time itself (Redis) ignore it.
    """

    ttl_seconds: float
    """Lifetime of a live call with no activity, in seconds."""
    grace_seconds: float
    """Lifetime of an ended call after its last save, in seconds."""
    clock: Callable[[], float]
    """The store's idea of now (unix seconds)."""
    name: str
    """How errors and logs name this store, e.g. ``Redis at 10.0.0.5:6379/0``; never a secret."""

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds!r}")
        if not grace_seconds > 0:
            raise ValueError(f"grace_seconds must be positive, got {grace_seconds!r}")
        self.ttl_seconds = float(ttl_seconds)
        self.grace_seconds = float(grace_seconds)
        self.clock = clock
        self.name = type(self).__name__

    recent_limit: int = 0
    """How many calls :meth:`remember` keeps per process (0: none, the default for stores
    that do not opt in). Kookoo's stores keep 1024."""

    def remember(self, call: Call) -> None:
        """Keep ``call`` (just saved by this process, at its current version) for
        :meth:`recall`, so the call's next request in this process can skip the load.

        The session calls it after a request's final, successful save; the object is then
        owned by the cache until :meth:`recall` hands it out again (once).
        """
        limit = self.recent_limit
        if limit <= 0:
            return
        expires_at = self.clock() + self.lifetime(call)
        with _recent_lock:
            recent = self._recent_calls()
            recent.pop(call.sid, None)
            recent[call.sid] = (call, expires_at)
            while len(recent) > limit:
                del recent[next(iter(recent))]

    def recall(self, sid: str) -> Call | None:
        """The call :meth:`remember` kept for ``sid`` if it is still the stored version as
        far as this store can tell cheaply, else ``None`` (then :meth:`load` it).

        The entry is removed either way: a recalled call is handed out once. A stale one
        (another process saved the call since, unnoticed) makes the request's save raise
        :class:`ConflictError`, and the request runs again on the loaded call.
        """
        if self.recent_limit <= 0:
            return None
        with _recent_lock:
            entry = self._recent_calls().pop(sid, None)
        if entry is None:
            return None
        call, expires_at = entry
        if self.clock() >= expires_at or not self._is_current(call):
            return None
        return call

    def forget(self, sid: str | None = None) -> None:
        """Drop what :meth:`remember` kept for ``sid`` (every call when ``None``)."""
        with _recent_lock:
            recent = self._recent_calls()
            if sid is None:
                recent.clear()
            else:
                recent.pop(sid, None)

    def _is_current(self, call: Call) -> bool:
        """Whether ``call.version`` is still the stored one, if that is cheap to ask (one
        version lookup); ``True`` when only the save can tell (a remote store)."""
        return True

    def _recent_calls(self) -> dict[str, tuple[Call, float]]:
        recent: dict[str, tuple[Call, float]] | None = self.__dict__.get("_recent")
        if recent is None:
            recent = self.__dict__["_recent"] = {}
        return recent

    def lifetime(self, call: Call) -> float:
        """How long ``call``'s record lives after this save: grace if it ended, else the TTL."""
        return self.grace_seconds if call.ended else self.ttl_seconds

    @abc.abstractmethod
    def load(self, sid: str) -> Call | None:
        """Return the live call with this sid (its :attr:`~Call.version` set), or ``None``.

        Raises:
            StoreUnavailableError: the backend cannot be reached right now.
        """

    @abc.abstractmethod
    def save(self, call: Call) -> None:
        """Store ``call`` if nobody else changed it since it was loaded (compare-and-set).

        ``call.version == 0`` creates the record; on success ``call.version`` is incremented in
        place, so the same object can be saved again.

        Raises:
            ConflictError: the stored version is not ``call.version`` (a concurrent request
                saved first, the sid already exists, or the record was deleted or expired).
            CallStateError: ``call.state`` holds a value JSON cannot store; nothing is written.
            StoreUnavailableError: the backend cannot be reached or cannot write right now.
        """

    @abc.abstractmethod
    def delete(self, sid: str) -> None:
        """Remove the call with this sid, if any.

        Raises:
            StoreUnavailableError: the backend cannot be reached or cannot write right now.
        """

    @abc.abstractmethod
    def expire(self, now: float | None = None) -> int:
        """Physically remove records that expired by ``now`` (default: the store's clock) and
        return how many were removed. Calling it is optional: stores also clean up on their
        own, and expired records are invisible to :meth:`load` either way."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections the store opened. Safe to call more than once."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
