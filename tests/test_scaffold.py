"""Registration: the handler contract checked when a handler is registered, mounted groups,
steps no handler serves."""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import pytest
from werkzeug.test import Client

from kookoo import Call, CollectDtmf, Event, GotDTMF, HandlerGroup, KooKoo, NewCall, Response
from kookoo.flow import FlowCall, Step
from kookoo.state.stores import MemoryStore


def started(app: KooKoo, sid: str) -> None:
    """Store the call ``sid`` as its NewCall would: only NewCall may create a record."""
    assert app.store is not None
    call = Call(sid)
    call.record_event("NewCall")
    app.store.save(call)


def xml(body: str) -> bytes:
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + body.encode()


def test_a_misspelt_call_parameter_is_refused_with_file_line_and_hint() -> None:
    app = KooKoo(store=MemoryStore())

    def welcome(event: NewCall, cal: Call) -> Response:  # the typo of the field trial
        return Response().hangup()

    with pytest.raises(TypeError) as info:
        app.on_new_call(welcome)
    message = str(info.value)
    assert "has a required parameter 'cal' that kookoo cannot fill; did you mean 'call'?" in message
    line = welcome.__code__.co_firstlineno
    assert f"{__file__}:{line}" in message
    assert app.routes() == []


def test_an_unknown_required_parameter_lists_what_kookoo_fills() -> None:
    app = KooKoo(store=MemoryStore())

    def menu(event: GotDTMF, account: str) -> Response:
        return Response().hangup()

    with pytest.raises(TypeError, match=r"kookoo fills only 'call', 'request', 'session', 'lang'$"):
        app.add_handler(GotDTMF, menu, route="/ivr/<lang>")


def test_optional_and_route_parameters_are_accepted() -> None:
    app = KooKoo(store=MemoryStore())

    def menu(event: GotDTMF, lang: str, call: Call, greeting: str = "hi") -> Response:
        return Response().play_text(f"{greeting} {lang} {call.state.get('n')}")

    app.add_handler(GotDTMF, menu, route="/ivr/<lang>")
    started(app, "1")
    resp = Client(app).get("/ivr/hi?event=GotDTMF&sid=1&data=1")
    assert resp.data == xml("<response><playtext>hi hi None</playtext></response>")


def test_call_as_a_positional_only_parameter_is_refused() -> None:
    app = KooKoo(store=MemoryStore())

    def welcome(event: NewCall, call: Call, /) -> Response:
        return Response().hangup()

    with pytest.raises(TypeError, match="positional-only"):
        app.on_new_call(welcome)


def test_an_error_handler_without_the_event_parameter_is_refused() -> None:
    app = KooKoo(store=MemoryStore())

    def broken(error: Exception) -> Response:
        return Response().hangup()

    with pytest.raises(TypeError, match=r"must take the error and the event"):
        app.add_error_handler(KeyError, broken)

    def typo(error: Exception, event: Event, cal: Call) -> Response:
        return Response().hangup()

    with pytest.raises(TypeError, match=r"did you mean 'call'\?"):
        app.add_error_handler(KeyError, typo)


def test_a_flow_that_is_not_a_generator_is_refused_at_registration() -> None:
    app = KooKoo(store=MemoryStore())

    def survey(call: FlowCall) -> Response:
        return Response().hangup()

    with pytest.raises(TypeError, match=r"must be a generator function"):
        app.flow("/survey")(survey)  # type: ignore[type-var]
    assert app.routes() == []


def test_mount_copies_what_the_group_recorded_and_its_error_handlers_serve_its_routes() -> None:
    group = HandlerGroup()

    @group.on_new_call
    def start(event: NewCall) -> Response:
        return Response().play_text("start")

    @group.on_dtmf
    def pressed(event: GotDTMF) -> Response:
        return Response().play_text(f"pressed {event.digits}")

    @group.errorhandler(KeyError)
    def missing(error: KeyError, event: Event) -> Response:
        return Response().play_text("missing").hangup()

    @group.on_dtmf(step="boom")
    def boom(event: GotDTMF) -> Response:
        raise KeyError("x")

    app = KooKoo(store=MemoryStore())
    app.mount(group, prefix="/survey")

    @app.on_dtmf(route="/other", step="boom")
    def other_boom(event: GotDTMF) -> Response:
        raise KeyError("y")

    client = Client(app)
    started(app, "1")
    resp = client.get("/survey?event=GotDTMF&sid=1&data=7")
    assert resp.data == xml("<response><playtext>pressed 7</playtext></response>")
    assert [(r[0], r[1], r[2]) for r in app.routes()] == [
        ("/other", "GotDTMF", "boom"),
        ("/survey", "GotDTMF", None),
        ("/survey", "GotDTMF", "boom"),
        ("/survey", "NewCall", None),
    ]
    app.store.save(Call("2", step="boom"))  # type: ignore[union-attr]
    resp = client.get("/survey?event=GotDTMF&sid=2&data=7")
    assert resp.data == xml("<response><playtext>missing</playtext><hangup/></response>")
    # the group's error handler answers for the group's routes only
    app.store.save(Call("3", step="boom"))  # type: ignore[union-attr]
    resp = client.get("/other?event=GotDTMF&sid=3&data=7")
    assert b"Sorry, something went wrong" in resp.data


