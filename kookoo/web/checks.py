"""Deploy-time checks of an app, for ``kookoo check`` and each worker's first request: routes
that can never get a request, and whether the call store can be written.

(The handler table's own check, steps that no handler serves, is :meth:`KooKoo.check`, which
includes :func:`route_problems`.)
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from kookoo.web.health import check_store

__all__ = ["Problem", "check_app", "route_problems", "uses_call_state"]

# <name>, <int:name>, <any(a, b):name>: the converter, without the variable's name.
_VARIABLE = re.compile(r"<(?:([A-Za-z_]\w*)(\([^)]*\))?:)?[A-Za-z_]\w*>")


class Problem(NamedTuple):
    """One finding of :func:`check_app`."""

    kind: str
    """``"store"`` or ``"handlers"``."""
    message: str
    """The sentence to print: what is wrong and what to change (file, URL or variable)."""


def _shape(route: str) -> str:
    return _VARIABLE.sub(lambda m: f"<{m.group(1) or 'string'}{m.group(2) or ''}>", route)


def route_problems(app: Any) -> list[str]:
    """Routes of ``app`` (a :class:`~kookoo.KooKoo`) that never get a request, as sentences:
    one the health or metrics path answers first, and a variable route matching exactly the
    URLs an earlier one does (``/<lang>`` after ``/<name>``: the first, in sorted order, wins).

    >>> from kookoo import KooKoo, NewCall
    >>> app = KooKoo(store=False)
    >>> _ = app.add_handler(NewCall, lambda e: None, route="/healthz")
    >>> route_problems(app)  # doctest: +ELLIPSIS
    ["route '/healthz' never reaches its handlers: the health check answers there ..."]
    """
    routes = sorted({h.route for h in app._handlers})
    answered = {app.health_path: ("the health check", "health_path or KOOKOO_HEALTH_PATH")}
    if getattr(app, "metrics", None) is not None:
        answered[app.metrics_path] = ("the metrics", "metrics_path or KOOKOO_METRICS_PATH")
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


def uses_call_state(app: Any) -> bool:
    """Whether some handler (or error handler) of ``app`` keeps call state, so the app
    reads and writes its store."""
    if any(h.wants_call or h.step is not None for h in app._handlers):
        return True
    tables = (app._error_handlers, *app._route_error_handlers.values())
    return any(wants for table in tables for _, wants in table.values())


def check_app(app: Any) -> list[Problem]:
    """Everything ``kookoo check`` finds wrong in ``app`` (a :class:`~kookoo.KooKoo`): the
    store it keeps calls in cannot be read and written (the message names the file or
    server and the variable it came from), and :meth:`~kookoo.KooKoo.check`'s findings."""
    problems = []
    if uses_call_state(app):
        store_problem = check_store(app.store, write=True)
        if store_problem is not None:
            problems.append(Problem("store", store_problem))
    problems.extend(Problem("handlers", text) for text in app.check())
    return problems
