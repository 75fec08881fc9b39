"""Pacing outbound calls: a rate, a ceiling of concurrent calls, and the calling window.

``outbound.php`` answers ``queued`` at once while the line stays busy for minutes, so a batch
job that dials as fast as KooKoo answers floods the account. :class:`Pacer` hands out *slots*:
a call holds one from the dial until its completion callback releases it by sid (or until
``slot_timeout`` reclaims it, for callbacks that never come). Slots live in the app's call
store as a value (namespace :data:`SLOTS_NAMESPACE`, key: the pacer's name), updated with the
store's compare-and-set (:meth:`~kookoo.state.stores.CallStore.update`), so every worker
process and machine sharing the store shares the same slots. No thread, no timer: expired
slots are reclaimed by whoever changes the value next.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from kookoo.core.errors import KooKooError
from kookoo.outbound.errors import ConnectError, RejectedError
from kookoo.outbound.window import CallingWindow
from kookoo.state.stores.base import CallStore, ConflictError

if TYPE_CHECKING:
    from kookoo.outbound.client import Client, QueuedCall
    from kookoo.protocol.phone import PhoneNumber
    from kookoo.xml.response import Response

__all__ = ["SLOTS_NAMESPACE", "Busy", "Pacer", "PacerConflictError", "PacerTimeout", "Slot"]

SLOTS_NAMESPACE = "kookoo.outbound-slots"
"""The store namespace of pacers' slots: one value per pacer name."""

logger = logging.getLogger("kookoo.outbound")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Slot:
    """One call's place in the pacer.

    Attributes:
        token: the slot's id.
        taken_at: when it was granted (unix time).
        expires_at: when it is reclaimed if nobody releases it.
        sid: the call's sid once :meth:`Pacer.bind` recorded it.
        phone_no: the number being called, for inspection.
    """

    token: str
    taken_at: float
    expires_at: float
    sid: str | None = None
    phone_no: str | None = None


@dataclass(frozen=True, slots=True)
class Busy:
    """No slot now, and why.

    Attributes:
        reason: ``"rate"`` (calls-per-second), ``"concurrency"`` (every slot held) or
            ``"calling_hours"`` (outside the calling window).
        retry_after: seconds until a slot can be granted at the earliest (for concurrency:
            until the oldest slot times out; a callback may free one sooner).
        in_use: slots held now.
    """

    reason: Literal["rate", "concurrency", "calling_hours"]
    retry_after: float
    in_use: int


class PacerTimeout(KooKooError):
    """:meth:`Pacer.acquire` waited its ``timeout`` without getting a slot.

    Attributes:
        busy: the last answer, saying why.
    """

    def __init__(self, busy: Busy, waited: float) -> None:
        super().__init__(
            f"no outbound slot within {waited:g} s ({busy.reason}; {busy.in_use} in use, "
            f"next chance in {busy.retry_after:.3g} s)"
        )
        self.busy = busy


class PacerConflictError(KooKooError):
    """The slots kept changing under this pacer (``max_conflicts`` lost races)."""


