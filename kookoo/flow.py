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
- Between requests the suspended generator is closed too, so Python runs its ``finally``
  blocks then as well.  While it is being put away, :meth:`FlowCall.once` does nothing and
  :attr:`FlowCall.suspending` is true, so cleanup written as ``finally: call.once(cleanup)``
  runs exactly once, when the flow really ends.

Multi-request helpers (:meth:`FlowCall.ask`, :meth:`FlowCall.menu`, :meth:`FlowCall.confirm`) are
generators themselves: use them with ``yield from``.  A sub-flow is any generator function that
takes the ``call``: ``result = yield from other_flow(call)``.
"""

from __future__ import annotations

import datetime as _dt
import zlib
from collections.abc import Callable, Container, Generator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol, TypeVar

from kookoo.calls import Call
from kookoo.events import (
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
from kookoo.lang import PlayTextLanguage, SayAsFormat, SayAsFormatName, SayAsLanguage
from kookoo.phone import PhoneNumber
from kookoo.response import Response

__all__ = [
    "DialOutcome",
    "FlowCall",
    "FlowFunction",
    "FlowMismatchError",
    "Recording",
    "Registrar",
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


class Step:
    """One reply of a flow: prompts, then at most one thing KooKoo reports back.

    Made by :class:`FlowCall` methods and chainable (``call.say("Thanks").hangup()``).  The
    reply is built lazily, so replaying the steps of a long flow costs little.  ``name`` keys the
    step's result in the answers handed to the ``on_hangup`` hook.
    """

    __slots__ = ("expects", "jumps", "name", "ops")

    def __init__(self, name: str | None = None) -> None:
        self.ops: list[tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...]]] = []
        self.expects: type[Event] = Continue
        #: True for a :meth:`goto` step: the flow ends and the next request starts afresh.
        self.jumps = False
        self.name = name

    def _op(self, method: str, *args: Any, **kwargs: Any) -> Step:
        if self.expects is not Continue:
            raise ValueError(
                f"a step ends with the element KooKoo reports back ({self.expects.__name__}); "
                f"start a new step for {method}()"
            )
        self.ops.append((method, args, tuple(kwargs.items())))
        return self

    def say(self, text: str, *, lang: PlayTextLanguage | None = None) -> Step:
        """Speak ``text``."""
        return self._op("play_text", text, lang=lang)

    def play(self, url: str) -> Step:
        """Play the audio at ``url``."""
        return self._op("play_audio", url)

    def say_as(
        self,
        value: str | int | Decimal | _dt.date,
        *,
        format: SayAsFormat | SayAsFormatName | int,  # KooKoo's own name
        lang: SayAsLanguage | None = None,
    ) -> Step:
        """Speak a value as a number, date, amount or digits (see :meth:`Response.say_as`)."""
        return self._op("say_as", value, format=format, lang=lang)

    def hangup(self) -> Step:
        """End the call after the prompts."""
        self._op("hangup")
        self.expects = Disconnect
        return self

    def goto(self, url: str) -> Step:
        """Send KooKoo's next request to ``url``; the flow ends here."""
        self._op("goto_url", url)
        self.expects = Hangup  # nothing comes back to this step
        self.jumps = True
        return self

    def _ends_with(self, method: str, expects: type[Event], *args: Any, **kwargs: Any) -> Step:
        self._op(method, *args, **kwargs)
        self.expects = expects
        return self

    @property
    def signature(self) -> str:
        """A short fingerprint of the step's content, compared on replay."""
        return f"{self.expects.__name__}:{zlib.crc32(repr(self.ops).encode()):08x}"

    def describe(self) -> str:
        """The step in words for error messages: what it waits for and its first prompt."""
        text = next(
            (args[0] for _, args, _ in self._flat_ops() if args and isinstance(args[0], str)), ""
        )
        text = text if len(text) <= 40 else text[:40] + "..."
        kind = "goto" if self.jumps else self.expects.__name__
        return f"{kind} step {text!r}"

    def _flat_ops(self) -> list[tuple[str, tuple[Any, ...], Any]]:
        flat: list[tuple[str, tuple[Any, ...], Any]] = []
        for method, args, kwargs in self.ops:
            if method == "collect_dtmf":
                flat.extend(args[0])
            else:
                flat.append((method, args, kwargs))
        return flat

    def build(self, sid: str) -> Response:
        """The KooKoo reply for this step."""
        reply = Response(sid=sid or None)
        for method, args, kwargs in self.ops:
            if method == "collect_dtmf":
                prompts: list[tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...]]]
                prompts, options = args
                menu = reply.collect_dtmf(**dict(options))
                for p_method, p_args, p_kwargs in prompts:
                    getattr(menu, p_method)(*p_args, **_present(p_kwargs))
                continue
            getattr(reply, method)(*args, **_present(kwargs))
        return reply


