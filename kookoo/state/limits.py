"""Abuse limits that outlive a call: per-caller state kept across calls, an attempt limiter on
top of it, and a cap on live calls.

Everything lives in the app's :class:`~kookoo.state.stores.CallStore` under reserved record ids that
start with ``kookoo:`` (``kookoo:caller:+919876543210``, ``kookoo:live-calls``), read and
written with the store's own compare-and-set ``load``/``save``, so every worker and machine that
shares the store shares the limits. A request whose ``sid`` starts with ``kookoo:`` must be
refused before it loads a call (:func:`is_reserved_sid`).

Example::

    limiter = AttemptLimiter(app.store, max_attempts=3, lock_seconds=900)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kookoo.protocol.phone import PhoneNumber
from kookoo.state.calls import Call
from kookoo.state.stores.base import CallStore, ConflictError

__all__ = [
    "RESERVED_SID_PREFIX",
    "AttemptLimiter",
    "AttemptStatus",
    "CallerRecords",
    "LiveCallLimit",
    "caller_key",
    "is_reserved_sid",
]

RESERVED_SID_PREFIX = "kookoo:"
"""Store records whose id starts with this belong to kookoo (per-caller state, the live-call
count); a request with such a ``sid`` is refused (:func:`is_reserved_sid`)."""


def is_reserved_sid(sid: str) -> bool:
    """Whether ``sid`` names one of kookoo's own records (a request must not load it)."""
    return sid.startswith(RESERVED_SID_PREFIX)


def caller_key(number: str | PhoneNumber | None) -> str:
    """The store record id of a caller's state: ``kookoo:caller:+919876543210`` for any way
    KooKoo writes that number; other numbers by their digits; no number at all shares
    ``kookoo:caller:unknown``.

    >>> caller_key("09876543210")
    'kookoo:caller:+919876543210'
    >>> caller_key("+1 (415) 555-0100")
    'kookoo:caller:digits:14155550100'
    """
    if number is None:
        return "kookoo:caller:unknown"
    phone = number if isinstance(number, PhoneNumber) else PhoneNumber.parse(number)
    if phone.e164 is not None:
        return f"kookoo:caller:{phone.e164}"
    digits = "".join(c for c in phone.raw if c.isascii() and c.isdigit())[:32]
    return f"kookoo:caller:digits:{digits}" if digits else "kookoo:caller:unknown"


class CallerRecords:
    """Per-caller state that persists across calls, in the app's call store.

    Each caller has one record (id :func:`caller_key`) holding named entries; each entry has
    its own lifetime and reads as absent once it has passed. Updates are compare-and-set
    through the store's ``load``/``save``, retried on a conflict, so workers never lose each
    other's counts.

    The store's TTL bounds how long any record lives, so an entry's ``ttl_seconds`` may not
    exceed ``store.ttl_seconds``.

    Args:
        store: the :class:`~kookoo.state.stores.CallStore` (the app's).
        retries: how often an update is retried after a conflict before it raises.
        clock: the current unix time (defaults to the store's clock).
    """

    def __init__(
        self, store: CallStore, *, retries: int = 5, clock: Callable[[], float] | None = None
    ) -> None:
        self.store = store
        self.retries = retries
        self.clock = clock or store.clock

    def get(self, number: str | PhoneNumber | None, name: str) -> Any:
        """The caller's live entry ``name`` (JSON), or ``None``."""
        record = self.store.load(caller_key(number))
        return None if record is None else self._entry(record, name)

    def _entry(self, record: Call, name: str) -> Any:
        entry = record.state.get(name)
        if isinstance(entry, dict) and entry.get("expires_at", 0) > self.clock():
            return entry.get("value")
        return None

    def update(
        self,
        number: str | PhoneNumber | None,
        name: str,
        change: Callable[[Any], Any],
        *,
        ttl_seconds: float,
    ) -> Any:
        """Set entry ``name`` to ``change(current)`` (``current`` is ``None`` when absent or
        expired; returning ``None`` removes the entry) and return the new value.

        Raises:
            ValueError: ``ttl_seconds`` exceeds the store's TTL.
            ConflictError: other requests kept changing the record through every retry.
        """
        if not 0 < ttl_seconds <= self.store.ttl_seconds:
            raise ValueError(
                f"ttl_seconds={ttl_seconds} must be positive and at most the store's "
                f"ttl_seconds ({self.store.ttl_seconds}), which bounds every record's life"
            )
        key = caller_key(number)
        for attempt in range(self.retries + 1):
            record = self.store.load(key) or Call(sid=key)
            now = self.clock()
            # Drop expired entries so a record does not keep growing.
            record.state = {
                k: v
                for k, v in record.state.items()
                if isinstance(v, dict) and v.get("expires_at", 0) > now
            }
            value = change(self._entry(record, name))
            if value is None:
                record.state.pop(name, None)
            else:
                record.state[name] = {"value": value, "expires_at": now + ttl_seconds}
            try:
                self.store.save(record)
                return value
            except ConflictError:
                if attempt == self.retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


class AttemptStatus:
    """Where a caller stands with an :class:`AttemptLimiter`.

    Attributes:
        locked: the caller is locked out now.
        failures: wrong attempts counted so far (within the window).
        remaining: attempts left before the lock (0 when locked).
        retry_after: seconds until the lock ends (0 when not locked).
    """

    __slots__ = ("failures", "locked", "remaining", "retry_after")

    def __init__(self, failures: int, remaining: int, retry_after: float) -> None:
        self.failures = failures
        self.remaining = remaining
        self.retry_after = max(0.0, retry_after)
        self.locked = self.retry_after > 0

    def __repr__(self) -> str:
        return (
            f"AttemptStatus(locked={self.locked}, failures={self.failures}, "
            f"remaining={self.remaining}, retry_after={self.retry_after:.0f})"
        )


