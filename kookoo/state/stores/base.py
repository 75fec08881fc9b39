"""The interface every call store implements, and the errors it raises: a lost race
(:class:`ConflictError`) and a backend that cannot be reached or cannot write
(:class:`StoreUnavailableError`).

Besides calls, every store keeps small JSON values by namespace and key, each with its own
expiry, changed with compare-and-set (:meth:`CallStore.update`, :meth:`CallStore.get`,
:meth:`CallStore.pop`): kookoo's caller limits, live-call count, outbound slots and the
replies voice bots leave live there, apart from the calls.
"""

from __future__ import annotations

import abc
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from kookoo.core.errors import KooKooError
from kookoo.state.calls import Call

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "DEFAULT_TTL_SECONDS",
    "DEFAULT_VALUE_ATTEMPTS",
    "CallStore",
    "ConflictError",
    "StoreUnavailableError",
    "ValueConflictError",
]

DEFAULT_TTL_SECONDS = 2 * 60 * 60.0
"""A live call with no saved activity for this long (2 hours) expires."""

DEFAULT_GRACE_SECONDS = 10 * 60.0
"""An ended call is kept this long (10 minutes) after it was last saved, for late events."""

DEFAULT_VALUE_ATTEMPTS = 10
"""How many times :meth:`CallStore.update` tries its compare-and-set before it gives up."""


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


class ValueConflictError(ConflictError):
    """:meth:`CallStore.update` lost the compare-and-set race on every one of its attempts:
    other writers kept changing the value between its read and its write.

    A :class:`ConflictError`, so code that catches lost races catches this too. Values have
    no numbered versions: :attr:`sid` holds the key, and :attr:`expected` and :attr:`found`
    are 0.

    Attributes:
        namespace: the value's namespace, e.g. ``kookoo.live-calls``.
        key: the value's key.
        attempts: how many compare-and-sets were tried.
    """

    def __init__(self, namespace: str, key: str, attempts: int) -> None:
        self.namespace = namespace
        self.key = key
        self.attempts = attempts
        self.sid = key
        self.expected = self.found = 0
        KooKooError.__init__(
            self,
            f"value {key!r} in {namespace} kept changing under this update: its "
            f"compare-and-set lost {attempts} races in a row",
        )

    def __reduce__(self) -> tuple[type[ValueConflictError], tuple[str, str, int]]:  # type: ignore[override]
        return (type(self), (self.namespace, self.key, self.attempts))


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

    A store of your own implements :meth:`load`, :meth:`save`, :meth:`delete`, :meth:`expire`
    and :meth:`close` for calls, and :meth:`read_value` and :meth:`write_value` for the values
    kookoo keeps for itself (limits, the health probe, the outbound pacer's slots).

    Values: apart from the calls, in a space no sid reaches, a store keeps JSON values by
    namespace and key (:meth:`update`, :meth:`get`, :meth:`pop`), each expiring
    ``ttl_seconds`` after its last write. kookoo keeps its own records there (namespaces
    starting with ``kookoo.``); an app may use namespaces of its own. A store implements
    them with two small methods, a versioned read (``read_value``) and a compare-and-set
    write (``write_value``); the retry loop and the JSON checks are this class's.

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

    # -- values ------------------------------------------------------------------------------

    def update(
        self,
        namespace: str,
        key: str,
        change: Callable[[Any], Any],
        *,
        ttl_seconds: float,
        attempts: int = DEFAULT_VALUE_ATTEMPTS,
    ) -> Any:
        """Set the value at ``namespace``/``key`` to ``change(current)`` with compare-and-set,
        and return the new value.

        ``current`` is the stored value (parsed from JSON: a new object each time), or
        ``None`` when there is none or it expired. ``change`` returns the new value, any JSON
        (tuples become lists), or ``None`` to remove it. The write succeeds only if nobody
        else wrote the value since it was read; otherwise the value is read again and
        ``change`` runs again (so it must not have side effects beyond computing the value),
        up to ``attempts`` times, pausing a moment (jittered, at most 16 ms) after the second
        lost race and later ones. Every lost race means another writer's update went
        through, so no update is ever lost or applied twice.

        A value written lives ``ttl_seconds`` after this write. When ``change`` returns the
        value it was given, unchanged, nothing is written (and its expiry stays as it was).

        >>> from kookoo.state.stores import MemoryStore
        >>> store = MemoryStore()
        >>> visits = lambda n: (n or 0) + 1
        >>> store.update("myapp.visits", "+919876543210", visits, ttl_seconds=3600)
        1
        >>> store.update("myapp.visits", "+919876543210", visits, ttl_seconds=3600)
        2
        >>> store.get("myapp.visits", "+919876543210")
        2

        Args:
            namespace: whose values these are, e.g. ``"myapp.visits"``: letters, digits,
                ``.``, ``_`` and ``-``. Namespaces starting with ``kookoo.`` are kookoo's.
            key: the value's name within the namespace (any str).
            change: computes the new value from the current one.
            ttl_seconds: how long the value lives after this write (positive).
            attempts: compare-and-sets tried before giving up (default 10).

        Raises:
            ValueConflictError: other writers changed the value during each of the
                ``attempts`` (a :class:`ConflictError`).
            TypeError: the new value is not JSON (a set, a datetime, a non-str dict key, a
                NaN...); the message names where it is. Nothing is written.
            StoreUnavailableError: the backend cannot be reached or cannot write right now.
        """
        _check_name(namespace, key)
        if not (isinstance(ttl_seconds, int | float) and 0 < ttl_seconds < math.inf):
            raise ValueError(f"ttl_seconds must be a positive number, got {ttl_seconds!r}")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts!r}")
        for attempt in range(attempts):
            if attempt >= 2:
                time.sleep(random.uniform(0, min(0.016, 0.001 * 2 ** (attempt - 2))))
            version, data = self.read_value(namespace, key)
            new = change(None if data is None else json.loads(data))
            text = None if new is None else _encode(new, namespace, key)
            if text == data:
                return new  # unchanged (or absent and staying absent): nothing to write
            fresh = version
            while fresh in (0, version):
                fresh = random.getrandbits(63)
            if self.write_value(namespace, key, version, fresh, text, float(ttl_seconds)):
                return new
        raise ValueConflictError(namespace, key, attempts)

    def get(self, namespace: str, key: str) -> Any:
        """The value at ``namespace``/``key`` (parsed from JSON), or ``None`` when there is
        none or it expired; see :meth:`update`.

        Raises:
            StoreUnavailableError: the backend cannot be reached right now.
        """
        _check_name(namespace, key)
        data = self.read_value(namespace, key)[1]
        return None if data is None else json.loads(data)

    def pop(self, namespace: str, key: str, *, attempts: int = DEFAULT_VALUE_ATTEMPTS) -> Any:
        """Remove the value at ``namespace``/``key`` and return it (``None``: there was none).
        Of two concurrent pops of one value, one gets it and the other ``None``.

        >>> from kookoo.state.stores import MemoryStore
        >>> store = MemoryStore()
        >>> store.update("myapp.notes", "3341", lambda _: {"say": "hello"}, ttl_seconds=60)
        {'say': 'hello'}
        >>> store.pop("myapp.notes", "3341")
        {'say': 'hello'}
        >>> store.pop("myapp.notes", "3341") is None
        True

        Raises:
            ValueConflictError: the value kept changing through every attempt.
            StoreUnavailableError: the backend cannot be reached or cannot write right now.
        """
        taken: list[Any] = [None]

        def take(current: Any) -> None:
            taken[0] = current
            return None

        self.update(namespace, key, take, ttl_seconds=1.0, attempts=attempts)
        return taken[0]

    @abc.abstractmethod
    def read_value(self, namespace: str, key: str) -> tuple[int, str | None]:
        """The live value's version and JSON text, or ``(0, None)`` when there is none (or
        it expired). With :meth:`write_value`, what a store of your own implements for
        values (call :meth:`update`, :meth:`get` and :meth:`pop`, not these).

        Raises:
            StoreUnavailableError: the backend cannot be reached right now.
        """

    @abc.abstractmethod
    def write_value(
        self,
        namespace: str,
        key: str,
        expected: int,
        version: int,
        data: str | None,
        ttl_seconds: float,
    ) -> bool:
        """Compare-and-set, atomically: if the live value's version is still ``expected``
        (0: there is no live value), store ``data`` under ``version`` to expire in
        ``ttl_seconds`` (``data=None``: remove it) and return ``True``; else change nothing
        and return ``False``.

        Versions are random non-zero 63-bit integers chosen by :meth:`update`, never one
        reused for a key, so a value removed and written again between a read and a write
        cannot pass for the one that was read. :meth:`update` never asks to remove a value
        it found absent (``expected=0`` with ``data=None``).

        Raises:
            StoreUnavailableError: the backend cannot be reached or cannot write right now.
        """

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_NAMESPACE = re.compile(r"[A-Za-z0-9._-]+")

