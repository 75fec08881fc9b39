"""kookoo.web.checks: shadowed routes, whether an app uses call state, and check_app."""

from __future__ import annotations

from pathlib import Path

import pytest

from kookoo import Call, Event, GotDTMF, KooKoo, NewCall, Response
from kookoo.state.stores import MemoryStore, StoreUnavailableError
from kookoo.web.checks import Problem, check_app, route_problems, uses_call_state


def _hangup(event: NewCall) -> Response:
    return Response().hangup()


def test_same_shaped_variable_routes_shadow_each_other_converters_apart() -> None:
    app = KooKoo(store=False)
    for route in ("/<lang>", "/<name>", "/<int:n>/x", "/<int:m>/x", "/<path:p>/y", "/<q>/y"):
        app.add_handler(NewCall, _hangup, route=route)
    assert route_problems(app.handlers, app.settings) == [
        "route '/<int:n>/x' never gets a request: route '/<int:m>/x' matches the same URLs and "
        "wins; merge them or make one more specific",
        "route '/<name>' never gets a request: route '/<lang>' matches the same URLs and wins; "
        "merge them or make one more specific",
    ]


def test_the_metrics_path_shadows_a_route_only_with_metrics_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    plain = KooKoo(store=False)
    plain.add_handler(NewCall, _hangup, route="/metrics")
    assert route_problems(plain.handlers, plain.settings) == []
    counted = KooKoo(store=False, metrics=True)
    counted.add_handler(NewCall, _hangup, route="/metrics")
    [problem] = route_problems(counted.handlers, counted.settings, metrics=True)
    assert "the metrics answers there first" in problem
    assert "KOOKOO_METRICS_PATH" in problem


def test_uses_call_state_counts_error_handlers_too() -> None:
    app = KooKoo(store=MemoryStore())
    app.add_handler(NewCall, _hangup)
    assert not uses_call_state(app)

    @app.errorhandler(ValueError)
    def oops(exc: ValueError, event: Event, call: Call) -> Response:
        return Response().hangup()

    assert uses_call_state(app)


class Down(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.name = "SQLite database /x (from KOOKOO_DB)"

    def load(self, sid: str) -> Call | None:
        raise StoreUnavailableError("SQLite database /x (from KOOKOO_DB)", "disk gone")


def test_check_app_reports_the_store_and_the_handlers(tmp_path: Path) -> None:
    app = KooKoo(store=Down())

    @app.on_dtmf
    def menu(event: GotDTMF, call: Call) -> Response:
        return Response().next_step("nowhere")

    problems = check_app(app)
    assert problems[0] == Problem(
        "store", "SQLite database /x (from KOOKOO_DB) is unavailable: disk gone"
    )
    assert problems[1].kind == "handlers"
    assert "names step 'nowhere'" in problems[1].message
    stateless = KooKoo(store=Down())
    stateless.add_handler(NewCall, _hangup)
    assert check_app(stateless) == []  # the store is never used: not probed
