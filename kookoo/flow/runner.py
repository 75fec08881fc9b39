"""How a flow runs between KooKoo's requests: replay of the call's journal, and the
suspended generators a worker keeps to resume instead of replaying (see :mod:`kookoo.flow`).

One :class:`FlowRunner` serves one route: :func:`add_flow` registers it for every event a
flow answers. Its :attr:`FlowRunner.keep_limit` bounds the generators one process keeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

from kookoo.flow.api import (
    DialOutcome,
    FlowCall,
    FlowFunction,
    FlowMismatchError,
    Recording,
    Step,
)
from kookoo.protocol.events import (
    Conference,
    Continue,
    Dial,
    Disconnect,
    Event,
    GotDTMF,
    Hangup,
    NewCall,
    Recognize,
    Record,
    Stream,
)
from kookoo.state.calls import Call
from kookoo.state.session import CallSession
from kookoo.xml.response import Response

logger = logging.getLogger("kookoo")

__all__ = ["FlowRunner", "Registrar", "add_flow"]

# Events that answer a pending step (Hangup is handled separately: it ends the flow).
_RESUMING_EVENTS: tuple[type[Event], ...] = (
    GotDTMF,
    Record,
    Dial,
    Recognize,
    Continue,
    Disconnect,
    Stream,
    Conference,
)


# journal["pending"] while a request runs the flow past an answered step (see checkpoint).
_IN_PROGRESS = "*"


class _CallOver(Exception):
    """KooKoo reported the end of the call while the flow waited for something else."""


@dataclass(frozen=True, slots=True)
class _Pending:
    """What a suspended flow waits for: the event, the step's signature and name."""

    expects: type[Event]
    signature: str
    name: str | None


@dataclass(slots=True)
class _Suspended:
    """A flow generator kept between two requests of its call, and what it was kept with."""

    gen: Generator[Any, Any, Any]
    flow_call: FlowCall
    call: Call
    journal: dict[str, Any]
    state: dict[str, Any]
    version: int
    pending: _Pending
    steps: int
    once: int
    started: tuple[int, ...]

    def close(self) -> None:
        """Put the generator away for good (its finally blocks see ``suspending``)."""
        self.flow_call.suspending = True
        try:
            self.gen.close()
        except Exception:  # a finally block that fails while the flow is only put away
            logger.exception("sid=%s flow could not be closed", self.flow_call.sid or "-")


def _with_sid(step: Step, sid: str) -> Step:
    """The step as the reply, carrying the call's sid (a step made as ``Step()`` has none)."""
    if sid and step.sid is None:
        step._element.set("sid", sid)
    return step


def _result_of(event: Event) -> Any:
    """The JSON form of what an event reports for the step it answers."""
    if isinstance(event, GotDTMF):
        return event.digits
    if isinstance(event, Record):
        return [event.url, event.duration_seconds, event.status]
    if isinstance(event, Dial):
        return [event.answered, event.talk_seconds, event.recording_url, event.message]
    if isinstance(event, Recognize):
        return event.text
    return None


def _typed(expects: str, result: Any) -> Any:
    """Turn a journal result back into what the flow function receives."""
    if expects == "Record" and isinstance(result, list):
        return Recording(*result)
    if expects == "Dial" and isinstance(result, list):
        return DialOutcome(*result)
    return result