def _present(kwargs: tuple[tuple[str, Any], ...] | dict[str, Any]) -> dict[str, Any]:
    items = kwargs.items() if isinstance(kwargs, dict) else kwargs
    return {k: v for k, v in items if v is not None}


class FlowCall:
    """The ``call`` a flow function receives: the stored :class:`~kookoo.calls.Call` plus
    step builders and replay-safe helpers.

    Attributes:
        sid: KooKoo's call id.
        state: the call's own JSON data (kept across requests like ``Call.state``).
        answers: results of named steps so far (``name=`` on a step builder).
    """

    def __init__(self, call: Call, journal: dict[str, Any]) -> None:
        self._call = call
        self._journal = journal
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

    def once(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``func(*args, **kwargs)`` exactly once per call and return its result.

        On every later replay the recorded result is returned instead.  The result must be
        JSON (it is stored with the call).  Use it for anything with a side effect or a
        non-deterministic value: saving to a database, sending an SMS, ``time.time()``.

        "Once" holds as long as the request that ran ``func`` saves the call.  If that save
        fails (another request changed the call meanwhile and the app retries, or the store
        is down) the record of the run is lost with it and a later request runs ``func``
        again: make side effects idempotent where a duplicate would hurt (e.g. key them on
        ``call.sid``).
        """
        if self.suspending:
            return None  # type: ignore[return-value]  # the flow is only being put away
        results: list[Any] = self._journal["once"]
        index = self._once_index
        self._once_index += 1
        if index < len(results):
            recorded: T = results[index]
            return recorded
        result = func(*args, **kwargs)
        results.append(result)
        return result

    # -- single-request steps (yield them) --------------------------------------------------

    def say(self, text: str, *, lang: PlayTextLanguage | None = None) -> Step:
        """A step that speaks ``text``; chain more prompts or ``.hangup()``."""
        return Step().say(text, lang=lang)

    def play(self, url: str) -> Step:
        """A step that plays the audio at ``url``."""
        return Step().play(url)

    def say_as(
        self,
        value: str | int | Decimal | _dt.date,
        *,
        format: SayAsFormat | SayAsFormatName | int,  # KooKoo's own name
        lang: SayAsLanguage | None = None,
    ) -> Step:
        """A step that speaks a value in a Say-As format (``format="currency"``)."""
        return Step().say_as(value, format=format, lang=lang)

    def hangup(self, text: str | None = None, *, lang: PlayTextLanguage | None = None) -> Step:
        """A step that (optionally says ``text`` and) hangs up."""
        step = Step()
        if text:
            step.say(text, lang=lang)
        return step.hangup()

    def goto(self, url: str) -> Step:
        """A step that sends the call to another route or URL; this flow ends there."""
        return Step().goto(url)

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
        (``""`` when the caller pressed nothing)."""
        prompts = [("play_text", (prompt,), (("lang", lang),))]
        options: tuple[tuple[str, Any], ...] = (
            ("max_digits", max_digits),
            ("terminator", terminator),
            ("timeout_ms", timeout_ms),
        )
        return Step(name)._ends_with("collect_dtmf", GotDTMF, prompts, options)

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
        step = Step(name)
        if prompt:
            step.say(prompt, lang=lang)
        # Counted per pass, so every replay names the recording the same way.
        self._recordings += 1
        count = self._recordings
        return step._ends_with(
            "record",
            Record,
            filename or f"{self.sid or 'test-ping'}-{count}",
            format=format,
            silence_seconds=silence_seconds,
            max_seconds=max_seconds,
        )

    def dial(
        self,
        number: str,
        *,
        prompt: str | None = None,
        record: bool | None = None,
        limit_seconds: int | None = None,
        timeout: int | None = None,
        moh: Literal["default", "ring", "normal"] | None = None,
        caller_id: str | None = None,
        name: str | None = None,
    ) -> Step:
        """A step that (says ``prompt`` and) connects the caller to ``number``; its result is
        a :class:`DialOutcome`."""
        step = Step(name)
        if prompt:
            step.say(prompt)
        return step._ends_with(
            "dial",
            Dial,
            number,
            record=record,
            limit_seconds=limit_seconds,
            timeout=timeout,
            moh=moh,
            caller_id=caller_id,
        )

    def recognize(
        self,
        prompt: str | None = None,
        *,
        lang: Literal["en", "hi", "en-IN", "hi-IN"] | None = None,
        grammar: str | None = None,
        name: str | None = None,
    ) -> Step:
        """A step that listens for speech; its result is the recognised text."""
        step = Step(name)
        if prompt:
            step.say(prompt)
        return step._ends_with("recognize", Recognize, lang=lang, grammar=grammar)

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

    def __call__(self, event: Event, call: Call) -> Response | None:
        journal = self._journal(event, call)
        flow_call = FlowCall(call, journal)
        gen = self.func(flow_call)
        if not isinstance(gen, Generator):
            raise TypeError(f"flow {self.__qualname__} must be a generator function (use yield)")
        if isinstance(event, NewCall) and event.is_test_ping:
            # The portal's probe: show the first step, with no side effects (no real call).
            flow_call.suspending = True
        try:
            if isinstance(event, Hangup):
                self._hang_up(gen, journal, flow_call)
                return None
            step = self._advance(gen, event, journal, flow_call)
            if step is None:
                # The flow is over; the call is not, unless KooKoo told us so.
                if isinstance(event, Disconnect):
                    return None
                return Response(sid=call.sid or None).hangup()
            if step.jumps:
                # The flow ends here: close it for real (cleanup runs), then forget it, so a
                # jump to this same route starts the flow again from the top.
                reply = step.build(call.sid)
                gen.close()
                call.journal[:] = []
                return reply
            journal["pending"] = step.signature
            return step.build(call.sid)
        finally:
            # The generator is put away at the end of every request (the next one replays
            # it); its finally blocks run now and see `suspending`, so call.once is inert.
            flow_call.suspending = True
            gen.close()

    def _advance(
        self,
        gen: Generator[Any, Any, Any],
        event: Event,
        journal: dict[str, Any],
        flow_call: FlowCall,
    ) -> Step | None:
        """Replay, feed ``event`` to the pending step, and return the next step (None: done)."""
        try:
            step = self._replay(gen, journal, flow_call)
            if step is not None:
                expects = step.expects
                if not isinstance(event, expects):
                    raise FlowMismatchError(
                        f"flow {self.__qualname__} waited for {expects.__name__} after its "
                        f"{step.describe()}, but KooKoo sent {type(event).__name__}"
                    )
                result = _result_of(event)
                journal["steps"].append([step.signature, result])
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
        if not isinstance(step, Step):
            raise TypeError(
                f"flow {self.__qualname__} yielded {type(step).__name__}; yield a step such as "
                "call.say(...) or call.ask_digits(...)"
            )
        return step

    def _hang_up(
        self, gen: Generator[Any, Any, Any], journal: dict[str, Any], flow_call: FlowCall
    ) -> None:
        """The caller hung up: replay, close the flow for real, then run the hook."""
        if journal.get("done"):
            return
        self._replay(gen, journal, flow_call)
        gen.close()  # the flow's finally blocks run with call.once live
        journal["pending"] = None
        journal["done"] = True
        if self.on_hangup is not None:
            self.on_hangup(flow_call, dict(flow_call.answers))

    def _journal(self, event: Event, call: Call) -> dict[str, Any]:
        current = call.journal[0] if call.journal else None
        if (
            isinstance(event, NewCall)
            or not isinstance(current, dict)
            or (current.get("route") != self.route)
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
            typed = _typed(step.expects.__name__, result)
            if step.name:
                flow_call.answers[step.name] = typed
            step = gen.send(typed)
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

    def handler(event: Event, call: Call) -> Response | None:
        return runner(event, call)

    handler.__qualname__ = runner.__qualname__
    for event_type in (NewCall, Hangup, *_RESUMING_EVENTS):
        scaffold.add_handler(event_type, handler, route=route)
