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
  worker process (:attr:`kookoo.flow.runner.FlowRunner.keep_limit`), or closed, so Python runs its
  ``finally`` blocks (when it is closed, or dropped from the cache later).  While it is being
  put away, :meth:`FlowCall.once` does nothing and :attr:`FlowCall.suspending` is true, so
  cleanup written as ``finally: call.once(cleanup)`` runs exactly once, when the flow really
  ends.

When the next request of a call reaches the worker that served its last one (the idea behind
Temporal's sticky workflow cache), the kept generator resumes where it stopped instead of
replaying the journal; this needs the call exactly as that request saved it: the same call
object from the store's cache of this process (:meth:`~kookoo.state.stores.CallStore.recall`, which
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
import zlib
from collections.abc import Callable, Container, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from lxml import etree

from kookoo.core.errors import KooKooError
from kookoo.protocol.events import (
    EVENT_TYPES,
    Continue,
    Event,
    Hangup,
)
from kookoo.protocol.lang import PlayTextLanguage
from kookoo.protocol.phone import PhoneNumber
from kookoo.protocol.schema import ELEMENTS
from kookoo.state.calls import Call
from kookoo.xml.response import Response

logger = logging.getLogger("kookoo")

__all__ = [
    "DialOutcome",
    "FlowCall",
    "FlowFunction",
    "FlowMismatchError",
    "Recording",
    "Skipped",
    "Step",
]

T = TypeVar("T")

#: What a flow function is: called with a :class:`FlowCall`, yields :class:`Step` objects.
FlowFunction = Callable[["FlowCall"], Generator["Step", Any, Any]]


class FlowMismatchError(KooKooError):
    """A replay yielded another step than the one the call's journal recorded."""


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
        ``Hangup`` for a :attr:`jumps` step, :class:`~kookoo.protocol.events.Continue` otherwise."""
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
    """The ``call`` a flow function receives: the stored :class:`~kookoo.state.calls.Call` plus
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
        """The caller's number (from NewCall), as :attr:`kookoo.state.calls.Call.caller`."""
        return self._call.caller

    @property
    def called_number(self) -> PhoneNumber | None:
        """The number the caller dialled."""
        return self._call.called_number

    @property
    def state(self) -> dict[str, Any]:
        """The call's own data; see :attr:`kookoo.state.calls.Call.state`."""
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
