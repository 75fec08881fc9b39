"""A registered handler and the checks its signature passes when it is registered.

The handler contract is a type, so ``mypy`` checks handlers where they are declared:

- a handler takes the event first, typed as the event it is registered for (or a base class);
  any further parameters are filled by name: ``call`` (the :class:`~kookoo.state.calls.Call`),
  ``request`` (the Werkzeug request), ``session`` (the
  :class:`~kookoo.state.session.CallSession`) and route variables (``/ivr/<lang>``);
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kookoo.core.errors import ConfigError
from kookoo.protocol.events import Event
from kookoo.xml.response import CollectDtmf, Response

__all__ = [
    "FILLED_PARAMETERS",
    "ErrorHandler",
    "Handler",
    "HandlerResult",
    "describe_error_handler",
    "describe_handler",
    "named_steps",
    "normalise_route",
    "refuse",
    "route_variables",
    "where",
]

#: What a handler may return: a builder, KooKoo XML as str/bytes, or None (Hangup/Disconnect).
HandlerResult = Response | CollectDtmf | str | bytes | None

#: Parameter names the framework fills by name, besides route variables.
FILLED_PARAMETERS = ("call", "request", "session")


@dataclass(frozen=True, slots=True)
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

    @classmethod
    def checked(
        cls, event_type: type[Event], func: Callable[..., Any], route: str, step: str | None
    ) -> Handler:
        """A handler for ``func`` once its signature passed the contract (module docstring).

        Raises:
            TypeError: ``event_type`` is not an event class, or ``func`` has a required
                parameter kookoo cannot fill (the message names its file and line).
            ValueError: ``route`` does not start with ``/``.
        """
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise TypeError(f"expected an event class such as GotDTMF, got {event_type!r}")
        route = normalise_route(route)
        wants_call, wants_request, taken, accepts_kwargs, wants_session = describe_handler(
            func, route
        )
        return cls(
            func,
            event_type,
            route,
            step,
            wants_call,
            wants_request,
            taken,
            accepts_kwargs,
            wants_session,
        )


@dataclass(frozen=True, slots=True)
class ErrorHandler:
    """A registered error handler (``@app.errorhandler(KeyError)``).

    Attributes:
        func: called as ``func(error, event)``, and with ``call=`` when it asks for it.
        wants_call: it has a parameter named ``call``.
    """

    func: Callable[..., Any]
    wants_call: bool

    @property
    def name(self) -> str:
        """The function's qualified name, for logs and error messages."""
        return getattr(self.func, "__qualname__", repr(self.func))

    @classmethod
    def checked(cls, func: Callable[..., Any]) -> ErrorHandler:
        """An error handler for ``func`` once its signature passed the contract.

        Raises:
            TypeError: it takes fewer than the error and the event, or has a required
                parameter kookoo cannot fill.
        """
        return cls(func, describe_error_handler(func))


def where(func: Callable[..., Any]) -> str:
    """``file:line`` of a function's definition, for registration errors (``"?"`` if unknown)."""
    target = inspect.unwrap(func)
    code = getattr(target, "__code__", None)
    if code is None:
        return "?"
    return f"{code.co_filename}:{code.co_firstlineno}"


def refuse(func: Callable[..., Any], kind: str, problem: str) -> TypeError:
    """The ``TypeError`` that refuses ``func`` as a ``kind``, naming its file and line."""
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
                raise refuse(
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
        raise refuse(
            func,
            kind,
            f"has a required parameter {param.name!r} that kookoo cannot fill; {hint}",
        )


def describe_handler(
    func: Callable[..., Any], route: str
) -> tuple[bool, bool, frozenset[str], bool, bool]:
    """What a handler on ``route`` asks for: (``call``, ``request``, the route variables it
    takes, ``**kwargs``, ``session``); refuses a signature kookoo cannot call."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot register {func!r} as a handler: {exc}") from exc
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_star_args = any(p.kind is p.VAR_POSITIONAL for p in params)
    if not positional and not has_star_args:
        raise refuse(
            func,
            "handler",
            "must take the event as its first parameter, e.g. def menu(event, call): ...",
        )
    variables = route_variables(route)
    _check_extra(
        func, "handler", params[1:] if positional else params, [*FILLED_PARAMETERS, *variables]
    )
    names = {p.name for p in params}
    accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    # A route variable the handler does not take is not passed (unless it takes **kwargs).
    taken = frozenset(v for v in variables if v in names)
    return "call" in names, "request" in names, taken, accepts_kwargs, "session" in names


def describe_error_handler(func: Callable[..., Any]) -> bool:
    """Check an error handler's signature; return whether it asks for ``call``."""
    params = list(inspect.signature(func).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind is p.VAR_POSITIONAL for p in params):
        raise refuse(
            func,
            "error handler",
            "must take the error and the event, e.g. def failed(error, event, call): ...",
        )
    _check_extra(func, "error handler", params[2:], ["call"])
    return any(p.name == "call" for p in params)


def route_variables(route: str) -> list[str]:
    """The variable names of a Werkzeug rule: ``/ivr/<lang>/<int:n>`` -> ``["lang", "n"]``."""
    names = []
    for part in route.split("<")[1:]:
        inner = part.split(">", 1)[0]
        names.append(inner.rsplit(":", 1)[-1])
    return names


def normalise_route(route: str) -> str:
    """``route`` without a trailing slash (``/`` stays); it must start with ``/``."""
    if not route.startswith("/"):
        raise ConfigError(f"route {route!r} must start with '/'")
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
