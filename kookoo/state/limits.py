"""Abuse limits that outlive a call: per-caller state kept across calls, an attempt limiter on
top of it, and a cap on live calls.

Everything lives in the app's :class:`~kookoo.state.stores.CallStore` as values
(:meth:`~kookoo.state.stores.CallStore.update`), apart from the calls: one per caller in the
namespace ``kookoo.callers`` (keyed by :func:`caller_key`), and the live calls in
``kookoo.live-calls``. They are changed with the store's compare-and-set, so every worker and
machine that shares the store shares the limits, and no request can reach them by its ``sid``.

Example::

    limiter = AttemptLimiter(app.store, max_attempts=3, lock_seconds=900)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kookoo.protocol.phone import PhoneNumber
from kookoo.state.stores.base import CallStore

__all__ = [
    "CALLERS_NAMESPACE",
    "LIVE_CALLS_NAMESPACE",
    "AttemptLimiter",
    "AttemptStatus",
    "CallerRecords",
    "LiveCallLimit",
    "caller_key",
]

CALLERS_NAMESPACE = "kookoo.callers"
"""The store namespace of :class:`CallerRecords`' values, one per caller (:func:`caller_key`)."""
LIVE_CALLS_NAMESPACE = "kookoo.live-calls"
"""The store namespace of :class:`LiveCallLimit`'s value."""


def caller_key(number: str | PhoneNumber | None) -> str:
    """The key of a caller's value in :data:`CALLERS_NAMESPACE`: the E.164 number
    (``+919876543210``) for any way KooKoo writes it; other numbers by their digits; no number
    at all shares ``unknown``.

    >>> caller_key("09876543210")
    '+919876543210'
    >>> caller_key("+1 (415) 555-0100")
    'digits:14155550100'
    """
    if number is None:
        return "unknown"
    phone = number if isinstance(number, PhoneNumber) else PhoneNumber.parse(number)
    if phone.e164 is not None:
        return phone.e164
    digits = "".join(c for c in phone.raw if c.isascii() and c.isdigit())[:32]
    return f"digits:{digits}" if digits else "unknown"


class CallerRecords:
    """Per-caller state that persists across calls, in the app's call store.

    Each caller has one value (namespace :data:`CALLERS_NAMESPACE`, key :func:`caller_key`)
    holding named entries; each entry has its own lifetime and reads as absent once it has
    passed. Updates are the store's compare-and-set
    (:meth:`~kookoo.state.stores.CallStore.update`), retried on a conflict, so workers never
    lose each other's counts.

    The store's TTL bounds how long kookoo keeps what it knows of a caller (the value lives
    ``store.ttl_seconds`` after its last write), so an entry's ``ttl_seconds`` may not exceed
    it.

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
        return self._entry(self.store.get(CALLERS_NAMESPACE, caller_key(number)), name)

    def _entry(self, entries: Any, name: str) -> Any:
        entry = entries.get(name) if isinstance(entries, dict) else None
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
            ConflictError: other requests kept changing the caller's value through every retry.
        """
        if not 0 < ttl_seconds <= self.store.ttl_seconds:
            raise ValueError(
                f"ttl_seconds={ttl_seconds} must be positive and at most the store's "
                f"ttl_seconds ({self.store.ttl_seconds}), which bounds every record's life"
            )
        result: list[Any] = [None]

        def apply(current: Any) -> dict[str, Any] | None:
            now = self.clock()
            # Drop expired entries so a caller's value does not keep growing.
            entries = {
                k: v
                for k, v in (current.items() if isinstance(current, dict) else ())
                if isinstance(v, dict) and v.get("expires_at", 0) > now
            }
            result[0] = value = change(self._entry(entries, name))
            if value is None:
                entries.pop(name, None)
            else:
                entries[name] = {"value": value, "expires_at": now + ttl_seconds}
            return entries or None

        self.store.update(
            CALLERS_NAMESPACE,
            caller_key(number),
            apply,
            ttl_seconds=self.store.ttl_seconds,
            attempts=self.retries + 1,
        )
        return result[0]


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

    One value (namespace :data:`LIVE_CALLS_NAMESPACE`, key :attr:`key`) holds the admitted
    sids with the time each stops counting (its admission plus the store's TTL, so a call
    whose Hangup never came is forgotten when its own record would expire). Updates are the
    store's compare-and-set (:meth:`~kookoo.state.stores.CallStore.update`) with retries; one
    that changes nothing (a refused admission, a release of a sid not counted) writes nothing.

    Args:
        store: the app's call store.
        max_live_calls: how many calls may be live at once.
    """

    key = "calls"
    """The value's key in :data:`LIVE_CALLS_NAMESPACE`."""

    def __init__(self, store: CallStore, max_live_calls: int, *, retries: int = 8) -> None:
        if max_live_calls < 1:
            raise ValueError(f"max_live_calls must be at least 1, got {max_live_calls}")
        self.store = store
        self.max_live_calls = max_live_calls
        self.retries = retries

    def _change(self, change: Callable[[dict[str, float], float], bool]) -> bool:
        verdict: list[bool] = [False]

        def apply(current: Any) -> dict[str, float] | None:
            now = self.store.clock()
            live = self._live(current, now)
            verdict[0] = change(live, now)
            # Unchanged, with nothing expired, it is not written again; empty, it is removed.
            return live or None

        self.store.update(
            LIVE_CALLS_NAMESPACE,
            self.key,
            apply,
            ttl_seconds=self.store.ttl_seconds,
            attempts=self.retries + 1,
        )
        return verdict[0]

    @staticmethod
    def _live(current: Any, now: float) -> dict[str, float]:
        if not isinstance(current, dict):
            return {}
        return {sid: float(until) for sid, until in current.items() if float(until) > now}

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
        current = self.store.get(LIVE_CALLS_NAMESPACE, self.key)
        return len(self._live(current, self.store.clock()))