class AttemptLimiter:
    """At most ``max_attempts`` wrong attempts per caller number, across calls; then the number
    is locked for ``lock_seconds``. A fresh call (a new ``sid``) does not reset it.

    Failures are forgotten ``window_seconds`` after the last one (default ``lock_seconds``),
    or at once on :meth:`succeeded`.

    Example::

        limiter = AttemptLimiter(app.store, max_attempts=3, lock_seconds=900)
        if limiter.status(call.caller).locked:
            return Response().play_text("Too many wrong PINs. Try again later.").hangup()
        if pin_is_wrong:
            status = limiter.failed(call.caller)
        else:
            limiter.succeeded(call.caller)

    Args:
        store: the call store (the app's, so every worker sees the same counts).
        max_attempts: wrong attempts allowed before the lock.
        lock_seconds: how long a number stays locked (at most the store's ``ttl_seconds``).
        window_seconds: how long failures are remembered; defaults to ``lock_seconds``.
        name: the entry name in the caller's record; distinct limiters need distinct names.
    """

    def __init__(
        self,
        store: CallStore,
        *,
        max_attempts: int = 3,
        lock_seconds: float = 900.0,
        window_seconds: float | None = None,
        name: str = "attempts",
        clock: Callable[[], float] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.records = CallerRecords(store, clock=clock)
        self.max_attempts = max_attempts
        self.lock_seconds = float(lock_seconds)
        self.window_seconds = float(window_seconds or lock_seconds)
        self.name = name
        for label, seconds in (("lock", self.lock_seconds), ("window", self.window_seconds)):
            if not 0 < seconds <= store.ttl_seconds:
                raise ValueError(
                    f"{label}_seconds={seconds} must be positive and at most the store's "
                    f"ttl_seconds ({store.ttl_seconds}); give the store a longer ttl_seconds"
                )

    def _status(self, entry: Any) -> AttemptStatus:
        if not isinstance(entry, dict):
            return AttemptStatus(0, self.max_attempts, 0)
        failures = int(entry.get("failures", 0))
        retry_after = float(entry.get("locked_until", 0)) - self.records.clock()
        remaining = 0 if retry_after > 0 else max(0, self.max_attempts - failures)
        return AttemptStatus(failures, remaining, retry_after)

    def status(self, number: str | PhoneNumber | None) -> AttemptStatus:
        """Where ``number`` stands now (read only)."""
        return self._status(self.records.get(number, self.name))

    def failed(self, number: str | PhoneNumber | None) -> AttemptStatus:
        """Count a wrong attempt; the one that reaches ``max_attempts`` starts the lock."""

        def change(current: Any) -> dict[str, Any]:
            now = self.records.clock()
            entry: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
            if float(entry.get("locked_until", 0)) > now:
                return entry  # already locked: the lock is not extended by more tries
            entry["failures"] = failures = int(entry.get("failures", 0)) + 1
            if failures >= self.max_attempts:
                entry["locked_until"] = now + self.lock_seconds
            return entry

        ttl = max(self.lock_seconds, self.window_seconds)
        return self._status(self.records.update(number, self.name, change, ttl_seconds=ttl))

    def succeeded(self, number: str | PhoneNumber | None) -> None:
        """Forget ``number``'s failures (a correct attempt); a lock in force stays."""

        def change(entry: Any) -> Any:
            locked = isinstance(entry, dict) and entry.get("locked_until", 0) > self.records.clock()
            return entry if locked else None

        self.records.update(number, self.name, change, ttl_seconds=self.lock_seconds)


class LiveCallLimit:
    """A cap on calls that are live at once, shared by all workers through the store.

    One reserved record (``kookoo:live-calls``) holds the admitted sids with the time each
    stops counting (its admission plus the store's TTL, so a call whose Hangup never came is
    forgotten when its own record would expire). Updates are compare-and-set with retries.

    Args:
        store: the app's call store.
        max_live_calls: how many calls may be live at once.
    """

    key = "kookoo:live-calls"

    def __init__(self, store: CallStore, max_live_calls: int, *, retries: int = 8) -> None:
        if max_live_calls < 1:
            raise ValueError(f"max_live_calls must be at least 1, got {max_live_calls}")
        self.store = store
        self.max_live_calls = max_live_calls
        self.retries = retries

    def _change(self, change: Callable[[dict[str, float], float], bool]) -> bool:
        for attempt in range(self.retries + 1):
            record = self.store.load(self.key) or Call(sid=self.key)
            now = self.store.clock()
            live = {
                sid: float(until)
                for sid, until in record.state.get("calls", {}).items()
                if float(until) > now
            }
            stored = record.state.get("calls", {})
            verdict = change(live, now)
            if live == stored and record.version:
                return verdict  # nothing changed, nothing expired: no write
            record.state = {"calls": live}
            try:
                self.store.save(record)
                return verdict
            except ConflictError:
                if attempt == self.retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def admit(self, sid: str) -> bool:
        """Count ``sid`` as live and return ``True``, or ``False`` when the cap is reached
        (a sid already admitted is admitted again)."""

        def change(live: dict[str, float], now: float) -> bool:
            if sid not in live and len(live) >= self.max_live_calls:
                return False
            live[sid] = now + self.store.ttl_seconds
            return True

        return self._change(change)

    def release(self, sid: str) -> None:
        """Stop counting ``sid`` (its call ended)."""

        def change(live: dict[str, float], now: float) -> bool:
            return live.pop(sid, None) is not None

        self._change(change)

    def count(self) -> int:
        """How many calls count as live now."""
        record = self.store.load(self.key)
        if record is None:
            return 0
        now = self.store.clock()
        return sum(1 for until in record.state.get("calls", {}).values() if float(until) > now)