# What to do instead, by the type name of a value JSON cannot hold.
_HINTS: dict[str, str] = {
    "set": "store a sorted list instead",
    "frozenset": "store a sorted list instead",
    "bytes": "decode it to str (or base64-encode it) first",
    "datetime": "store .isoformat() or a unix timestamp instead",
    "date": "store .isoformat() instead",
    "Decimal": "store str(value) instead",
}

# ASCII only: a lone surrogate in a str is escaped rather than refused by the backend's encoder.
_DUMPS = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _check_name(namespace: str, key: str) -> None:
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise ValueError(
            f"namespace must be letters, digits, '.', '_' and '-' (e.g. 'myapp.visits'), "
            f"got {namespace!r}"
        )
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, got {type(key).__name__}")


def _encode(value: Any, namespace: str, key: str) -> str:
    """``value`` as compact JSON, or a TypeError naming where in it a non-JSON part is."""
    problem = _not_json(value, "value", set())
    if problem is not None:
        raise TypeError(f"cannot store {namespace} {key!r}: {problem}")
    return _DUMPS(value)


def _not_json(value: Any, path: str, seen: set[int]) -> str | None:
    """Why ``value`` would not come back from JSON as it is (tuples may become lists), or
    ``None`` when it would."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return f"{path} is the float {value!r}, which is not JSON; store None or a string"
    if isinstance(value, dict | list | tuple):
        if id(value) in seen:
            return f"{path} refers back to itself; JSON cannot hold a cycle"
        seen.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for name, item in items:
            where = f"{path}[{name!r}]"
            if isinstance(value, dict) and not isinstance(name, str):
                kind = type(name).__name__
                return f"{path} has the {kind} key {name!r}; JSON object keys must be str"
            if (problem := _not_json(item, where, seen)) is not None:
                return problem
        seen.discard(id(value))
        return None
    kind = type(value).__name__
    hint = _HINTS.get(kind, "convert it to str, int, float, bool, None, list or dict")
    return f"{path} is a {kind}, which JSON cannot hold; {hint}"
