"""Registration: the decorators and ``add_*`` methods that :class:`~kookoo.KooKoo` and
:class:`HandlerGroup` share (handlers per event type, route and step; error handlers; flows).

Each decorator is sugar over a plain method and returns the function unchanged, as in Flask.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from kookoo.events import (
    Conference,
    Continue,
    Dial,
    Disconnect,
    Event,
    GotDTMF,
    Hangup,
    NewCall,
    NewSms,
    Recognize,
    Record,
    Stream,
    UnknownEvent,
)
from kookoo.response import CollectDtmf, Response

if TYPE_CHECKING:
    from kookoo.flow import FlowCall

__all__ = ["Decorator", "HandlerGroup", "HandlerResult"]

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=Event)

#: What a handler may return: a builder, KooKoo XML as str/bytes, or None (Hangup/Disconnect).
HandlerResult = Response | CollectDtmf | str | bytes | None


@dataclass(slots=True)
class _Handler:
    """A registered handler and what it asks for."""

    func: Callable[..., Any]
    event_type: type[Event]
    route: str
    step: str | None
    wants_call: bool
    wants_request: bool
    path_params: frozenset[str]
    accepts_kwargs: bool

    @property
    def name(self) -> str:
        return getattr(self.func, "__qualname__", repr(self.func))


def _describe(func: Callable[..., Any], route: str) -> tuple[bool, bool, frozenset[str], bool]:
    params = inspect.signature(func).parameters
    positional = [
        p
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if not positional and not any(p.kind is p.VAR_POSITIONAL for p in params.values()):
        raise TypeError(
            f"handler {getattr(func, '__qualname__', func)!r} must take the event as its first "
            "parameter, e.g. def menu(event, call): ..."
        )
    variables = frozenset(_route_variables(route))
    accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return "call" in params, "request" in params, variables, accepts_kwargs


def _route_variables(route: str) -> list[str]:
    names = []
    for part in route.split("<")[1:]:
        inner = part.split(">", 1)[0]
        names.append(inner.rsplit(":", 1)[-1])
    return names


def _normalise_route(route: str) -> str:
    if not route.startswith("/"):
        raise ValueError(f"route {route!r} must start with '/'")
    return route.rstrip("/") or "/"


class Decorator(Protocol):
    """A registration decorator: returns the function it is given, unchanged."""

    def __call__(self, func: F, /) -> F: ...


class _Shortcut(Generic[E]):
    """Descriptor behind ``app.on_new_call`` and friends: ``@app.on_dtmf`` or
    ``@app.on_dtmf(route="/ivr", step="language")``."""

    def __init__(self, event_type: type[E]) -> None:
        self.event_type = event_type

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.__doc__ = (
            f"Register a handler for {self.event_type.__name__} events "
            f"(sugar for ``on({self.event_type.__name__}, ...)``)."
        )

    def __get__(self, instance: _Scaffold | None, owner: type[Any]) -> _BoundShortcut[E]:
        if instance is None:
            raise AttributeError("use this decorator on an app or handler group instance")
        return _BoundShortcut(instance, self.event_type)


class _BoundShortcut(Generic[E]):
    def __init__(self, scaffold: _Scaffold, event_type: type[E]) -> None:
        self._scaffold = scaffold
        self._event_type = event_type

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, *, route: str = "/", step: str | None = None) -> Decorator: ...

    def __call__(
        self,
        func: Callable[..., Any] | None = None,
        *,
        route: str = "/",
        step: str | None = None,
    ) -> Any:
        decorator = self._scaffold.on(self._event_type, route=route, step=step)
        return decorator if func is None else decorator(func)


class _Scaffold:
    """What :class:`KooKoo` and :class:`HandlerGroup` share: handler and error registration."""

    def __init__(self) -> None:
        self._handlers: list[_Handler] = []
        # exception type -> (handler, whether it asks for ``call``)
        self._error_handlers: dict[type[BaseException], tuple[Callable[..., Any], bool]] = {}

    def _check_setup(self, method: str) -> None:
        """Refuse registration once requests are served (hook for :class:`KooKoo`)."""

    # -- registration ---------------------------------------------------------------------------

    def add_handler(
        self,
        event_type: type[Event],
        func: Callable[..., Any],
        *,
        route: str = "/",
        step: str | None = None,
    ) -> None:
        """Register ``func`` to answer ``event_type`` events on ``route`` (in ``step``).

        Args:
            event_type: an event class from :mod:`kookoo.events`, e.g. :class:`GotDTMF`.
            func: called as ``func(event)``; parameters named ``call`` and ``request`` receive
                the :class:`~kookoo.calls.Call` and the Werkzeug request, and route variables
                (``/ivr/<lang>``) arrive by name.
            route: the URL path (Werkzeug rule syntax); several IVR apps can share one server.
            step: only for calls whose current step is this (see
                :meth:`kookoo.Response.next_step`); handlers without a step answer otherwise.
        """
        self._check_setup("add_handler")
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise TypeError(f"expected an event class such as GotDTMF, got {event_type!r}")
        route = _normalise_route(route)
        wants_call, wants_request, path_params, accepts_kwargs = _describe(func, route)
        for existing in self._handlers:
            if (existing.event_type, existing.route, existing.step) == (event_type, route, step):
                raise ValueError(
                    f"{event_type.__name__} on {route!r}"
                    + (f" in step {step!r}" if step else "")
                    + f" already has handler {existing.name}"
                )
        self._handlers.append(
            _Handler(
                func,
                event_type,
                route,
                step,
                wants_call,
                wants_request,
                path_params,
                accepts_kwargs,
            )
        )

    def on(
        self, event_type: type[Event], *, route: str = "/", step: str | None = None
    ) -> Decorator:
        """Decorator: register the function for ``event_type`` (see :meth:`add_handler`).

        >>> from kookoo import KooKoo, NewCall, Response
        >>> app = KooKoo(store=False)
        >>> @app.on(NewCall)
        ... def welcome(event):
        ...     return Response().play_text("Welcome").hangup()
        """

        def decorator(func: F) -> F:
            self.add_handler(event_type, func, route=route, step=step)
            return func

        return decorator

    on_new_call = _Shortcut(NewCall)
    on_dtmf = _Shortcut(GotDTMF)
    on_record = _Shortcut(Record)
    on_dial = _Shortcut(Dial)
    on_hangup = _Shortcut(Hangup)
    on_disconnect = _Shortcut(Disconnect)
    on_recognize = _Shortcut(Recognize)
    on_conference = _Shortcut(Conference)
    on_stream = _Shortcut(Stream)
    on_sms = _Shortcut(NewSms)
    on_continue = _Shortcut(Continue)
    on_unknown = _Shortcut(UnknownEvent)

    def flow(
        self,
        route: str = "/",
        *,
        on_hangup: Callable[[FlowCall, dict[str, Any]], object] | None = None,
    ) -> Decorator:
        """Decorator: make a generator function the linear call flow on ``route``.

        See :mod:`kookoo.flow`.  ``on_hangup(call, answers)`` runs when the caller hangs up,
        with the results of the named steps so far.

        >>> from kookoo import KooKoo, NewCall, Response
        >>> app = KooKoo(store=False)
        >>> @app.flow("/survey")
        ... def survey(call):
        ...     age = yield call.ask_digits("Please enter your age", max_digits=2)
        ...     yield call.say(f"You are {age}").hangup()
        """
        from kookoo.flow import add_flow

        def decorator(func: F) -> F:
            add_flow(self, route, func, on_hangup=on_hangup)
            return func

        return decorator

    def add_error_handler(
        self, exc_type: type[BaseException], func: Callable[..., HandlerResult]
    ) -> None:
        """Answer exceptions of ``exc_type`` raised by handlers with ``func(error, event)``.

        ``func`` may also take ``call``.  It returns what a handler returns.
        """
        self._check_setup("add_error_handler")
        wants_call = "call" in inspect.signature(func).parameters
        self._error_handlers[exc_type] = (func, wants_call)

    def errorhandler(self, exc_type: type[BaseException]) -> Decorator:
        """Decorator form of :meth:`add_error_handler`.

        >>> from kookoo import KooKoo, NewCall, Response
        >>> app = KooKoo(store=False)
        >>> @app.errorhandler(KeyError)
        ... def unknown_account(error, event):
        ...     return Response().play_text("We could not find that account").hangup()
        """

        def decorator(func: F) -> F:
            self.add_error_handler(exc_type, func)
            return func

        return decorator


class HandlerGroup(_Scaffold):
    """A set of handlers that can be mounted at a prefix with :meth:`KooKoo.mount`.

    >>> from kookoo import KooKoo, Response
    >>> survey = HandlerGroup()
    >>> @survey.on_new_call
    ... def start(event):
    ...     return Response().play_text("Survey").hangup()
    >>> app = KooKoo(store=False)
    >>> app.mount(survey, prefix="/survey")
    """