def test_a_mounted_group_refuses_registration() -> None:
    group = HandlerGroup()

    @group.on_new_call
    def start(event: NewCall) -> Response:
        return Response().hangup()

    app = KooKoo(store=False)
    app.mount(group)

    def late(event: GotDTMF) -> Response:
        return Response().hangup()

    refused = r"add_handler\(\) can no longer be called on this handler group"
    with pytest.raises(RuntimeError, match=refused):
        group.on_dtmf(late)
    with pytest.raises(RuntimeError, match=r"add_error_handler.*mounted"):
        group.add_error_handler(KeyError, lambda error, event: None)
    with pytest.raises(RuntimeError, match=r"before_dispatch.*mounted"):
        group.before_dispatch(lambda event, ctx: None)
    assert [r[3] for r in app.routes()] == [
        "test_a_mounted_group_refuses_registration.<locals>.start"
    ]


def test_an_app_refuses_setup_once_it_served() -> None:
    app = KooKoo(store=False)

    @app.on_new_call
    def start(event: NewCall) -> Response:
        return Response().hangup()

    Client(app).get("/?event=NewCall&sid=1")
    for attempt in (
        lambda: app.on_dtmf(lambda event: None),
        lambda: app.add_error_handler(KeyError, lambda error, event: None),
        lambda: app.mount(HandlerGroup(), prefix="/x"),
        lambda: app.before_dispatch(lambda event, ctx: None),
        lambda: app.after_response(lambda ctx, reply: None),
    ):
        with pytest.raises(RuntimeError, match="already handled a request"):
            attempt()


def _menu_app() -> KooKoo:
    app = KooKoo(store=MemoryStore())

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> CollectDtmf:
        return Response().next_step("langauge").collect_dtmf(max_digits=1).play_text("menu")

    @app.on_dtmf(step="language")
    def language(event: GotDTMF, call: Call) -> Response:
        return Response().hangup()

    return app


def test_check_names_a_step_no_handler_serves_with_a_hint() -> None:
    app = _menu_app()
    assert app.check() == [
        "handler _menu_app.<locals>.welcome names step 'langauge', which no handler serves "
        "(the call's next event goes to the route's default handler); did you mean 'language'?"
    ]


def test_the_first_request_logs_unknown_steps(caplog: pytest.LogCaptureFixture) -> None:
    app = _menu_app()
    with caplog.at_level(logging.WARNING, logger="kookoo"):
        Client(app).get("/?event=NewCall&sid=1")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # once from the check at the first request, and the reply naming it does not repeat it
    assert len(warnings) == 1
    assert "names step 'langauge'" in warnings[0]
    assert "did you mean 'language'?" in warnings[0]


def test_a_step_computed_at_run_time_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    app = KooKoo(store=MemoryStore())
    name = "nowhere"

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        return Response().play_text("hi").next_step(name)

    client = Client(app)
    with caplog.at_level(logging.WARNING, logger="kookoo"):
        client.get("/?event=NewCall&sid=1")
        client.get("/?event=NewCall&sid=2")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "app kookoo: handler test_a_step_computed_at_run_time_is_reported_once.<locals>.welcome "
        "names step 'nowhere', which no handler serves (the call's next event goes to the "
        "route's default handler)"
    ]


def test_decorators_return_the_function_unchanged() -> None:
    app = KooKoo(store=MemoryStore())

    def welcome(event: NewCall) -> Response:
        return Response().hangup()

    def survey(call: FlowCall) -> Generator[Step, Any, None]:
        yield call.say("hi").hangup()

    assert app.on_new_call(welcome) is welcome
    assert app.flow("/s")(survey) is survey


def test_a_route_variable_the_handler_does_not_take_is_not_passed() -> None:
    app = KooKoo(store=False)

    @app.on_dtmf(route="/ivr/<lang>")
    def menu(event: GotDTMF) -> Response:
        return Response().play_text("menu")

    resp = Client(app).get("/ivr/hi?event=GotDTMF&sid=1&data=1")
    assert resp.data == xml("<response><playtext>menu</playtext></response>")


def test_a_mount_that_clashes_copies_nothing_and_leaves_the_group_open() -> None:
    group = HandlerGroup()

    @group.on_new_call
    def start(event: NewCall) -> Response:
        return Response().hangup()

    @group.on_dtmf
    def pressed(event: GotDTMF) -> Response:
        return Response().hangup()

    app = KooKoo(store=False)

    @app.on_dtmf(route="/s")
    def taken(event: GotDTMF) -> Response:
        return Response().hangup()

    with pytest.raises(ValueError, match=r"GotDTMF on '/s' already has a handler in the app"):
        app.mount(group, prefix="/s")
    assert [r[3] for r in app.routes()] == [taken.__qualname__]
    assert not group.mounted
    app.mount(group, prefix="/t")
    assert len(app.routes()) == 3
