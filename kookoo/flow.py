"""Linear call flows: a whole call written as one straight-line generator function.

::

    @app.flow("/survey")
    def survey(call):
        age = yield call.ask_digits("Please enter your age", max_digits=2)
        story = yield call.record("Tell us about your day after the beep", max_seconds=30)
        call.once(save_story, call.sid, story.url)   # runs exactly once per call
        yield call.say("Thank you").hangup()

Each ``yield`` sends KooKoo XML and ends the HTTP request.  The next request resumes the function
by *replaying* it from the top against the call's journal: every step already answered gets its
recorded result back at once, so the function reaches the step KooKoo is answering now.  The
journal lives in the call store, so a flow survives several gunicorn workers, a restart and
(with Redis) several machines.

Rules that follow from replay:

- The function must be deterministic given its step results.  Anything else (time, random,
  a database read, a side effect) goes through :meth:`FlowCall.once`, which runs it on the first
  pass only and replays its JSON result afterwards.
- If a replay yields a different step than the journal recorded (the code changed under a live
  call, or something non-deterministic slipped in), the flow stops with :class:`FlowMismatchError`
  naming the step, and the caller hears the app's fallback prompt.
- A hangup at any point closes the generator (its ``finally`` blocks run) and calls the
  ``on_hangup`` hook with the answers collected so far.
- Between requests the suspended generator is put away: kept in a bounded cache of this
  worker process (:data:`LIVE_FLOWS_PER_PROCESS`), or closed, so Python runs its
  ``finally`` blocks (when it is closed, or dropped from the cache later).  While it is being
  put away, :meth:`FlowCall.once` does nothing and :attr:`FlowCall.suspending` is true, so
  cleanup written as ``finally: call.once(cleanup)`` runs exactly once, when the flow really
  ends.

When the next request of a call reaches the worker that served its last one (the idea behind
Temporal's sticky workflow cache), the kept generator resumes where it stopped instead of
replaying the journal; this needs the call exactly as that request saved it: the same call
object from the store's cache of this process (:meth:`~kookoo.stores.CallStore.recall`, which
a compare-and-set on save guards), at the next version, with the journal's pending step,
steps, ``once`` results and ``started`` intents unchanged, and an event the pending step
asked for.  Anything else (another worker's save, a retry after a checkpoint, an unexpected
event, a repeated NewCall) replays as described above.  Both ways give the same replies and
journals.

Multi-request helpers (:meth:`FlowCall.ask`, :meth:`FlowCall.menu`, :meth:`FlowCall.confirm`) are
generators themselves: use them with ``yield from``.  A sub-flow is any generator function that
takes the ``call``: ``result = yield from other_flow(call)``.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Container, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar

from lxml import etree

from kookoo.calls import Call
from kookoo.events import (
    EVENT_TYPES,
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
from kookoo.lang import PlayTextLanguage
from kookoo.phone import PhoneNumber
from kookoo.response import Response
from kookoo.schema import ELEMENTS
from kookoo.session import CallSession

logger = logging.getLogger("kookoo")

__all__ = [
    "LIVE_FLOWS_PER_PROCESS",
    "DialOutcome",
    "FlowCall",
    "FlowFunction",
    "FlowMismatchError",
    "Recording",
    "Registrar",
    "Skipped",
    "Step",
    "add_flow",
]

T = TypeVar("T")

#: What a flow function is: called with a :class:`FlowCall`, yields :class:`Step` objects.
FlowFunction = Callable[["FlowCall"], Generator["Step", Any, Any]]

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


class FlowMismatchError(Exception):
    """A replay yielded another step than the one the call's journal recorded."""


# journal["pending"] while a request runs the flow past an answered step (see checkpoint).
_IN_PROGRESS = "*"

LIVE_FLOWS_PER_PROCESS = 1024
"""How many suspended flow generators one worker process keeps per flow, to resume them
instead of replaying (0: always replay). The least recently used is closed beyond that."""


