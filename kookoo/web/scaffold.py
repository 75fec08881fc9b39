"""Registration: the decorators and ``add_*`` methods that :class:`~kookoo.KooKoo` and
:class:`HandlerGroup` share (handlers per event type, route and step; error handlers; flows).

Each decorator is sugar over a plain method and returns the function unchanged, as in Flask.

The handler contract is a type, so ``mypy`` checks handlers where they are declared:

- a handler takes the event first, typed as the event it is registered for (or a base class);
  any further parameters are filled by name: ``call`` (the :class:`~kookoo.state.calls.Call`),
  ``request`` (the Werkzeug request) and route variables (``/ivr/<lang>``);
- it returns a :data:`HandlerResult`: a :class:`~kookoo.Response` (or the
  :class:`~kookoo.CollectDtmf` that chaining returns), KooKoo XML as ``str``/``bytes``, or
  ``None`` (only for Hangup and Disconnect).

The same contract is checked when a handler is registered: a required parameter the framework
cannot fill is refused at once, with the handler's file and line and a "did you mean" hint,
instead of failing on every live call.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

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
from kookoo.xml.response import CollectDtmf, Response

if TYPE_CHECKING:
    from kookoo.web.app import KooKoo

__all__ = [
    "ErrorHandlerDecorator",
    "FlowDecorator",
    "Handler",
    "HandlerDecorator",
    "HandlerGroup",
    "HandlerResult",
    "Scaffold",
]

P = ParamSpec("P")
E = TypeVar("E", bound=Event)
X = TypeVar("X", bound=BaseException)

#: What a handler may return: a builder, KooKoo XML as str/bytes, or None (Hangup/Disconnect).
HandlerResult = Response | CollectDtmf | str | bytes | None

R = TypeVar("R", bound=HandlerResult)
FlowFunc = TypeVar("FlowFunc", bound=Callable[[FlowCall], Generator[Step, Any, Any]])

#: Parameter names the framework fills by name, besides route variables.
FILLED_PARAMETERS = ("call", "request", "session")


@dataclass(slots=True)
class Handler:
    """A registered handler and what it asks for (one row of :meth:`KooKoo.routes`).

    Attributes:
        func: the function as it was registered.
        event_type: the event class it answers.
        route: the URL path (Werkzeug rule syntax).
        step: the call step it answers in, or ``None`` for the route's default handler.
        wants_call: it has a parameter named ``call``.
        wants_request: it has a parameter named ``request``.
        path_params: the route variables it takes by name (others are not passed to it,
            unless it takes ``**kwargs``).
        accepts_kwargs: it takes ``**kwargs`` (and so every route variable).
        wants_session: it has a parameter named ``session`` (the request's
            :class:`~kookoo.state.session.CallSession`, ``None`` for an app without state).
    """

    func: Callable[..., Any]
    event_type: type[Event]
    route: str
    step: str | None
    wants_call: bool
    wants_request: bool
    path_params: frozenset[str]
    accepts_kwargs: bool
    wants_session: bool = False

    @property
    def name(self) -> str:
        """The function's qualified name, for logs and error messages."""
        return getattr(self.func, "__qualname__", repr(self.func))


def where(func: Callable[..., Any]) -> str:
    """``file:line`` of a function's definition, for registration errors (``"?"`` if unknown)."""
    target = inspect.unwrap(func)
    code = getattr(target, "__code__", None)
    if code is None:
        return "?"
    return f"{code.co_filename}:{code.co_firstlineno}"


def _refuse(func: Callable[..., Any], kind: str, problem: str) -> TypeError:
    name = getattr(func, "__qualname__", repr(func))
    return TypeError(f"{kind} {name} ({where(func)}) {problem}")


def _check_extra(
    func: Callable[..., Any],
    kind: str,
    params: list[inspect.Parameter],
    fillable: list[str],
) -> None:
    """Refuse required parameters (after the positional ones the framework passes) that no
    name the framework fills matches."""
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in fillable:
            if param.kind is param.POSITIONAL_ONLY:
                raise _refuse(
                    func,
                    kind,
                    f"takes {param.name!r} as a positional-only parameter; kookoo passes it "
                    "by name (remove the '/')",
                )
            continue
        if param.default is not param.empty:
            continue
        close = difflib.get_close_matches(param.name, fillable, n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else "kookoo fills only " + ", ".join(repr(n) for n in fillable)
        )
        raise _refuse(
            func,
            kind,
            f"has a required parameter {param.name!r} that kookoo cannot fill; {hint}",
        )


