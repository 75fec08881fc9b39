"""Registration: the decorators and ``add_*`` methods that :class:`~kookoo.KooKoo` and
:class:`HandlerGroup` share (handlers per event type, route and step; error handlers; flows;
``before_dispatch`` and ``after_response`` hooks; signed routes).

Each decorator is sugar over a plain method and returns the function unchanged, as in Flask,
and every registration method is a :func:`setupmethod`: an app refuses it once it has served
a request, a group once it has been mounted. A group records what is registered on it and
:meth:`KooKoo.mount <kookoo.KooKoo.mount>` copies that, as Flask's blueprints do.

The handler contract (what a handler takes and returns) is :mod:`kookoo.web.handlers`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from kookoo.core.errors import ConfigError, SetupError
from kookoo.flow import FlowCall, Step, add_flow
from kookoo.protocol.events import (
    CallStatus,
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
from kookoo.web.context import AfterResponse, BeforeDispatch
from kookoo.web.handlers import ErrorHandler, Handler, HandlerResult, refuse

__all__ = [
    "ErrorHandlerDecorator",
    "FlowDecorator",
    "HandlerDecorator",
    "HandlerGroup",
    "Scaffold",
    "setupmethod",
]

P = ParamSpec("P")
E = TypeVar("E", bound=Event)
X = TypeVar("X", bound=BaseException)
R = TypeVar("R", bound=HandlerResult)
F = TypeVar("F", bound=Callable[..., Any])
FlowFunc = TypeVar("FlowFunc", bound=Callable[[FlowCall], Generator[Step, Any, Any]])
BeforeHook = TypeVar("BeforeHook", bound=BeforeDispatch)
AfterHook = TypeVar("AfterHook", bound=AfterResponse)


def setupmethod(method: F) -> F:
    """Mark a registration method: it refuses to run once registration is over
    (:meth:`Scaffold.check_setup`), naming itself in the error."""

    @functools.wraps(method)
    def guarded(self: Scaffold, *args: Any, **kwargs: Any) -> Any:
        self.check_setup(method.__name__)
        return method(self, *args, **kwargs)

    return guarded  # type: ignore[return-value]  # the same signature, checked first


class HandlerDecorator(Generic[E]):
    """What ``@app.on(NewCall)`` and ``@app.on_new_call(step=...)`` return: registers the
    function and gives it back unchanged, with its type checked against the event."""

    __slots__ = ("_event_type", "_route", "_scaffold", "_signed", "_step")

    def __init__(
        self,
        scaffold: Scaffold,
        event_type: type[E],
        route: str,
        step: str | None,
        signed: bool = False,
    ) -> None:
        self._scaffold = scaffold
        self._event_type = event_type
        self._route = route
        self._step = step
        self._signed = signed

    def __call__(self, func: Callable[Concatenate[E, P], R], /) -> Callable[Concatenate[E, P], R]:
        self._scaffold.add_handler(
            self._event_type, func, route=self._route, step=self._step, signed=self._signed
        )
        return func


class ErrorHandlerDecorator(Generic[X]):
    """What ``@app.errorhandler(KeyError)`` returns."""

    __slots__ = ("_exc_type", "_scaffold")

    def __init__(self, scaffold: Scaffold, exc_type: type[X]) -> None:
        self._scaffold = scaffold
        self._exc_type = exc_type

    def __call__(
        self, func: Callable[Concatenate[X, Event, P], R], /
    ) -> Callable[Concatenate[X, Event, P], R]:
        self._scaffold.add_error_handler(self._exc_type, func)
        return func


class FlowDecorator:
    """What ``@app.flow("/survey")`` returns: takes a generator function of a
    :class:`~kookoo.flow.FlowCall` that yields :class:`~kookoo.flow.Step` objects."""

    __slots__ = ("_on_hangup", "_route", "_scaffold", "_signed")

    def __init__(
        self,
        scaffold: Scaffold,
        route: str,
        on_hangup: Callable[[FlowCall, dict[str, Any]], object] | None,
        signed: bool = False,
    ) -> None:
        self._scaffold = scaffold
        self._route = route
        self._on_hangup = on_hangup
        self._signed = signed

    def __call__(self, func: FlowFunc, /) -> FlowFunc:
        if not inspect.isgeneratorfunction(inspect.unwrap(func)):
            raise refuse(
                func,
                "flow",
                "must be a generator function: it yields steps, e.g. "
                "digits = yield call.ask_digits(...)",
            )
        add_flow(self._scaffold, self._route, func, on_hangup=self._on_hangup, signed=self._signed)
        return func


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

    def __get__(self, instance: Scaffold | None, owner: type[Any]) -> _BoundShortcut[E]:
        if instance is None:
            raise AttributeError("use this decorator on an app or handler group instance")
        return _BoundShortcut(instance, self.event_type)


class _BoundShortcut(Generic[E]):
    __slots__ = ("_event_type", "_scaffold")

    def __init__(self, scaffold: Scaffold, event_type: type[E]) -> None:
        self._scaffold = scaffold
        self._event_type = event_type

    @overload
    def __call__(
        self, func: Callable[Concatenate[E, P], R], /
    ) -> Callable[Concatenate[E, P], R]: ...

    @overload
    def __call__(
        self, *, route: str = "/", step: str | None = None, signed: bool = False
    ) -> HandlerDecorator[E]: ...

    def __call__(
        self,
        func: Callable[..., Any] | None = None,
        *,
        route: str = "/",
        step: str | None = None,
        signed: bool = False,
    ) -> Any:
        decorator = HandlerDecorator(self._scaffold, self._event_type, route, step, signed)
        return decorator if func is None else decorator(func)


class Scaffold:
    """What :class:`~kookoo.KooKoo` and :class:`HandlerGroup` share: registration.

    Attributes:
        handlers: the registered handlers, in order.
        error_handlers: exception class -> its :class:`~kookoo.web.handlers.ErrorHandler`.
        before_dispatch_funcs: the ``before_dispatch`` hooks, in order.
        after_response_funcs: the ``after_response`` hooks, in order.
        signed_routes: routes whose requests must carry signed app parameters.
    """

    def __init__(self) -> None:
        self.handlers: list[Handler] = []
        self.error_handlers: dict[type[BaseException], ErrorHandler] = {}
        self.before_dispatch_funcs: list[BeforeDispatch] = []
        self.after_response_funcs: list[AfterResponse] = []
        self.signed_routes: set[str] = set()

    def check_setup(self, method: str) -> None:
        """Refuse registration once it is over (an app that served, a mounted group).

        Raises:
            SetupError: naming ``method`` and why it is too late.
        """

    # -- registration ---------------------------------------------------------------------------

    @setupmethod
    def add_handler(
        self,
        event_type: type[Event],
        func: Callable[..., Any],
        *,
        route: str = "/",
        step: str | None = None,
        signed: bool = False,
    ) -> None:
        """Register ``func`` to answer ``event_type`` events on ``route`` (in ``step``).

        Args:
            event_type: an event class from :mod:`kookoo.protocol.events`, e.g.
                :class:`~kookoo.GotDTMF`.
            func: called as ``func(event)``; parameters named ``call``, ``request`` and
                ``session`` receive the :class:`~kookoo.state.calls.Call`, the Werkzeug
                request and the :class:`~kookoo.state.session.CallSession`, and route
                variables (``/ivr/<lang>``) arrive by name.
            route: the URL path (Werkzeug rule syntax); several IVR apps can share one server.
            step: only for calls whose current step is this (see
                :meth:`kookoo.Response.next_step`); handlers without a step answer otherwise.
            signed: every request on ``route`` must carry app parameters signed by
                :meth:`KooKoo.signed_url <kookoo.KooKoo.signed_url>` (else 403); the handler
                finds the verified values in ``event.params``. Needs the app's secret.

        Raises:
            TypeError: ``event_type`` is not an event class, or ``func`` has a required
                parameter kookoo cannot fill (the message names its file and line).
            ConfigError: the route is malformed, or the slot already has a handler.
            SetupError: registration is over (see :meth:`check_setup`).
        """
        handler = Handler.checked(event_type, func, route, step)
        for existing in self.handlers:
            if (existing.event_type, existing.route, existing.step) == (
                event_type,
                handler.route,
                step,
            ):
                raise ConfigError(
                    f"{event_type.__name__} on {handler.route!r}"
                    + (f" in step {step!r}" if step else "")
                    + f" already has handler {existing.name}"
                )
        self.handlers.append(handler)
        if signed:
            self.signed_routes.add(handler.route)

    def on(
        self,
        event_type: type[E],
        *,
        route: str = "/",
        step: str | None = None,
        signed: bool = False,
    ) -> HandlerDecorator[E]:
        """Decorator: register the function for ``event_type`` (see :meth:`add_handler`).

        >>> from kookoo import KooKoo, NewCall, Response
        >>> app = KooKoo(store=False)
        >>> @app.on(NewCall)
        ... def welcome(event: NewCall) -> Response:
        ...     return Response().play_text("Welcome").hangup()
        """
        return HandlerDecorator(self, event_type, route, step, signed)

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
    #: The outbound completion callback (:class:`~kookoo.CallStatus`): KooKoo's POST to
    #: ``callback_url`` when an outbound call ends. Its handler returns ``None``; the app
    #: answers ``OK`` and records :attr:`Call.outcome <kookoo.Call.outcome>`.
    on_call_status = _Shortcut(CallStatus)

    def flow(
        self,
        route: str = "/",
        *,
        on_hangup: Callable[[FlowCall, dict[str, Any]], object] | None = None,
        signed: bool = False,
    ) -> FlowDecorator:
        """Decorator: make a generator function the linear call flow on ``route``.

        See :mod:`kookoo.flow`.  ``on_hangup(call, answers)`` runs when the caller hangs up,
        with the results of the named steps so far.  A function that is not a generator is
        refused at once. ``signed`` as for :meth:`add_handler`.

        >>> from kookoo import KooKoo
        >>> app = KooKoo(store=False)
        >>> @app.flow("/survey")
        ... def survey(call):
        ...     age = yield call.ask_digits("Please enter your age", max_digits=2)
        ...     yield call.say(f"You are {age}").hangup()
        """
        return FlowDecorator(self, route, on_hangup, signed)

    @setupmethod
    def add_error_handler(
        self, exc_type: type[BaseException], func: Callable[..., HandlerResult]
    ) -> None:
        """Answer exceptions of ``exc_type`` raised by handlers with ``func(error, event)``.

        ``func`` may also take ``call``: the call as it was before the failing handler ran
        (its half-made changes are discarded), and what ``func`` changes on it is saved.
        It returns what a handler returns.
        """
        self.error_handlers[exc_type] = ErrorHandler.checked(func)

    def errorhandler(self, exc_type: type[X]) -> ErrorHandlerDecorator[X]:
        """Decorator form of :meth:`add_error_handler`.

        >>> from kookoo import KooKoo, Response
        >>> app = KooKoo(store=False)
        >>> @app.errorhandler(KeyError)
        ... def unknown_account(error, event):
        ...     return Response().play_text("We could not find that account").hangup()
        """
        return ErrorHandlerDecorator(self, exc_type)

    @setupmethod
    def before_dispatch(self, func: BeforeHook) -> BeforeHook:
        """Decorator: run ``func(event, ctx)`` for each parsed request, before its call is
        opened and its handler chosen (on a group: for the group's routes only).

        ``None`` lets the request go on; anything else is the reply, as a handler's, and then
        no handler runs and nothing is saved (a cap, a maintenance message, a block list).
        A Werkzeug ``HTTPException`` it raises refuses the request (``Forbidden(...)``: a
        403 with that sentence); any other exception is logged with the sid and the caller
        hears the fallback (the error handlers are for handlers).

        >>> from kookoo import KooKoo, Response
        >>> app = KooKoo(store=False)
        >>> @app.before_dispatch
        ... def closed_on_sunday(event, ctx):
        ...     return None  # or Response().play_text("We are closed today").hangup()
        """
        self.before_dispatch_funcs.append(func)
        return func

    @setupmethod
    def after_response(self, func: AfterHook) -> AfterHook:
        """Decorator: run ``func(ctx, reply)`` once each request's reply is built (refused
        requests too; on a group: the requests routed to the group's routes, so not those
        refused before routing), for logs, metrics and audits. It cannot change the reply;
        an exception it raises propagates to the server.

        >>> from kookoo import KooKoo
        >>> app = KooKoo(store=False)
        >>> @app.after_response
        ... def audit(ctx, reply):
        ...     pass  # e.g. count reply.status per ctx.route
        """
        self.after_response_funcs.append(func)
        return func


class HandlerGroup(Scaffold):
    """A set of handlers (error handlers, hooks, signed routes) that an app mounts at a
    prefix with :meth:`KooKoo.mount <kookoo.KooKoo.mount>`, like a Flask blueprint: the group
    records what is registered on it, and mounting copies that into the app (the group's
    error handlers and hooks serve the group's routes only). Register everything before
    mounting: a mounted group refuses registration.

    >>> from kookoo import KooKoo, Response
    >>> survey = HandlerGroup()
    >>> @survey.on_new_call
    ... def start(event):
    ...     return Response().play_text("Survey").hangup()
    >>> app = KooKoo(store=False)
    >>> app.mount(survey, prefix="/survey")
    """

    def __init__(self) -> None:
        super().__init__()
        self.mounted = False
        """True once an app mounted the group: it takes no more registrations."""

    def check_setup(self, method: str) -> None:
        """Refuse registration on a group an app has mounted."""
        if self.mounted:
            raise SetupError(
                f"{method}() can no longer be called on this handler group: an app has "
                "mounted it already, and mount() copied what it had. Register everything "
                "on the group before app.mount()."
            )