class _CallOver(Exception):
    """KooKoo reported the end of the call while the flow waited for something else."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """What :meth:`FlowCall.at_most_once` returns when its side effect may have run in a
    request that did not finish: it is not run again.

    Attributes:
        key: the side effect's idempotency key (:attr:`FlowCall.once_key`), to look it up
            downstream.
    """

    key: str


@dataclass(frozen=True, slots=True)
class Recording:
    """The result of :meth:`FlowCall.record`."""

    url: str | None
    duration_seconds: int | None
    status: str | None


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """The result of :meth:`FlowCall.dial`."""

    answered: bool
    talk_seconds: int | None
    recording_url: str | None
    message: str | None


class Step(Response):
    """One reply of a flow: a :class:`~kookoo.Response` with everything a Response offers
    (the same typed builder methods: prompts, Say-As, SMS, dial, record, ...), ending with at
    most one element that KooKoo reports back on.

    Made by :class:`FlowCall` methods (``call.say("Thanks").hangup()``) or
    :meth:`FlowCall.step` for a blank one.  What the flow function receives back for it
    depends on that last element: the digits for ``<collectdtmf>``, a :class:`Recording`
    for ``<record>``, a :class:`DialOutcome` for ``<dial>``, the text for ``<recognize>``,
    ``None`` otherwise.  ``name`` keys the step's result in the answers handed to the
    ``on_hangup`` hook.

    >>> step = Step(name="pin").play_text("Welcome").send_sms("hi", to="9876543210")
    >>> with step.collect_dtmf(max_digits=4) as pin:
    ...     _ = pin.play_text("Enter your PIN")
    >>> step.expects.__name__
    'GotDTMF'
    """

    __slots__ = ("name",)

    def __init__(self, *, sid: str | None = None, name: str | None = None) -> None:
        super().__init__(sid=sid)
        self.name = name

    @property
    def expects(self) -> type[Event]:
        """The event KooKoo sends for this step: that of its last element which produces
        one (``GotDTMF`` for ``<collectdtmf>``, ``Disconnect`` for ``<hangup>``, ...),
        ``Hangup`` for a :attr:`jumps` step, :class:`~kookoo.events.Continue` otherwise."""
        return self._shape()[0]

    @property
    def jumps(self) -> bool:
        """True for a step with ``<gotourl>``: the flow ends and the next request starts
        afresh on that URL."""
        return self._shape()[1]

    def _shape(self) -> tuple[type[Event], bool]:
        """(what the step waits for, whether it jumps), in one pass over its elements."""
        expects: type[Event] = Continue
        for element in self._element:
            tag = element.tag
            if tag == "gotourl":
                return Hangup, True  # nothing comes back to this step
            event = _EVENT_OF_TAG.get(tag) if isinstance(tag, str) else None
            if event is not None:
                expects = event
        return expects, False

    def check(self) -> None:
        """Refuse a step that KooKoo could not answer as one: nothing may follow the element
        that KooKoo reports back on (it would never run), and there is at most one."""
        seen: str | None = None
        for element in self._element:
            tag = element.tag if isinstance(element.tag, str) else ""
            if seen is not None:
                raise ValueError(
                    f"a step ends with the element KooKoo reports back (<{seen}>); start a "
                    f"new step for <{tag}>"
                )
            if tag in _EVENT_OF_TAG or tag == "gotourl":
                seen = tag

    @property
    def signature(self) -> str:
        """A short fingerprint of the step's content, compared on replay."""
        # The root's sid is the call's, the same on every replay of it.
        crc = zlib.crc32(etree.tostring(self._element))
        return f"{self.expects.__name__}:{crc:08x}"

    def describe(self) -> str:
        """The step in words for error messages: what it waits for and its first prompt."""
        text = next((str(t) for t in self._element.itertext() if t.strip()), "")
        text = text if len(text) <= 40 else text[:40] + "..."
        kind = "goto" if self.jumps else self.expects.__name__
        return f"{kind} step {text!r}"


P = ParamSpec("P")

# What KooKoo reports back after each element (the schema's table, as event classes).
_EVENT_OF_TAG: dict[str, type[Event]] = {
    spec.tag: EVENT_TYPES.get(spec.event, Continue) for spec in ELEMENTS if spec.event is not None
}


def _starting_with(
    method: Callable[Concatenate[Step, P], Step],
) -> Callable[Concatenate[FlowCall, P], Step]:
    """A :class:`FlowCall` method that starts a new step with a :class:`Step` (so
    :class:`~kookoo.Response`) method, with that method's own parameters and types."""

    def start(self: FlowCall, /, *args: P.args, **kwargs: P.kwargs) -> Step:
        return method(self.step(), *args, **kwargs)

    start.__name__ = method.__name__
    start.__doc__ = (
        f"A new step that starts with :meth:`Response.{method.__name__} "
        f"<kookoo.Response.{method.__name__}>`; chain more on it."
    )
    return start