def _describe(
    func: Callable[..., Any], route: str
) -> tuple[bool, bool, frozenset[str], bool, bool]:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot register {func!r} as a handler: {exc}") from exc
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_star_args = any(p.kind is p.VAR_POSITIONAL for p in params)
    if not positional and not has_star_args:
        raise _refuse(
            func,
            "handler",
            "must take the event as its first parameter, e.g. def menu(event, call): ...",
        )
    variables = _route_variables(route)
    _check_extra(
        func, "handler", params[1:] if positional else params, [*FILLED_PARAMETERS, *variables]
    )
    names = {p.name for p in params}
    accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    # A route variable the handler does not take is not passed (unless it takes **kwargs).
    taken = frozenset(v for v in variables if v in names)
    return "call" in names, "request" in names, taken, accepts_kwargs, "session" in names


def _describe_error_handler(func: Callable[..., Any]) -> bool:
    """Check an error handler's signature; return whether it asks for ``call``."""
    params = list(inspect.signature(func).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind is p.VAR_POSITIONAL for p in params):
        raise _refuse(
            func,
            "error handler",
            "must take the error and the event, e.g. def failed(error, event, call): ...",
        )
    _check_extra(func, "error handler", params[2:], ["call"])
    return any(p.name == "call" for p in params)


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


def named_steps(func: Callable[..., Any]) -> Iterator[str]:
    """The step names a handler's source passes to ``next_step("...")`` as literals.

    Used to report, before the first call, a step that no handler serves. Functions whose
    source is not available yield nothing.
    """
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(func)))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "next_step"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


class HandlerDecorator(Generic[E]):
    """What ``@app.on(NewCall)`` and ``@app.on_new_call(step=...)`` return: registers the
    function and gives it back unchanged, with its type checked against the event."""

    __slots__ = ("_event_type", "_route", "_scaffold", "_step")

    def __init__(
        self, scaffold: Scaffold, event_type: type[E], route: str, step: str | None
    ) -> None:
        self._scaffold = scaffold
        self._event_type = event_type
        self._route = route
        self._step = step

    def __call__(self, func: Callable[Concatenate[E, P], R], /) -> Callable[Concatenate[E, P], R]:
        self._scaffold.add_handler(self._event_type, func, route=self._route, step=self._step)
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

    __slots__ = ("_on_hangup", "_route", "_scaffold")

    def __init__(
        self,
        scaffold: Scaffold,
        route: str,
        on_hangup: Callable[[FlowCall, dict[str, Any]], object] | None,
    ) -> None:
        self._scaffold = scaffold
        self._route = route
        self._on_hangup = on_hangup

    def __call__(self, func: FlowFunc, /) -> FlowFunc:
        if not inspect.isgeneratorfunction(inspect.unwrap(func)):
            raise _refuse(
                func,
                "flow",
                "must be a generator function: it yields steps, e.g. "
                "digits = yield call.ask_digits(...)",
            )
        add_flow(self._scaffold, self._route, func, on_hangup=self._on_hangup)
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
    def __call__(self, *, route: str = "/", step: str | None = None) -> HandlerDecorator[E]: ...

    def __call__(
        self,
        func: Callable[..., Any] | None = None,
        *,
        route: str = "/",
        step: str | None = None,
    ) -> Any:
        decorator = HandlerDecorator(self._scaffold, self._event_type, route, step)
        return decorator if func is None else decorator(func)


