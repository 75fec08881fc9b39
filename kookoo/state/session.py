"""The call session: one request's load → handle → save of its :class:`~kookoo.state.calls.Call`.

KooKoo sends one HTTP request per step of a call; each request runs in a :class:`CallSession`
that

- opens the call (loads it from the store by ``sid``, or creates it for ``NewCall``) and
  records the event on it (history, caller, end of call);
- lets the app run the handler on it;
- saves it with compare-and-set, or discards it: a request whose handler failed saves
  nothing, and :meth:`CallSession.restore` hands an error handler the call exactly as it was
  stored, without the failing handler's half-made changes.

The snapshot is the stored record itself: :meth:`~CallSession.restore` reads it again, so the
hot path pays nothing for a rollback it almost never needs.

After a successful save the session hands the call to the store's per-process cache
(:meth:`~kookoo.state.stores.CallStore.remember`); the call's next request in the same process takes
it back (:meth:`~kookoo.state.stores.CallStore.recall`) instead of loading and parsing the record.
The compare-and-set on save still guards it: if another process saved the call meanwhile, the
save raises :class:`~kookoo.state.stores.ConflictError` and the request runs again on the loaded
call, without counting as a retry.

The retry policy lives here too: :meth:`CallSession.attempts` runs the request again on the
stored call when its save lost a race, a bounded number of times::

    for attempt in session.attempts(retries=1):
        with attempt as call:          # opened (loaded, or created for NewCall)
            run_the_handler(call)      # then saved; a lost race leaves the block and retries
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import TracebackType

from kookoo.core.errors import KooKooError
from kookoo.protocol.events import (
    CallStatus,
    Disconnect,
    Event,
    GotDTMF,
    Hangup,
    NewCall,
    NewSms,
    Record,
)
from kookoo.state.calls import Call
from kookoo.state.stores.base import CallStore, ConflictError

__all__ = ["Attempt", "CallSession", "LostRace", "UnknownCallError"]

logger = logging.getLogger("kookoo")

_ENDING_EVENTS = (Hangup, Disconnect, CallStatus)
_CARRY_CALLER = (GotDTMF, Record, Hangup, Disconnect)
# Events that may start a record: anything else needs a call the store already knows.
_STARTING_EVENTS = (NewCall, NewSms)


class _Kind:
    """What :meth:`CallSession.open` needs to know of an event class, worked out once per
    class (these isinstance checks ran on every request)."""

    __slots__ = ("carries_caller", "ending", "new_call", "new_sms", "starting", "status")

    def __init__(self, cls: type[Event]) -> None:
        self.new_call = issubclass(cls, NewCall)
        self.new_sms = issubclass(cls, NewSms)
        self.starting = issubclass(cls, _STARTING_EVENTS)
        self.ending = issubclass(cls, _ENDING_EVENTS)
        self.status = issubclass(cls, CallStatus)
        self.carries_caller = issubclass(cls, _CARRY_CALLER)


_KINDS: dict[type[Event], _Kind] = {}


def _kind(cls: type[Event]) -> _Kind:
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KINDS[cls] = _Kind(cls)
    return kind


class UnknownCallError(KooKooError, LookupError):
    """An event other than NewCall (or NewSms) for a sid the store has never seen (or has
    forgotten): nobody may create a call record by guessing a sid. The caller hears the
    fallback and a hangup, and the app logs a WARNING."""


class LostRace(ConflictError):
    """A save in the middle of the request (:meth:`CallSession.checkpoint`) lost its
    compare-and-set: another request saved the call meanwhile. Not a failure of the handler:
    the request runs again on the stored call (:meth:`CallSession.attempts`), even when the
    handler caught the error itself."""


class CallSession:
    """One request's hold on its call.

    Args:
        store: where the call lives; ``None`` for a request whose call is not stored (the
            portal's test ping): the call is built fresh and never saved.
        event: the request's event.
        call_class: the :class:`Call` subclass to hand handlers (``KooKoo.call_class``).

    Attributes:
        call: the call opened by :meth:`open` (``None`` before).
        discarded: True after :meth:`discard`: :meth:`commit` then saves nothing.

    Example::

        session = CallSession(store, event)
        call = session.open()
        call.state["choice"] = "1"
        session.commit()          # ConflictError if another request saved first
    """

    __slots__ = (
        "_fresh",
        "_recalled",
        "call",
        "call_class",
        "conflict",
        "discarded",
        "duplicate",
        "event",
        "store",
    )

    def __init__(
        self, store: CallStore | None, event: Event, *, call_class: type[Call] = Call
    ) -> None:
        self.store = store
        self.event = event
        self.call_class = call_class
        self.call: Call | None = None
        self.discarded = False
        self.duplicate = False
        #: The race a :meth:`checkpoint` lost, if any (the request then runs again).
        self.conflict: LostRace | None = None
        # A NewCall starts a call: the first try creates the record without reading it.
        # If one exists after all (state saved before the call, or a repeated NewCall), the
        # create conflicts and the next open() reads the stored call.
        self._fresh = isinstance(event, NewCall)
        # True while self.call came from the store's cache of this process (see recall).
        self._recalled = False

    def open(self, *, cached: bool = True) -> Call:
        """Load (or create) the call and record the event on it; return it.

        A NewCall for a call that already had one (it is live, or ended moments ago) is a
        duplicate: the handler runs on the stored call, but its caller, called number and
        state are not overwritten and nothing of the request is saved (:attr:`duplicate`).

        Args:
            cached: take the call from the store's cache of this process when it holds the
                call's last saved version (:meth:`~kookoo.state.stores.CallStore.recall`).

        Raises:
            UnknownCallError: an event other than NewCall/NewSms for a sid the store does not
                hold; no record is created. (The outbound completion callback,
                :class:`~kookoo.protocol.events.CallStatus`, runs on a fresh call that is not
                saved.)
            Exception: whatever the store raises when it cannot be read.
        """
        self.discarded = False
        self.conflict = None
        self._recalled = False
        event = self.event
        kind = _kind(type(event))
        stored = None
        store = self.store
        if store is not None and not self._fresh:
            if cached:
                stored = store.recall(event.sid)
                self._recalled = stored is not None
            if stored is None:
                stored = store.load(event.sid)
            if stored is None and kind.status:
                # An outbound call nobody answered never had a NewCall: its completion
                # callback still reaches the handler, on a call that is not saved.
                self.discarded = True
            elif stored is None and not kind.starting:
                raise UnknownCallError(
                    f"{event.name or 'Continue'} for a call this app has no record of; "
                    "only NewCall starts a call"
                )
        if stored is not None:
            if type(stored) is not self.call_class:
                stored = self.call_class.from_json(stored.to_json(), version=stored.version)
            if kind.new_call and _had_new_call(stored):
                # Leave the stored call alone: run the handler on it, save nothing.
                self.duplicate = self.discarded = True
                self.call = stored
                return stored
            call = stored
        else:
            call = self.call_class(sid=event.sid)
        # (a fresh call's sid is "" only for the test ping, which is never saved)
        _capture_numbers(call, event, kind)
        call.record_event(event.name or "Continue")
        if kind.ending and call.ended_at is None:
            call.mark_ended()
        if kind.status:
            assert isinstance(event, CallStatus)
            call.outcome = {
                "status": event.status,
                "status_details": event.status_details,
                "duration_seconds": event.duration_seconds,
                "ringing_seconds": event.ringing_seconds,
                "start_time": None if event.start_time is None else event.start_time.isoformat(),
            }
        self.call = call
        return call

    def discard(self) -> None:
        """Save nothing of this request (its handler failed)."""
        self.discarded = True

    def restore(self) -> Call:
        """Throw away the changes made to the call so far and open it again as stored.

        For an error handler: it sees (and may change) the call without the failing
        handler's half-made changes.
        """
        return self.open(cached=False)

    def commit(self) -> None:
        """Save the call unless it was discarded (compare-and-set).

        Raises:
            ConflictError: another request saved the call first; :meth:`retry` says whether
                running the request again on the stored call is worth it.
            CallStateError: the call's state holds a value JSON cannot store.
        """
        if self.discarded or self.store is None or self.call is None:
            return
        self.store.save(self.call)
        self.store.remember(self.call)

    def checkpoint(self) -> None:
        """Save the call now, in the middle of the request (compare-and-set); the request's
        own save at the end then saves what changed after.

        :meth:`kookoo.flow.FlowCall.at_most_once` uses it to store an intent before its side
        effect runs.

        Raises:
            LostRace: another request saved first; it is also kept in :attr:`conflict`, so
                the request runs again (:meth:`attempts`) even if the handler caught it.
        """
        if self.store is None or self.call is None:
            return
        try:
            self.store.save(self.call)
        except ConflictError as exc:
            lost = self.conflict = LostRace(exc.sid, exc.expected, exc.found)
            raise lost from exc

    def attempts(self, retries: int) -> Iterator[Attempt]:
        """The tries of one request: each :class:`Attempt` opens the call (``with attempt as
        call:``) and saves it when the block ends; after a lost race (a
        :class:`~kookoo.state.stores.ConflictError` from the save, or a :class:`LostRace`
        from a checkpoint) the next try runs on the call as stored.

        Races that say nothing about contention do not count (:meth:`retry_is_free`: a
        repeated NewCall's create, a cached call another process had saved since); at most
        ``retries`` others are tried again.

        Raises:
            ConflictError: the last race lost, once ``retries`` are used up.
        """
        counted = 0
        while True:
            attempt = Attempt(self)
            yield attempt
            lost = attempt.lost
            if lost is None:
                return
            if self.retry_is_free(lost):
                continue
            counted += 1
            if counted > retries:
                raise lost
            logger.info("sid=%s conflict, retrying: %s", self.event.sid, lost)

    def retry_is_free(self, error: ConflictError) -> bool:
        """True when ``error`` came from creating a call that existed already (a repeated
        ``NewCall``) or from a cached call that another process had saved since: running
        again on the stored call does not count as a retry."""
        if self._fresh and error.expected == 0:
            self._fresh = False
            return True
        if self._recalled:
            # The cached call was stale: another process saved it since. The next open()
            # loads it (the cache entry is gone).
            self._recalled = False
            return True
        return False


class Attempt:
    """One try of a request on its call (see :meth:`CallSession.attempts`): a context
    manager that opens the call on entry and, when the block ends without an exception,
    saves it (unless discarded). A lost race (the save's, or a :class:`LostRace` the block
    raised) ends the block quietly and is kept in :attr:`lost`; any other exception goes on.

    Attributes:
        lost: the race this try lost, or ``None``.
    """

    __slots__ = ("lost", "session")

    def __init__(self, session: CallSession) -> None:
        self.session = session
        self.lost: ConflictError | None = None

    def __enter__(self) -> Call:
        return self.session.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        session = self.session
        if exc is None:
            try:
                if session.conflict is not None:  # a checkpoint lost; the handler went on
                    raise session.conflict
                session.commit()
            except ConflictError as lost:
                self.lost = lost
            return False
        if isinstance(exc, LostRace):  # a checkpoint's race, which the handler let through
            self.lost = exc
            return True
        return False


def _had_new_call(call: Call) -> bool:
    return any(entry.event == "NewCall" for entry in call.history)


def _capture_numbers(call: Call, event: Event, kind: _Kind) -> None:
    """Keep the caller and the called number, from the typed event."""
    if kind.new_call:
        assert isinstance(event, NewCall)
        # A repeated NewCall of a live call keeps what the first one stored.
        if event.caller is not None and (call.caller is None or call.version == 0):
            call.caller = event.caller
        if event.called_number is not None and (call.called_number is None or call.version == 0):
            call.called_number = event.called_number
    elif kind.new_sms:
        assert isinstance(event, NewSms)
        if event.sender is not None:
            call.caller = event.sender
    elif kind.carries_caller and call.caller is None:
        assert isinstance(event, GotDTMF | Record | Hangup | Disconnect)
        # KooKoo repeats cid on some later events; keep it if NewCall never reached us.
        call.caller = event.caller