class FlowCall:
    """The ``call`` a flow function receives: the stored :class:`~kookoo.calls.Call` plus
    step builders and replay-safe helpers.

    Attributes:
        sid: KooKoo's call id.
        state: the call's own JSON data (kept across requests like ``Call.state``).
        answers: results of named steps so far (``name=`` on a step builder).
    """

    def __init__(
        self,
        call: Call,
        journal: dict[str, Any],
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self._call = call
        self._journal = journal
        self._checkpoint = checkpoint
        self._once_index = 0
        self._recordings = 0
        self.answers: dict[str, Any] = {}
        #: True while the flow is put away at the end of a request (not a real ending).
        self.suspending = False

    @property
    def sid(self) -> str:
        """KooKoo's call id."""
        return self._call.sid

    @property
    def caller(self) -> PhoneNumber | None:
        """The caller's number (from NewCall), as :attr:`kookoo.calls.Call.caller`."""
        return self._call.caller

    @property
    def called_number(self) -> PhoneNumber | None:
        """The number the caller dialled."""
        return self._call.called_number

    @property
    def state(self) -> dict[str, Any]:
        """The call's own data; see :attr:`kookoo.calls.Call.state`."""
        return self._call.state

    # -- replay-safe side effects -----------------------------------------------------------

    @property
    def once_key(self) -> str:
        """The idempotency key of the next :meth:`once` / :meth:`at_most_once` of this flow:
        ``"<sid>:once:<n>"``, the same on every replay and every retry of the request, so a
        downstream system (a payment API, an SMS gateway) can drop a duplicate."""
        return f"{self.sid}:once:{self._once_index}"

    def once(
        self,
        func: Callable[..., T],
        /,
        *args: Any,
        key_param: str | None = None,
        **kwargs: Any,
    ) -> T:
        """Run ``func(*args, **kwargs)`` for this call and replay its recorded result after.

        At least once: if the request that ran ``func`` does not save the call (the worker
        is killed, the store fails, a concurrent request wins), a later request runs it
        again, with the same :attr:`once_key`.  Pass ``key_param="idempotency_key"`` to have
        the key handed to ``func`` as that keyword argument.  The result must be JSON (it
        is stored with the call).  Use it for anything with a side effect or a
        non-deterministic value: saving to a database, sending an SMS, ``time.time()``.
        For side effects that must never repeat, use :meth:`at_most_once`.
        """
        if self.suspending:
            return None  # type: ignore[return-value]  # the flow is only being put away
        results: list[Any] = self._journal["once"]
        key = self.once_key
        index = self._once_index
        self._once_index += 1
        if index < len(results):
            recorded: T = results[index]
            return recorded
        if key_param is not None:
            kwargs[key_param] = key
        result = func(*args, **kwargs)
        results.append(result)
        return result

    def at_most_once(
        self,
        func: Callable[..., T],
        /,
        *args: Any,
        key_param: str | None = None,
        **kwargs: Any,
    ) -> T | Skipped:
        """Run ``func(*args, **kwargs)`` at most once for this call, whatever crashes.

        The intent is saved to the store before ``func`` runs; a request that finds an intent
        without a result (the worker died, or the result could not be saved) does not run
        ``func`` again and gets :class:`Skipped` instead, so the flow can say so or hand the
        case to a person.  Costs one extra store write.  ``key_param`` as for :meth:`once`.
        """
        if self.suspending:
            return Skipped(self.once_key)
        results: list[Any] = self._journal["once"]
        started: list[int] = self._journal.setdefault("started", [])
        key = self.once_key
        index = self._once_index
        self._once_index += 1
        if index < len(results):
            recorded = results[index]
            if isinstance(recorded, dict) and "result" in recorded:
                value: T = recorded["result"]
                return value
            return Skipped(key)
        if index in started:  # an earlier request recorded the intent and did not finish
            started.remove(index)
            results.append({"skipped": True})
            return Skipped(key)
        if self._checkpoint is None:
            raise RuntimeError("at_most_once needs a flow run by the app (a call store)")
        started.append(index)
        self._checkpoint()  # the intent is stored before the side effect runs
        if key_param is not None:
            kwargs[key_param] = key
        result = func(*args, **kwargs)
        started.remove(index)
        results.append({"result": result})
        return result

    # -- single-request steps (yield them) --------------------------------------------------

    def step(self, name: str | None = None) -> Step:
        """A blank step for this call: build anything a :class:`~kookoo.Response` can on it.

        ``name`` keys its result in :attr:`answers`.

        >>> # yield call.step("city").play_text("Say your city").recognize(lang="hi-IN")
        """
        return Step(name=name)  # the runner puts the call's sid on the step it sends

    say = _starting_with(Step.play_text)
    play = _starting_with(Step.play_audio)
    say_as = _starting_with(Step.say_as)
    send_sms = _starting_with(Step.send_sms)
    dial = _starting_with(Step.dial)
    recognize = _starting_with(Step.recognize)
    conference = _starting_with(Step.conference)

    def hangup(self, text: str | None = None, *, lang: PlayTextLanguage | None = None) -> Step:
        """A step that (optionally says ``text`` and) hangs up."""
        step = self.step()
        if text:
            step.play_text(text, lang=lang)
        return step.hangup()

    def goto(self, url: str) -> Step:
        """A step that sends the call to another route or URL; this flow ends there."""
        return self.step().goto_url(url)

    def ask_digits(
        self,
        prompt: str,
        *,
        max_digits: int,
        terminator: Literal["#", "*"] | None = None,
        timeout_ms: int | None = 5000,
        lang: PlayTextLanguage | None = None,
        name: str | None = None,
    ) -> Step:
        """A step that speaks ``prompt`` and collects digits; its result is the digits
        (``""`` when the caller pressed nothing).  For more prompts or options, build it on
        :meth:`step` with :meth:`~kookoo.Response.collect_dtmf`."""
        step = self.step(name)
        menu = step.collect_dtmf(
            max_digits=max_digits, terminator=terminator, timeout_ms=timeout_ms
        )
        menu.play_text(prompt, lang=lang)
        return step

    def record(
        self,
        prompt: str | None,
        *,
        max_seconds: int,
        silence_seconds: int | None = None,
        format: Literal["wav", "mp3"] | None = None,  # KooKoo's own name
        filename: str | None = None,
        lang: PlayTextLanguage | None = None,
        name: str | None = None,
    ) -> Step:
        """A step that speaks ``prompt`` and records the caller; its result is a
        :class:`Recording`.  ``filename`` defaults to ``<sid>-<n>``."""
        step = self.step(name)
        if prompt:
            step.play_text(prompt, lang=lang)
        # Counted per pass, so every replay names the recording the same way.
        self._recordings += 1
        count = self._recordings
        return step.record(
            filename or f"{self.sid or 'test-ping'}-{count}",
            format=format,
            silence_seconds=silence_seconds,
            max_seconds=max_seconds,
        )

    # -- multi-request helpers (yield from them) --------------------------------------------

    def ask(
        self,
        prompt: str,
        *,
        max_digits: int,
        valid: Callable[[str], bool] | Container[str] | None = None,
        attempts: int = 3,
        no_input: str = "Sorry, we did not get that.",
        invalid: str = "Sorry, that is not valid.",
        terminator: Literal["#", "*"] | None = None,
        timeout_ms: int | None = 5000,
        lang: PlayTextLanguage | None = None,
        name: str | None = None,
    ) -> Generator[Step, Any, str | None]:
        """Ask for digits, re-prompting on no input or invalid input up to ``attempts`` times.

        Returns the digits, or ``None`` when every attempt failed.  ``valid`` is a predicate or
        a container of accepted answers.  Use with ``yield from``.
        """
        prefix = ""
        for _ in range(attempts):
            step = self.ask_digits(
                f"{prefix} {prompt}".strip(),
                max_digits=max_digits,
                terminator=terminator,
                timeout_ms=timeout_ms,
                lang=lang,
            )
            digits: str = yield step
            if not digits:
                prefix = no_input
            elif valid is None or (valid(digits) if callable(valid) else digits in valid):
                if name:
                    self.answers[name] = digits
                return digits
            else:
                prefix = invalid
        return None

    def menu(
        self,
        prompt: str,
        options: Mapping[str, T],
        *,
        attempts: int = 3,
        lang: PlayTextLanguage | None = None,
        name: str | None = None,
    ) -> Generator[Step, Any, T | None]:
        """Play a one-key menu and return the option for the key pressed (``None`` after
        ``attempts`` failures).  Use with ``yield from``."""
        key = yield from self.ask(
            prompt, max_digits=1, valid=options.keys(), attempts=attempts, lang=lang, name=name
        )
        return None if key is None else options[key]

    def confirm(
        self,
        prompt: str,
        *,
        yes: str = "1",
        no: str = "2",
        attempts: int = 3,
        lang: PlayTextLanguage | None = None,
    ) -> Generator[Step, Any, bool | None]:
        """Ask a yes/no question by key (``1`` yes, ``2`` no); ``None`` after ``attempts``."""
        return (yield from self.menu(prompt, {yes: True, no: False}, attempts=attempts, lang=lang))


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


class _FlowRunner:
    """Runs one flow function for the events of one route."""

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
        limit = LIVE_FLOWS_PER_PROCESS
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
    ) -> None:
        """Register ``func`` for ``event_type`` on ``route``."""


def add_flow(
    scaffold: Registrar,
    route: str,
    func: FlowFunction,
    *,
    on_hangup: Callable[[FlowCall, dict[str, Any]], object] | None = None,
) -> None:
    """Register ``func`` as the flow on ``route`` (what ``@app.flow(route)`` does).

    Every event KooKoo sends on that route goes to the flow; plain handlers on other routes
    are unaffected.
    """
    runner = _FlowRunner(func, route, on_hangup)

    def handler(event: Event, call: Call, session: CallSession | None = None) -> Response | None:
        return runner(event, call, session)

    handler.__qualname__ = runner.__qualname__
    for event_type in (NewCall, Hangup, *_RESUMING_EVENTS):
        scaffold.add_handler(event_type, handler, route=route)