class Scaffold:
    """What :class:`KooKoo` and :class:`HandlerGroup` share: handler and error registration."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        # exception type -> (handler, whether it asks for ``call``)
        self._error_handlers: dict[type[BaseException], tuple[Callable[..., Any], bool]] = {}

    def _check_setup(self, method: str) -> None:
        """Refuse registration once requests are served (hook for :class:`KooKoo`)."""

    def _added(self, handler: Handler) -> None:
        """Hook: a handler was registered (a mounted :class:`HandlerGroup` forwards it)."""

    def _added_error_handler(self, exc_type: type[BaseException]) -> None:
        """Hook: an error handler was registered."""

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
            event_type: an event class from :mod:`kookoo.protocol.events`, e.g. :class:`GotDTMF`.
            func: called as ``func(event)``; parameters named ``call``, ``request`` and
                ``session`` receive the :class:`~kookoo.state.calls.Call`, the Werkzeug
                request and the :class:`~kookoo.state.session.CallSession`, and route
                variables (``/ivr/<lang>``) arrive by name.
            route: the URL path (Werkzeug rule syntax); several IVR apps can share one server.
            step: only for calls whose current step is this (see
                :meth:`kookoo.Response.next_step`); handlers without a step answer otherwise.

        Raises:
            TypeError: ``event_type`` is not an event class, or ``func`` has a required
                parameter kookoo cannot fill (the message names its file and line).
            ValueError: the route is malformed, or the slot already has a handler.
        """
        self._check_setup("add_handler")
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise TypeError(f"expected an event class such as GotDTMF, got {event_type!r}")
        route = _normalise_route(route)
        wants_call, wants_request, path_params, accepts_kwargs, wants_session = _describe(
            func, route
        )
        for existing in self._handlers:
            if (existing.event_type, existing.route, existing.step) == (event_type, route, step):
                raise ValueError(
                    f"{event_type.__name__} on {route!r}"
                    + (f" in step {step!r}" if step else "")
                    + f" already has handler {existing.name}"
                )
        handler = Handler(
            func,
            event_type,
            route,
            step,
            wants_call,
            wants_request,
            path_params,
            accepts_kwargs,
            wants_session,
        )
        self._handlers.append(handler)
        self._added(handler)

    def on(
        self, event_type: type[E], *, route: str = "/", step: str | None = None
    ) -> HandlerDecorator[E]:
        """Decorator: register the function for ``event_type`` (see :meth:`add_handler`).

        >>> from kookoo import KooKoo, NewCall, Response
        >>> app = KooKoo(store=False)
        >>> @app.on(NewCall)
        ... def welcome(event: NewCall) -> Response:
        ...     return Response().play_text("Welcome").hangup()
        """
        return HandlerDecorator(self, event_type, route, step)

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
    #: The outbound completion callback (:class:`~kookoo.protocol.events.CallStatus`): KooKoo's POST
    #: to ``callback_url`` when an outbound call ends. Its handler returns ``None``; the app
    #: answers ``OK`` and records :attr:`Call.outcome <kookoo.state.calls.Call.outcome>`.
    on_call_status = _Shortcut(CallStatus)

    def flow(
        self,
        route: str = "/",
        *,
        on_hangup: Callable[[FlowCall, dict[str, Any]], object] | None = None,
    ) -> FlowDecorator:
        """Decorator: make a generator function the linear call flow on ``route``.

        See :mod:`kookoo.flow`.  ``on_hangup(call, answers)`` runs when the caller hangs up,
        with the results of the named steps so far.  A function that is not a generator is
        refused at once.

        >>> from kookoo import KooKoo, NewCall, Response
        >>> app = KooKoo(store=False)
        >>> @app.flow("/survey")
        ... def survey(call):
        ...     age = yield call.ask_digits("Please enter your age", max_digits=2)
        ...     yield call.say(f"You are {age}").hangup()
        """
        return FlowDecorator(self, route, on_hangup)

    def add_error_handler(
        self, exc_type: type[BaseException], func: Callable[..., HandlerResult]
    ) -> None:
        """Answer exceptions of ``exc_type`` raised by handlers with ``func(error, event)``.

        ``func`` may also take ``call``: the call as it was before the failing handler ran
        (its half-made changes are discarded), and what ``func`` changes on it is saved.
        It returns what a handler returns.
        """
        self._check_setup("add_error_handler")
        wants_call = _describe_error_handler(func)
        self._error_handlers[exc_type] = (func, wants_call)
        self._added_error_handler(exc_type)

    def errorhandler(self, exc_type: type[X]) -> ErrorHandlerDecorator[X]:
        """Decorator form of :meth:`add_error_handler`.

        >>> from kookoo import KooKoo, NewCall, Response
        >>> app = KooKoo(store=False)
        >>> @app.errorhandler(KeyError)
        ... def unknown_account(error, event):
        ...     return Response().play_text("We could not find that account").hangup()
        """
        return ErrorHandlerDecorator(self, exc_type)


class HandlerGroup(Scaffold):
    """A set of handlers that can be mounted at a prefix with :meth:`KooKoo.mount`.

    Handlers and error handlers added to a group after it was mounted reach every app it is
    mounted on (until that app serves its first request, after which registration is refused).

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
        self._mounts: list[tuple[KooKoo, str]] = []

    def _check_setup(self, method: str) -> None:
        for app, _ in self._mounts:
            app._check_setup(method)

    def _added(self, handler: Handler) -> None:
        for app, prefix in self._mounts:
            app._add_from_group(self, handler, prefix)

    def _added_error_handler(self, exc_type: type[BaseException]) -> None:
        for app, prefix in self._mounts:
            app._add_group_error_handlers(self, prefix)
