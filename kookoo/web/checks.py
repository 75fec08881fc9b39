"""Deploy-time checks of an app, for ``kookoo check`` and each worker's first request: routes
that can never get a request, whether the handlers keep call state, and whether the call
store can be written.

(The handler table's own check, steps that no handler serves, is :meth:`KooKoo.check
<kookoo.KooKoo.check>`, which includes :func:`route_problems`.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol

from kookoo.core.settings import Settings
from kookoo.state.stores.base import CallStore
from kookoo.web.handlers import ErrorHandler, Handler, named_steps

__all__ = [
    "CheckedApp",
    "Problem",
    "Registrations",
    "check_app",
    "route_problems",
    "unknown_steps",
    "uses_call_state",
]

# <name>, <int:name>, <any(a, b):name>: the converter, without the variable's name.
_VARIABLE = re.compile(r"<(?:([A-Za-z_]\w*)(\([^)]*\))?:)?[A-Za-z_]\w*>")


class Registrations(Protocol):
    """What was registered on an app (a :class:`~kookoo.KooKoo`): its handlers and error
    handlers, its own and per route (those of a mounted group)."""

    @property
    def handlers(self) -> Sequence[Handler]:
        """The handlers, in order."""

    @property
    def error_handlers(self) -> Mapping[type[BaseException], ErrorHandler]:
        """The app's error handlers."""

    @property
    def route_error_handlers(self) -> Mapping[str, Mapping[type[BaseException], ErrorHandler]]:
        """The error handlers of the group mounted on each route."""


class CheckedApp(Registrations, Protocol):
    """What ``kookoo check`` reads of an app: its registrations, its store and
    :meth:`~kookoo.KooKoo.check`."""

    @property
    def store(self) -> CallStore | None:
        """The call store in use (created if need be)."""

    def check(self) -> list[str]:
        """The problems of the handler table, as sentences."""


class Problem(NamedTuple):
    """One finding of :func:`check_app`."""

    kind: str
    """``"store"`` or ``"handlers"``."""
    message: str
    """The sentence to print: what is wrong and what to change (file, URL or variable)."""


def _shape(route: str) -> str:
    return _VARIABLE.sub(lambda m: f"<{m.group(1) or 'string'}{m.group(2) or ''}>", route)


def route_problems(
    handlers: Iterable[Handler], settings: Settings, *, metrics: bool = False
) -> list[str]:
    """Routes that never get a request, as sentences: one the health or metrics path answers
    first, and a variable route matching exactly the URLs an earlier one does (``/<lang>``
    after ``/<name>``: the first, in sorted order, wins).

    >>> from kookoo import KooKoo, NewCall
    >>> app = KooKoo(store=False)
    >>> _ = app.add_handler(NewCall, lambda e: None, route="/healthz")
    >>> route_problems(app.handlers, app.settings)  # doctest: +ELLIPSIS
    ["route '/healthz' never reaches its handlers: the health check answers there ..."]
    """
    routes = sorted({h.route for h in handlers})
    answered = {settings.health_path: ("the health check", "health_path or KOOKOO_HEALTH_PATH")}
    if metrics:
        answered[settings.metrics_path] = ("the metrics", "metrics_path or KOOKOO_METRICS_PATH")
    problems = []
    shapes: dict[str, str] = {}
    for route in routes:
        if route in answered:
            what, setting = answered[route]
            problems.append(
                f"route {route!r} never reaches its handlers: {what} answers there first; "
                f"move the route or change {setting}"
            )
        if "<" not in route:
            continue
        shape = _shape(route)
        if shape in shapes:
            problems.append(
                f"route {route!r} never gets a request: route {shapes[shape]!r} matches the "
                "same URLs and wins; merge them or make one more specific"
            )
        else:
            shapes[shape] = route
    return problems


def unknown_steps(handlers: Iterable[Handler]) -> list[tuple[str, str]]:
    """``(handler name, step)`` for each step a handler's source passes to
    ``next_step("...")`` that no handler serves (:func:`~kookoo.web.handlers.named_steps`)."""
    handlers = list(handlers)
    known = {h.step for h in handlers if h.step is not None}
    found: list[tuple[str, str]] = []
    for h in handlers:
        for step in named_steps(h.func):
            if step not in known and (h.name, step) not in found:
                found.append((h.name, step))
    return found


def uses_call_state(app: Registrations) -> bool:
    """Whether some handler (or error handler) of ``app`` keeps call state, so the app
    reads and writes its store."""
    if any(h.wants_call or h.step is not None for h in app.handlers):
        return True
    tables = (app.error_handlers, *app.route_error_handlers.values())
    return any(entry.wants_call for table in tables for entry in table.values())


def check_app(app: CheckedApp) -> list[Problem]:
    """Everything ``kookoo check`` finds wrong in ``app``: the store it keeps calls in cannot
    be read and written (the message names the file or server and the variable it came
    from), and :meth:`~kookoo.KooKoo.check`'s findings."""
    from kookoo.web.health import check_store

    problems = []
    if uses_call_state(app):
        store_problem = check_store(app.store, write=True)
        if store_problem is not None:
            problems.append(Problem("store", store_problem))
    problems.extend(Problem("handlers", text) for text in app.check())
    return problems