class Pacer:
    """Keeps outbound calls within a rate, a number of concurrent calls and a calling window.

    Args:
        store: the call store the app uses (:class:`~kookoo.state.stores.SQLiteStore` for several
            workers, :class:`~kookoo.state.stores.RedisStore` for several machines).
        name: pacers with the same name and store share their slots (one per KooKoo account
            or campaign); the slots are the value ``name`` in :data:`SLOTS_NAMESPACE`.
        calls_per_second: most dials per second, spread evenly (``0.5`` = one every 2 s);
            ``None`` for no rate limit (only the ceiling and the window).
        max_concurrent: most calls holding a slot at once.
        slot_timeout: seconds after which a slot whose callback never came is reclaimed;
            longer than your longest call. At most the store's ``ttl_seconds`` (the slots'
            value itself expires after that long without a change, freeing every slot).
        window: when calls may be dialled (default 9 am-9 pm IST); ``None`` for no limit.
        clock: the current unix time; inject one in tests.
        sleep: how :meth:`acquire` waits; inject one in tests.
        poll_interval: most seconds :meth:`acquire` sleeps before asking again (a callback
            may free a slot before the oldest one times out).
        max_conflicts: compare-and-set attempts per operation before
            :class:`PacerConflictError`.

    Example::

        pacer = Pacer(app.store, calls_per_second=2, max_concurrent=20)
        for patient in patients:
            pacer.place_call(client, patient.phone, url=..., callback_url=...)

        @app.on_call_status                 # the completion callback
        def ended(event):
            pacer.release(event.sid)
    """

    def __init__(
        self,
        store: CallStore,
        *,
        name: str = "default",
        calls_per_second: float | None = 1.0,
        max_concurrent: int = 10,
        slot_timeout: float = 30 * 60.0,
        window: CallingWindow | None = CallingWindow(),  # noqa: B008 - frozen, shared safely
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 1.0,
        max_conflicts: int = 100,
    ) -> None:
        if calls_per_second is not None and not calls_per_second > 0:
            raise ValueError(f"calls_per_second must be positive, got {calls_per_second!r}")
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent!r}")
        if not slot_timeout > 0:
            raise ValueError(f"slot_timeout must be positive, got {slot_timeout!r}")
        if slot_timeout > store.ttl_seconds:
            raise ValueError(
                f"slot_timeout ({slot_timeout:g} s) exceeds the store's ttl_seconds "
                f"({store.ttl_seconds:g} s): the slots' value would expire first"
            )
        if not name or not isinstance(name, str):
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        self.store = store
        self.name = name
        self.calls_per_second = None if calls_per_second is None else float(calls_per_second)
        self.max_concurrent = int(max_concurrent)
        self.slot_timeout = float(slot_timeout)
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.poll_interval = float(poll_interval)
        self.max_conflicts = int(max_conflicts)

    def __repr__(self) -> str:
        return (
            f"Pacer(name={self.name!r}, calls_per_second={self.calls_per_second!r}, "
            f"max_concurrent={self.max_concurrent})"
        )

    # -- the slots' value --------------------------------------------------------------------

    def _update(self, change: Callable[[dict[str, Any], float], _T]) -> _T:
        """Read the slots, reclaim expired ones, apply ``change`` and compare-and-set; again
        on a lost race. Nothing is written when nothing changed."""
        result: list[_T] = []

        def apply(current: Any) -> dict[str, Any] | None:
            now = self.clock()
            state = _slots_state(current)
            _reclaim(state, now)
            result[:] = [change(state, now)]
            return None if current is None and state == _slots_state(None) else state

        try:
            self.store.update(
                SLOTS_NAMESPACE,
                self.name,
                apply,
                ttl_seconds=self.store.ttl_seconds,
                attempts=self.max_conflicts,
            )
        except ConflictError as exc:
            raise PacerConflictError(
                f"gave up on the slots of pacer {self.name!r} after {self.max_conflicts} lost "
                "compare-and-set races"
            ) from exc
        return result[0]

    # -- slots -------------------------------------------------------------------------------

    def try_acquire(self, phone_no: str | None = None) -> Slot | Busy:
        """Take a slot now if the window, the rate and the ceiling allow; else say why not."""
        interval = 0.0 if self.calls_per_second is None else 1.0 / self.calls_per_second

        def take(state: dict[str, Any], now: float) -> Slot | Busy:
            slots: dict[str, list[Any]] = state["slots"]
            if self.window is not None and not self.window.is_open(now):
                wait = self.window.seconds_until_open(now)
                return Busy("calling_hours", wait, len(slots))
            if len(slots) >= self.max_concurrent:
                oldest = min(entry[1] for entry in slots.values())
                return Busy("concurrency", max(0.0, oldest - now), len(slots))
            next_at = float(state["next_at"])
            if now < next_at:
                return Busy("rate", next_at - now, len(slots))
            token = uuid.uuid4().hex
            slot = Slot(token, now, now + self.slot_timeout, None, phone_no)
            slots[token] = [slot.taken_at, slot.expires_at, None, phone_no]
            state["next_at"] = max(now, next_at) + interval
            return slot

        return self._update(take)

    def acquire(self, phone_no: str | None = None, *, timeout: float | None = None) -> Slot:
        """Take a slot, waiting (with ``sleep``) as long as ``timeout`` seconds allows.

        Raises:
            PacerTimeout: no slot within ``timeout`` (``None``: wait indefinitely).
        """
        start = self.clock()
        while True:
            got = self.try_acquire(phone_no)
            if isinstance(got, Slot):
                return got
            wait = got.retry_after
            if got.reason == "concurrency":
                wait = min(wait, self.poll_interval)
            now = self.clock()
            if timeout is not None and now + wait > start + timeout:
                raise PacerTimeout(got, now - start)
            self.sleep(max(wait, 0.001))

    def bind(self, slot: Slot, sid: str) -> Slot:
        """Record the sid of the call placed with ``slot``, so :meth:`release` finds it.

        If the completion callback for ``sid`` already came (a call that ended within
        moments), the slot is freed at once.
        """

        def set_sid(state: dict[str, Any], now: float) -> Slot:
            entry = state["slots"].get(slot.token)
            if sid in state["early"]:
                del state["early"][sid]
                state["slots"].pop(slot.token, None)
            elif entry is None:
                logger.warning(
                    "outbound slot for call %s timed out before its sid was bound; "
                    "the call holds no slot",
                    sid,
                )
            else:
                entry[2] = sid
            return replace(slot, sid=sid)

        return self._update(set_sid)

    def release(self, sid: str) -> bool:
        """Free the slot of the call with this sid (from its completion callback).

        Returns whether a slot was held for it. A release that comes before :meth:`bind`
        is remembered until the slot timeout, so the slot is freed when the bind comes.
        """

        def free(state: dict[str, Any], now: float) -> bool:
            for token, entry in state["slots"].items():
                if entry[2] == sid:
                    del state["slots"][token]
                    return True
            state["early"].setdefault(sid, now + self.slot_timeout)
            return False

        return self._update(free)

    def release_slot(self, slot: Slot) -> bool:
        """Free ``slot`` (a dial that failed before KooKoo queued anything)."""

        def free(state: dict[str, Any], now: float) -> bool:
            return state["slots"].pop(slot.token, None) is not None

        return self._update(free)

    def slots(self) -> list[Slot]:
        """The slots held now, oldest first."""

        state = _slots_state(self.store.get(SLOTS_NAMESPACE, self.name))
        _reclaim(state, self.clock(), log=False)  # in what was read: a read writes nothing
        found = [
            Slot(token, entry[0], entry[1], entry[2], entry[3])
            for token, entry in state["slots"].items()
        ]
        return sorted(found, key=lambda s: s.taken_at)

    # -- dialling ----------------------------------------------------------------------------

    def place_call(
        self,
        client: Client,
        phone_no: PhoneNumber | str,
        *,
        wait: float | None = None,
        url: str | None = None,
        extra_data: Response | str | None = None,
        caller_id: PhoneNumber | str | None = None,
        callback_url: str | None = None,
    ) -> QueuedCall:
        """Wait for a slot (up to ``wait`` seconds), place the call, bind its sid to the slot.

        The slot is freed at once when KooKoo refused the call or could not be reached
        (nothing was dialled), and kept until its timeout when the outcome is unknown (a call
        may be ringing). Release it from the completion callback with :meth:`release`.

        Raises:
            PacerTimeout: no slot within ``wait``. Otherwise what
            :meth:`Client.place_call <kookoo.outbound.Client.place_call>` raises.
        """
        from kookoo.outbound.numbers import dial_number

        number = dial_number(phone_no)  # bad numbers fail before taking a slot
        slot = self.acquire(number, timeout=wait)
        try:
            queued = client.place_call(
                phone_no, url=url, extra_data=extra_data, caller_id=caller_id,
                callback_url=callback_url,
            )  # fmt: skip
        except (RejectedError, ConnectError, ValueError, TypeError):
            self.release_slot(slot)
            raise
        self.bind(slot, queued.sid)
        return queued


def _slots_state(current: Any) -> dict[str, Any]:
    """The slots' value as read (``None`` when there is none yet), with every part present."""
    state: dict[str, Any] = current if isinstance(current, dict) else {}
    state.setdefault("slots", {})
    state.setdefault("early", {})
    state.setdefault("next_at", 0.0)
    return state


def _reclaim(state: dict[str, Any], now: float, *, log: bool = True) -> bool:
    """Drop slots and early releases whose time is up; return whether anything went."""
    slots: dict[str, list[Any]] = state["slots"]
    early: dict[str, float] = state["early"]
    dead = [token for token, entry in slots.items() if entry[1] <= now]
    for token in dead:
        if log:
            logger.info(
                "outbound slot of call %s reclaimed after its timeout (no callback came)",
                slots[token][2] or "(not dialled)",
            )
        del slots[token]
    stale = [sid for sid, until in early.items() if until <= now]
    for sid in stale:
        del early[sid]
    return bool(dead or stale)