class FlowRunner:
    """Runs one flow function for the events of one route.

    Attributes:
        keep_limit: how many suspended generators one worker process keeps for this flow,
            to resume them instead of replaying the journal (0: always replay); the least
            recently used is closed beyond that. A class attribute: set it on the class for
            every flow, or on one runner.
    """

    keep_limit: int = 1024

    def __init__(
        self,
        func: FlowFunction,
        route: str,
        on_hangup: Callable[[FlowCall, dict[str, Any]], object] | None,
    ) -> None:
        self.func = func
        self.route = route
        self.on_hangup = on_hangup
        self.__qualname__ = getattr(func, "__qualname__", "flow")
        # sid -> the suspended generator of that call's last request in this process.
        self._kept: dict[str, _Suspended] = {}
        self._lock = threading.Lock()

    def __call__(
        self, event: Event, call: Call, session: CallSession | None = None
    ) -> Response | None:
        journal = self._journal(event, call)
        checkpoint = session.checkpoint if session is not None else None
        kept = self._resume(event, call, journal)
        if kept is not None:
            gen, flow_call, pending = kept.gen, kept.flow_call, kept.pending
            flow_call._checkpoint = checkpoint
        else:
            flow_call = FlowCall(call, journal, checkpoint)
            gen = self.func(flow_call)
            pending = None
            if not isinstance(gen, Generator):
                raise TypeError(
                    f"flow {self.__qualname__} must be a generator function (use yield)"
                )
        ping = isinstance(event, NewCall) and event.is_test_ping
        if ping:
            # The portal's probe: show the first step, with no side effects (no real call).
            flow_call.suspending = True
        keep: Step | None = None
        try:
            if isinstance(event, Hangup):
                self._hang_up(gen, journal, flow_call, replayed=kept is not None)
                return None
            try:
                step = self._advance(gen, event, journal, flow_call, pending)
            except _CallOver:
                self._hang_up(gen, journal, flow_call, replayed=True)
                return None
            if step is None:
                # The flow is over; the call is not, unless KooKoo told us so.
                if isinstance(event, Disconnect):
                    return None
                return Response(sid=call.sid or None).hangup()
            if step.jumps:
                # The flow ends here: close it for real (cleanup runs), then forget it, so a
                # jump to this same route starts the flow again from the top.
                gen.close()
                call.journal[:] = []
                return _with_sid(step, call.sid)
            journal["pending"] = step.signature
            if not ping and call.sid:
                keep = step
            return _with_sid(step, call.sid)
        finally:
            if keep is not None:
                self._suspend(call, journal, gen, flow_call, keep)
            else:
                # The generator is put away (the next request replays it); its finally
                # blocks run now and see `suspending`, so call.once is inert.
                flow_call.suspending = True
                gen.close()

    # -- the cache of suspended generators (sticky resume) ----------------------------------

    def _suspend(
        self,
        call: Call,
        journal: dict[str, Any],
        gen: Generator[Any, Any, Any],
        flow_call: FlowCall,
        step: Step,
    ) -> None:
        """Keep ``gen`` (waiting at ``step``) for the call's next request in this process."""
        limit = self.keep_limit
        if limit <= 0:
            flow_call.suspending = True
            gen.close()
            return
        flow_call._checkpoint = None  # the session is over; a resumed flow gets the next one
        entry = _Suspended(
            gen=gen,
            flow_call=flow_call,
            call=call,
            journal=journal,
            state=call.state,
            # The save that ends this request adds one (a checkpoint already counted).
            version=call.version + 1,
            pending=_Pending(step.expects, journal["pending"], step.name),
            steps=len(journal["steps"]),
            once=len(journal["once"]),
            started=tuple(journal.get("started", ())),
        )
        evicted: list[_Suspended] = []
        with self._lock:
            old = self._kept.pop(call.sid, None)
            if old is not None:
                evicted.append(old)
            self._kept[call.sid] = entry
            while len(self._kept) > limit:
                evicted.append(self._kept.pop(next(iter(self._kept))))
        for dropped in evicted:
            dropped.close()

    def _resume(self, event: Event, call: Call, journal: dict[str, Any]) -> _Suspended | None:
        """The kept generator for this request, when resuming it is exactly what replaying
        the journal would do; else ``None`` (a kept one that does not fit is closed)."""
        if not self._kept:
            return None
        with self._lock:
            entry = self._kept.pop(call.sid, None)
        if entry is None:
            return None
        pending = entry.pending
        if (
            entry.call is call  # the object this process saved (see CallStore.recall) ...
            and call.version == entry.version  # ... and its save went through
            and call.journal
            and call.journal[0] is journal is entry.journal
            and call.state is entry.state
            and not journal.get("done")
            and journal["pending"] == pending.signature
            and len(journal["steps"]) == entry.steps
            and len(journal["once"]) == entry.once
            and tuple(journal.get("started", ())) == entry.started
            and isinstance(event, (Hangup, pending.expects))
            and not isinstance(event, NewCall)
        ):
            return entry
        entry.close()
        return None

    def forget(self) -> None:
        """Close every kept generator (their finally blocks run with ``suspending``)."""
        with self._lock:
            kept = list(self._kept.values())
            self._kept.clear()
        for entry in kept:
            entry.close()

    def _advance(
        self,
        gen: Generator[Any, Any, Any],
        event: Event,
        journal: dict[str, Any],
        flow_call: FlowCall,
        pending: _Pending | None = None,
    ) -> Step | None:
        """Replay (unless ``pending``: ``gen`` waits at that step already), feed ``event`` to
        the pending step, and return the next step (None: done)."""
        try:
            if pending is not None:
                # A kept generator: the event is the one its pending step asked for.
                result = _result_of(event)
                journal["steps"].append([pending.signature, result])
                journal["pending"] = _IN_PROGRESS
                typed = _typed(pending.expects.__name__, result)
                if pending.name:
                    flow_call.answers[pending.name] = typed
                step = gen.send(typed)
                return self._checked(step)
            resumed = journal["pending"] == _IN_PROGRESS
            step = self._replay(gen, journal, flow_call)
            if resumed:
                # The request that answered the last step saved a checkpoint and did not
                # finish; this one (its retry) carries the answer already recorded.
                logger.info(
                    "sid=%s flow %s resumed after a checkpoint", flow_call.sid, self.__qualname__
                )
            elif step is not None:
                expects = step.expects
                if not isinstance(event, expects):
                    if isinstance(event, Disconnect):
                        # The call is over (e.g. after the fallback's hangup for a failed step).
                        raise _CallOver
                    # A retried request, a repeated NewCall or an event the step did not ask
                    # for: say the pending step again instead of ending the call.
                    logger.warning(
                        "sid=%s flow %s waited for %s after its %s but KooKoo sent %s: "
                        "sending that step again",
                        flow_call.sid or "-",
                        self.__qualname__,
                        expects.__name__,
                        step.describe(),
                        type(event).__name__,
                    )
                    return step
                result = _result_of(event)
                journal["steps"].append([step.signature, result])
                # Until the next step is known; a checkpoint (at_most_once) may save this.
                journal["pending"] = _IN_PROGRESS
                typed = _typed(expects.__name__, result)
                if step.name:
                    flow_call.answers[step.name] = typed
                step = gen.send(typed)
            else:  # a fresh call: run to the first yield
                step = next(gen)
        except StopIteration:
            journal["pending"] = None
            journal["done"] = True
            return None
        return self._checked(step)

    def _checked(self, step: object) -> Step:
        if not isinstance(step, Step):
            raise TypeError(
                f"flow {self.__qualname__} yielded {type(step).__name__}; yield a step such as "
                "call.say(...) or call.ask_digits(...)"
            )
        step.check()
        return step

    def _hang_up(
        self,
        gen: Generator[Any, Any, Any],
        journal: dict[str, Any],
        flow_call: FlowCall,
        *,
        replayed: bool = False,
    ) -> None:
        """The call ended: replay, close the flow for real, then run the hook."""
        if journal.get("done"):
            return
        if not replayed:
            self._replay(gen, journal, flow_call)
        gen.close()  # the flow's finally blocks run with call.once live
        journal["pending"] = None
        journal["done"] = True
        if self.on_hangup is not None:
            self.on_hangup(flow_call, dict(flow_call.answers))

    def _journal(self, event: Event, call: Call) -> dict[str, Any]:
        current = call.journal[0] if call.journal else None
        live = (
            isinstance(current, dict)
            and current.get("route") == self.route
            and current.get("pending") is not None
            and not current.get("done")
        )
        # A NewCall starts the flow, unless this call's flow is live (a repeated NewCall:
        # the pending step is said again).
        if (
            not isinstance(current, dict)
            or current.get("route") != self.route
            or (isinstance(event, NewCall) and not live)
        ):
            current = {"route": self.route, "steps": [], "once": [], "pending": None}
            call.journal[:] = [current]
        return current

    def _replay(
        self, gen: Generator[Step, Any, Any], journal: dict[str, Any], flow_call: FlowCall
    ) -> Step | None:
        """Advance ``gen`` through the recorded steps; return the pending step (or None)."""
        if journal.get("done"):
            raise StopIteration
        if journal["pending"] is None:
            return None
        step = next(gen)
        for index, (signature, result) in enumerate(journal["steps"]):
            self._check(step, signature, index)
            # The signature starts with what the step waited for ("GotDTMF:1a2b3c4d").
            typed = _typed(signature.partition(":")[0], result)
            if step.name:
                flow_call.answers[step.name] = typed
            step = gen.send(typed)
        if journal["pending"] != _IN_PROGRESS:
            self._check(step, journal["pending"], len(journal["steps"]))
        return step

    def _check(self, step: object, signature: str, index: int) -> None:
        if not isinstance(step, Step) or step.signature != signature:
            what = step.describe() if isinstance(step, Step) else repr(step)
            raise FlowMismatchError(
                f"flow {self.__qualname__} changed under a live call: step {index + 1} is now a "
                f"{what}, but the call's journal recorded a different step ({signature}); "
                "the code changed or the flow is not deterministic "
                "(wrap time, random and side effects in call.once)"
            )


class Registrar(Protocol):
    """Where :func:`add_flow` registers a flow: an app or a handler group."""

    def add_handler(
        self,
        event_type: type[Event],
        func: Callable[..., Any],
        *,
        route: str = "/",
        step: str | None = None,
        signed: bool = False,
    ) -> None:
        """Register ``func`` for ``event_type`` on ``route``."""


def add_flow(
    scaffold: Registrar,
    route: str,
    func: FlowFunction,
    *,
    on_hangup: Callable[[FlowCall, dict[str, Any]], object] | None = None,
    signed: bool = False,
) -> None:
    """Register ``func`` as the flow on ``route`` (what ``@app.flow(route)`` does).

    Every event KooKoo sends on that route goes to the flow; plain handlers on other routes
    are unaffected. ``signed``: the route takes only signed app parameters (as for
    ``add_handler``).
    """
    runner = FlowRunner(func, route, on_hangup)

    def handler(event: Event, call: Call, session: CallSession | None = None) -> Response | None:
        return runner(event, call, session)

    handler.__qualname__ = runner.__qualname__
    for event_type in (NewCall, Hangup, *_RESUMING_EVENTS):
        scaffold.add_handler(event_type, handler, route=route, signed=signed)
