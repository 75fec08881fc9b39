"""kookoo.web.pipeline: one request's steps, the hooks, and the bugs that lived in the seams
of the old pipeline (each a regression test that failed before the pipeline was rebuilt)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from werkzeug.exceptions import Forbidden
from werkzeug.test import Client

from kookoo import (
    Call,
    CallStatus,
    Event,
    GotDTMF,
    HandlerGroup,
    Hangup,
    KooKoo,
    MemoryStore,
    NewCall,
    Response,
)
from kookoo.web import Reply, RequestContext

DECL = b"<?xml version='1.0' encoding='UTF-8'?>\n"
SECRET = "pipeline-secret-0123456789"


def xml(body: str) -> bytes:
    return DECL + body.encode("utf-8")


def get(app: KooKoo, query: str, path: str = "/", **kwargs: Any) -> Any:
    return Client(app).get(f"{path}?{query}", **kwargs)


# -- the three bugs of the old seams -----------------------------------------------------------


def test_a_chained_menu_keeps_the_step_of_its_reply() -> None:
    """Bug 1: returning the CollectDtmf of a chain (`Response().next_step(...).collect_dtmf(...)
    .play_text(...)`) stored no step; the next key press went to the default handler."""
    app = KooKoo(store=MemoryStore())

    @app.on_new_call
    def welcome(event: NewCall) -> Any:
        return (
            Response(sid=event.sid)
            .next_step("language")
            .collect_dtmf(max_digits=1)
            .play_text("Press 1")
        )

    @app.on_dtmf
    def default(event: GotDTMF) -> Response:
        return Response().play_text("default").hangup()

    @app.on_dtmf(step="language")
    def language(event: GotDTMF) -> Response:
        return Response().play_text(f"language {event.digits}").hangup()

    first = get(app, "event=NewCall&sid=1")
    assert first.data == xml(
        '<response sid="1"><collectdtmf l="1"><playtext>Press 1</playtext></collectdtmf></response>'
    )
    second = get(app, "event=GotDTMF&sid=1&data=1")
    assert second.data == xml("<response><playtext>language 1</playtext><hangup/></response>")


def test_require_signed_refuses_a_route_nobody_serves() -> None:
    """Bug 2: `require_signed("/callbak")` (a typo) left `/callback` unsigned, silently."""
    app = KooKoo(store=False, secret=SECRET)

    @app.on_call_status(route="/callback")
    def done(event: Event) -> None:
        return None

    with pytest.raises(ValueError, match=r"'/callbak'.*did you mean '/callback'"):
        app.require_signed("/callbak")
    app.require_signed("/callback")
    forged = Client(app).post(
        f"/callback?kk_token={SECRET}", data={"sid": "7", "status": "answered", "duration": "4"}
    )
    assert forged.status_code == 403


def test_signed_on_the_decorator_signs_the_route() -> None:
    app = KooKoo(store=False, secret=SECRET)

    @app.on_new_call(route="/account", signed=True)
    def account(event: NewCall) -> Response:
        return Response().play_text(f"account {event.params['account']}").hangup()

    unsigned = get(app, f"event=NewCall&sid=1&account=42&kk_token={SECRET}", path="/account")
    assert unsigned.status_code == 403
    assert unsigned.data.startswith(b"Forbidden: the request carries no signed app parameters")
    url = app.signed_url("/account", account="42")
    signed = Client(app).get(f"{url}&event=NewCall&sid=1")
    assert signed.data == xml("<response><playtext>account 42</playtext><hangup/></response>")


def test_a_signed_route_without_a_secret_is_refused_at_the_first_request() -> None:
    app = KooKoo(store=False, secret=False)

    @app.on_new_call(route="/account", signed=True)
    def account(event: NewCall) -> Response:
        return Response().hangup()

    with pytest.raises(RuntimeError, match=r"signed routes .*/account.* no secret"):
        get(app, "event=NewCall&sid=1", path="/account")


REPLY = Response().play_text("Moving you on").goto_url("/next").play_audio("/audio/hold.wav")
"""A reply kept in a module-level constant, as apps do."""


def test_a_reply_kept_in_a_constant_is_not_changed_by_serving_it() -> None:
    """Bug 3: make_response resolved URLs in place, so the first request's absolute URL and
    token stayed in the constant for every later caller."""
    before = REPLY.to_xml()
    app = KooKoo(store=False, secret=[SECRET, "other-secret-0123456789"])

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return REPLY

    one = get(app, f"event=NewCall&sid=1&kk_token={SECRET}", base_url="http://localhost:8000")
    two = get(
        app,
        "event=NewCall&sid=2&kk_token=other-secret-0123456789",
        base_url="http://127.0.0.1:9000",
    )
    assert REPLY.to_xml() == before
    assert one.data == xml(
        "<response><playtext>Moving you on</playtext>"
        f"<gotourl>http://localhost:8000/next?kk_token={SECRET}</gotourl>"
        "<playaudio>http://localhost:8000/audio/hold.wav</playaudio></response>"
    )
    assert two.data == xml(
        "<response><playtext>Moving you on</playtext>"
        "<gotourl>http://127.0.0.1:9000/next?kk_token=other-secret-0123456789</gotourl>"
        "<playaudio>http://127.0.0.1:9000/audio/hold.wav</playaudio></response>"
    )


# -- finalize: ending events and the completion callback --------------------------------------


def test_ending_events_get_an_empty_body_whatever_the_handler_returns() -> None:
    app = KooKoo(store=MemoryStore())

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().play_text("hi")

    @app.on_hangup
    def bye(event: Hangup) -> Response:
        return Response().play_text("nobody hears this")

    get(app, "event=NewCall&sid=1")
    resp = get(app, "event=Hangup&sid=1&process=none")
    assert (resp.status_code, resp.data) == (200, b"")
    assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"


def test_the_completion_callback_is_acknowledged_with_ok() -> None:
    app = KooKoo(store=MemoryStore())
    outcomes: list[str | None] = []

    @app.on_call_status
    def done(event: CallStatus) -> None:
        outcomes.append(event.status)

    resp = Client(app).post("/", data={"sid": "9", "status": "ring", "status_details": "x"})
    assert outcomes == ["ring"]
    assert (resp.status_code, resp.data) == (200, b"OK")
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_a_refused_method_says_which_methods_kookoo_takes() -> None:
    resp = Client(KooKoo(store=False)).put("/?event=NewCall&sid=1")
    assert resp.status_code == 405
    assert resp.data == b"KooKoo requests are GET (or POST), not PUT.\n"
    assert resp.headers["Allow"] == "GET, POST, HEAD"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


# -- hooks --------------------------------------------------------------------------------------


def test_before_dispatch_answers_instead_of_the_handler_and_nothing_is_saved() -> None:
    store = MemoryStore()
    app = KooKoo(store=store)
    seen: list[str] = []

    @app.before_dispatch
    def closed(event: Event, ctx: RequestContext) -> Response | None:
        seen.append(f"{event.name} {ctx.route}")
        if event.params.get("closed"):
            return Response().play_text("We are closed").hangup()
        return None

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["welcomed"] = True
        return Response().play_text("Welcome")

    closed_reply = get(app, "event=NewCall&sid=1&closed=1")
    assert closed_reply.data == xml(
        "<response><playtext>We are closed</playtext><hangup/></response>"
    )
    assert store.load("1") is None
    open_reply = get(app, "event=NewCall&sid=2")
    assert open_reply.data == xml("<response><playtext>Welcome</playtext></response>")
    stored = store.load("2")
    assert stored is not None
    assert stored.state == {"welcomed": True}
    assert seen == ["NewCall /", "NewCall /"]


def test_a_failing_before_dispatch_hook_is_logged_and_the_caller_hears_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = KooKoo(store=False)
    handled: list[BaseException] = []

    @app.before_dispatch
    def broken(event: Event, ctx: RequestContext) -> None:
        raise LookupError("no such caller")

    @app.errorhandler(LookupError)
    def for_handlers(error: LookupError, event: Event) -> Response:
        handled.append(error)  # error handlers answer for handlers, and no handler ran
        return Response().hangup()

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().play_text("Welcome")

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        resp = get(app, "event=NewCall&sid=5")
    assert b"Sorry, something went wrong" in resp.data
    assert handled == []
    assert "sid=5 before_dispatch hook " in caplog.text
    assert "broken failed" in caplog.text
    assert "LookupError: no such caller" in caplog.text


def test_a_before_dispatch_hook_may_refuse_the_request_as_the_pipeline_does() -> None:
    app = KooKoo(store=False)

    @app.before_dispatch
    def only_known_numbers(event: Event, ctx: RequestContext) -> None:
        if event.params.get("cid") != "09876543210":
            raise Forbidden("Forbidden: this number may not call this service.")

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().play_text("Welcome")

    refused = get(app, "event=NewCall&sid=5&cid=08012345678")
    assert (refused.status_code, refused.data) == (
        403,
        b"Forbidden: this number may not call this service.\n",
    )
    assert get(app, "event=NewCall&sid=6&cid=09876543210").status_code == 200


def test_after_response_sees_every_reply_refused_ones_too() -> None:
    app = KooKoo(store=False, secret=SECRET)
    replies: list[tuple[str, int, bytes]] = []

    @app.after_response
    def audit(ctx: RequestContext, reply: Reply) -> None:
        replies.append((ctx.route, reply.status, reply.body))

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().hangup()

    get(app, f"event=NewCall&sid=1&kk_token={SECRET}")
    get(app, "event=NewCall&sid=1")
    assert replies[0] == ("/", 200, xml("<response><hangup/></response>"))
    assert replies[1][1] == 403


def test_a_groups_hooks_serve_its_routes_only() -> None:
    group = HandlerGroup()
    calls: list[str] = []

    @group.before_dispatch
    def only_survey(event: Event, ctx: RequestContext) -> None:
        calls.append(ctx.route)

    @group.on_new_call
    def survey(event: NewCall) -> Response:
        return Response().hangup()

    app = KooKoo(store=False)
    app.mount(group, prefix="/survey")

    @app.on_new_call
    def home(event: NewCall) -> Response:
        return Response().hangup()

    get(app, "event=NewCall&sid=1", path="/survey")
    get(app, "event=NewCall&sid=2", path="/")
    assert calls == ["/survey"]


def test_the_live_call_cap_is_a_hook_that_stores_nothing_for_a_busy_call() -> None:
    store = MemoryStore()
    app = KooKoo(store=store, max_live_calls=1, busy_prompt="Busy.")

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        return Response().play_text("Welcome")

    assert get(app, "event=NewCall&sid=1").data == xml(
        "<response><playtext>Welcome</playtext></response>"
    )
    busy = get(app, "event=NewCall&sid=2")
    assert busy.data == xml("<response><playtext>Busy.</playtext><hangup/></response>")
    assert store.load("2") is None
    get(app, "event=Hangup&sid=1&process=none")
    assert get(app, "event=NewCall&sid=3").data == xml(
        "<response><playtext>Welcome</playtext></response>"
    )
