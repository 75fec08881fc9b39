"""The WSGI app: registration, routing, steps, dispatch, errors and limits, over real WSGI."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from werkzeug.test import Client

from kookoo import (
    Call,
    Continue,
    Dial,
    Event,
    GotDTMF,
    HandlerGroup,
    Hangup,
    KooKoo,
    NewCall,
    Record,
    Response,
)
from kookoo.protocol.phone import PhoneNumber
from kookoo.state.stores import ConflictError, MemoryStore

DECL = b"<?xml version='1.0' encoding='UTF-8'?>\n"
FALLBACK = (
    DECL + b'<response sid="1"><playtext>Sorry, something went wrong. Please call again later.'
    b"</playtext><hangup/></response>"
)


def xml(body: str) -> bytes:
    return DECL + body.encode("utf-8")


@pytest.fixture
def app() -> KooKoo:
    return KooKoo("test", store=MemoryStore())


def get(app: KooKoo, query: str, path: str = "/") -> Any:
    return Client(app).get(f"{path}?{query}")


def started(store: object, sid: str) -> None:
    """Store the call ``sid`` as its NewCall would: only NewCall may create a record."""
    assert isinstance(store, MemoryStore)
    call = Call(sid)
    call.record_event("NewCall")
    MemoryStore.save(store, call)  # past a FlakyStore's staged conflicts


def test_new_call_handler_returns_xml_with_content_type(app: KooKoo) -> None:
    @app.on(NewCall)
    def welcome(event: NewCall) -> Response:
        return Response(sid=event.sid).play_text("Welcome").hangup()

    resp = get(app, "event=NewCall&sid=1&cid=09876543210")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert resp.data == xml('<response sid="1"><playtext>Welcome</playtext><hangup/></response>')


def test_decorators_return_the_function_unchanged(app: KooKoo) -> None:
    def handler(event: Event) -> Response:
        return Response()

    assert app.on(NewCall)(handler) is handler
    assert app.on_dtmf(handler) is handler
    assert app.on_record(route="/rec")(handler) is handler


def test_post_is_accepted_like_get(app: KooKoo) -> None:
    @app.on_dtmf
    def digits(event: GotDTMF) -> Response:
        return Response().play_text(f"got {event.digits}")

    resp = Client(app).post("/", data={"event": "GotDTMF", "sid": "1", "data": "42"})
    assert resp.data == xml("<response><playtext>got 42</playtext></response>")


def test_steps_pick_the_handler_without_if_ladder(app: KooKoo) -> None:
    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        menu = Response()
        menu.collect_dtmf(max_digits=1).play_text("1 or 2")
        return menu.next_step("language")

    @app.on_dtmf(step="language")
    def language(event: GotDTMF) -> Response:
        return Response().play_text(f"language {event.digits}").next_step("department")

    @app.on_dtmf(step="department")
    def department(event: GotDTMF) -> Response:
        return Response().play_text(f"department {event.digits}")

    @app.on_dtmf
    def anywhere(event: GotDTMF) -> Response:
        return Response().play_text("no step")

    client = Client(app)
    client.get("/?event=NewCall&sid=7")
    assert client.get("/?event=GotDTMF&sid=7&data=1").data.endswith(
        b"language 1</playtext></response>"
    )
    # The step persists until a reply names another one.
    assert client.get("/?event=GotDTMF&sid=7&data=2").data.endswith(
        b"department 2</playtext></response>"
    )
    assert client.get("/?event=GotDTMF&sid=7&data=3").data.endswith(
        b"department 3</playtext></response>"
    )
    # Another call has no step and gets the default handler.
    started(app.store, "8")
    assert client.get("/?event=GotDTMF&sid=8&data=3").data.endswith(
        b"no step</playtext></response>"
    )
    stored = app.store.load("7") if app.store else None
    assert stored is not None
    assert stored.step == "department"


def test_call_keeps_caller_and_state_across_requests(app: KooKoo) -> None:
    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["presses"] = 0
        return Response().collect_dtmf(max_digits=1).play_text("press")  # type: ignore[return-value]

    @app.on_dtmf
    def pressed(event: GotDTMF, call: Call) -> Response:
        call.state["presses"] += 1
        return Response().play_text(f"{call.caller} pressed {call.state['presses']} times")

    client = Client(app)
    client.get("/?event=NewCall&sid=5&cid=09876543210&called_number=918065740671")
    client.get("/?event=GotDTMF&sid=5&data=1")
    resp = client.get("/?event=GotDTMF&sid=5&data=2")
    assert resp.data == xml(
        "<response><playtext>+919876543210 pressed 2 times</playtext></response>"
    )
    call = app.store.load("5") if app.store else None
    assert call is not None
    assert call.called_number == PhoneNumber.parse("918065740671")
    assert [h.event for h in call.history] == ["NewCall", "GotDTMF", "GotDTMF"]
    assert not call.ended
    client.get("/?event=Hangup&sid=5&process=none&total_call_duration=20")
    ended = app.store.load("5") if app.store else None
    assert ended is not None
    assert ended.ended


def test_routes_and_path_variables_and_request(app: KooKoo) -> None:
    @app.on_new_call(route="/ivr/<lang>")
    def by_language(event: NewCall, lang: str, request: Any) -> Response:
        return Response().play_text(f"{lang} {request.args['x']}")

    @app.on_new_call(route="/other")
    def other(event: NewCall) -> Response:
        return Response().play_text("other")

    client = Client(app)
    assert client.get("/ivr/hi?event=NewCall&sid=1&x=y").data == xml(
        "<response><playtext>hi y</playtext></response>"
    )
    assert client.get("/other/?event=NewCall&sid=1").data == xml(
        "<response><playtext>other</playtext></response>"
    )
    missing = client.get("/nowhere?event=NewCall&sid=1")
    assert missing.status_code == 404
    assert missing.data == b"No KooKoo app answers at /nowhere.\n"


def test_mount_group_at_prefix(app: KooKoo) -> None:
    survey = HandlerGroup()

    @survey.on_new_call
    def start(event: NewCall) -> Response:
        return Response().play_text("survey start")

    @survey.on_dtmf(route="/q2")
    def q2(event: GotDTMF) -> Response:
        return Response().play_text("question two")

    app.mount(survey, prefix="/survey")
    client = Client(app)
    assert b"survey start" in client.get("/survey?event=NewCall&sid=1").data
    assert b"question two" in client.get("/survey/q2?event=GotDTMF&sid=1&data=1").data
    assert app.routes() == [
        ("/survey", "NewCall", None, "test_mount_group_at_prefix.<locals>.start"),
        ("/survey/q2", "GotDTMF", None, "test_mount_group_at_prefix.<locals>.q2"),
    ]


def test_string_replies_must_be_kookoo_xml(app: KooKoo, caplog: pytest.LogCaptureFixture) -> None:
    @app.on_new_call
    def good(event: NewCall) -> str:
        return "<Response><playtext>raw</playtext></Response>"

    @app.on_dtmf
    def bad(event: GotDTMF) -> str:
        return "<response><playtext>oops</response>"

    client = Client(app)
    assert (
        client.get("/?event=NewCall&sid=1").data == b"<Response><playtext>raw</playtext></Response>"
    )
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        resp = client.get("/?event=GotDTMF&sid=1&data=1")
    assert resp.status_code == 200
    assert resp.data == FALLBACK
    assert "returned text that is not KooKoo XML: line 1" in caplog.text


def test_none_is_only_allowed_for_hangup_and_disconnect(
    app: KooKoo, caplog: pytest.LogCaptureFixture
) -> None:
    @app.on_hangup
    def gone(event: Hangup) -> None:
        return None

    @app.on_dtmf
    def forgot(event: GotDTMF) -> None:
        return None

    client = Client(app)
    hung = client.get("/?event=Hangup&sid=1&process=none")
    assert (hung.status_code, hung.data) == (200, b"")
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert client.get("/?event=GotDTMF&sid=1&data=1").data == FALLBACK
    assert "returned None for GotDTMF" in caplog.text
    assert "test_none_is_only_allowed_for_hangup_and_disconnect.<locals>.forgot" in caplog.text


def test_raising_handler_is_logged_with_sid_and_caller_hears_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = KooKoo(store=MemoryStore(), fallback_prompt="Please try later.")

    @app.on_dtmf
    def broken(event: GotDTMF) -> Response:
        raise ZeroDivisionError("bad sum")

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        resp = get(app, "event=GotDTMF&sid=991&data=1")
    assert resp.status_code == 200
    assert resp.data == xml(
        '<response sid="991"><playtext>Please try later.</playtext><hangup/></response>'
    )
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "sid=991" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is ZeroDivisionError


def test_missing_handler_falls_back_except_at_call_end(
    app: KooKoo, caplog: pytest.LogCaptureFixture
) -> None:
    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().play_text("hi")

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert get(app, "event=Record&sid=1&data=http://x/r.wav").data == FALLBACK
    assert "no handler for Record on route '/'" in caplog.text
    assert get(app, "event=Disconnect&sid=1").data == b""


def test_error_handlers_by_exception_type(app: KooKoo) -> None:
    @app.on_dtmf
    def lookup(event: GotDTMF) -> Response:
        raise KeyError(event.digits)

    @app.errorhandler(LookupError)
    def not_found(error: Exception, event: Event, call: Call) -> Response:
        assert isinstance(event, GotDTMF)
        call.state["errors"] = 1
        return Response().play_text(f"No account {event.digits}").hangup()

    started(app.store, "1")
    assert get(app, "event=GotDTMF&sid=1&data=77").data == xml(
        "<response><playtext>No account 77</playtext><hangup/></response>"
    )
    # What the error handler did to the call is kept (unlike a failure nobody handled).
    stored = app.store.load("1") if app.store else None
    assert stored is not None
    assert stored.state == {"errors": 1}
    assert [h.event for h in stored.history] == ["NewCall", "GotDTMF"]


def test_malformed_requests_get_4xx_with_a_sentence(app: KooKoo) -> None:
    @app.on_dtmf
    def digits(event: GotDTMF) -> Response:
        return Response()

    client = Client(app)
    no_sid = client.get("/?event=GotDTMF&data=1")
    assert no_sid.status_code == 400
    assert no_sid.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert no_sid.data == b"GotDTMF request is missing the required 'sid' parameter\n"
    # An optional field that cannot be typed is no longer a 400 (tests/test_events_lenient.py).
    assert client.delete("/?event=NewCall&sid=1").status_code == 405


def test_limits_on_query_length_and_parameter_count() -> None:
    app = KooKoo(store=False, max_query_bytes=100, max_params=5)

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().play_text("ok")

    client = Client(app)
    long = client.get("/?event=NewCall&sid=1&pad=" + "x" * 200)
    assert long.status_code == 414
    assert long.data == b"The query string is 224 bytes; this app accepts at most 100.\n"
    many = client.get("/?event=NewCall&sid=1&a=1&b=2&c=3&d=4")
    assert many.status_code == 400
    assert many.data == b"The request has 6 parameters; this app accepts at most 5.\n"
    assert client.get("/?event=NewCall&sid=1").status_code == 200


def test_setup_is_refused_after_first_request(app: KooKoo) -> None:
    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().play_text("ok")

    get(app, "event=NewCall&sid=1")
    with pytest.raises(RuntimeError, match="already handled a request"):
        app.on_dtmf(lambda event: Response())


def test_registration_errors_are_clear(app: KooKoo) -> None:
    @app.on_new_call
    def first(event: NewCall) -> Response:
        return Response()

    with pytest.raises(ValueError, match="NewCall on '/' already has handler"):
        app.on_new_call(first)
    with pytest.raises(TypeError, match="must take the event as its first parameter"):
        app.on_dtmf(lambda: Response())  # type: ignore[arg-type, misc]
    with pytest.raises(TypeError, match="expected an event class"):
        app.on(str)(first)  # type: ignore[type-var, arg-type]


def test_store_false_refuses_handlers_that_need_call() -> None:
    app = KooKoo(store=False)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="store=False but handlers need call state: "):
        get(app, "event=NewCall&sid=1")


def test_test_ping_gets_xml_and_saves_nothing(app: KooKoo) -> None:
    seen: list[bool] = []

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        seen.append(event.is_test_ping)
        call.state["x"] = 1
        return Response().play_text("hello")

    resp = get(app, "event=NewCall")
    assert resp.data == xml("<response><playtext>hello</playtext></response>")
    assert seen == [True]
    assert isinstance(app.store, MemoryStore)
    assert len(app.store) == 0


def test_relative_urls_are_resolved_against_the_request() -> None:
    app = KooKoo(store=MemoryStore(), trusted_hosts=["ivr.example.in"])

    @app.on_new_call(route="/ivr/start")
    def welcome(event: NewCall) -> Response:
        return Response().play_audio("/static/hi.wav").goto_url("next?step=2")

    resp = Client(app).get("/ivr/start?event=NewCall&sid=1", base_url="https://ivr.example.in")
    assert resp.data == xml(
        "<response><playaudio>https://ivr.example.in/static/hi.wav</playaudio>"
        "<gotourl>https://ivr.example.in/ivr/next?step=2</gotourl></response>"
    )


def test_continue_and_dial_events_reach_their_handlers(app: KooKoo) -> None:
    @app.on_continue
    def more(event: Continue) -> Response:
        return Response().play_text("continued")

    @app.on_dial
    def dialled(event: Dial) -> Response:
        return Response().play_text("answered" if event.answered else "missed").hangup()

    assert b"continued" in get(app, "event=&sid=1").data
    assert b"continued" in get(app, "sid=1").data
    assert b"missed" in get(app, "event=Dial&sid=1&status=not_answered&data=-1").data


def test_one_log_line_per_request(app: KooKoo, caplog: pytest.LogCaptureFixture) -> None:
    @app.on_record
    def recorded(event: Record) -> Response:
        return Response().hangup()

    with caplog.at_level(logging.INFO, logger="kookoo"):
        get(app, "event=Record&sid=42&data=http://r/x.wav")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert lines[0].startswith(
        "sid=42 event=Record route=/ handler=test_one_log_line_per_request.<locals>.recorded "
        "status=200 ms="
    )


class FlakyStore(MemoryStore):
    """Raises a conflict on the first save, as if another request had won the race."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 1

    def save(self, call: Call) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise ConflictError(call.sid, call.version, call.version + 1)
        super().save(call)


def test_conflict_is_retried_then_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    app = KooKoo(store=store)
    runs: list[str | None] = []

    @app.on_dtmf
    def count(event: GotDTMF, call: Call) -> Response:
        runs.append(event.digits)
        return Response().play_text("ok")

    started(store, "1")
    assert get(app, "event=GotDTMF&sid=1&data=1").data == xml(
        "<response><playtext>ok</playtext></response>"
    )
    assert runs == ["1", "1"]  # the handler ran again on fresh state
    store.conflicts = 5
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert get(app, "event=GotDTMF&sid=1&data=2").data == FALLBACK
    assert "gave up after conflicts" in caplog.text


def test_new_call_finds_state_saved_before_the_call() -> None:
    # An outbound call whose context the app stored under the sid before KooKoo rang.
    store = MemoryStore()
    seeded = Call(sid="77", state={"order": "A-17"})
    store.save(seeded)
    app = KooKoo(store=store, conflict_retries=0)
    seen: list[Any] = []

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        seen.append(call.state.get("order"))
        return Response().play_text(f"About order {call.state.get('order')}")

    assert get(app, "event=NewCall&sid=77&cid=09876543210").data == xml(
        "<response><playtext>About order A-17</playtext></response>"
    )
    assert seen == [None, "A-17"]  # the fresh try lost the create; the rerun used the record
    stored = store.load("77")
    assert stored is not None
    assert stored.caller == PhoneNumber.parse("09876543210")
    assert stored.state == {"order": "A-17"}


def test_store_properties_do_not_create_the_default_store(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KOOKOO_DB", raising=False)
    app = KooKoo()
    assert app.uses_default_store
    assert app.store_if_created is None
    assert list(tmp_path.iterdir()) == []  # reading them made no SQLite file
    memory = MemoryStore()
    app.store = memory
    assert not app.uses_default_store
    assert app.store_if_created is memory
    assert KooKoo(store=False).store_if_created is None
    assert not KooKoo(store=False).uses_default_store


def test_debug_mode_lints_replies_strictly(caplog: pytest.LogCaptureFixture) -> None:
    app = KooKoo(store=False, debug=True, fallback_prompt="Sorry.")

    @app.on_new_call
    def dial_and_hang_up(event: NewCall) -> Response:
        return Response(sid=event.sid).dial("08041169706").hangup()  # KK102 error, KK104 error

    @app.on_dtmf
    def prompt_after_menu(event: GotDTMF) -> Response:
        reply = Response(sid=event.sid)
        reply.collect_dtmf(max_digits=1).play_text("Press 1")
        return reply.play_text("Never heard")  # KK101: only a warning, still fails in debug

    @app.on_record
    def clean(event: Record) -> Response:
        return Response(sid=event.sid).play_text("Saved").hangup()

    fallback = xml('<response sid="1"><playtext>Sorry.</playtext><hangup/></response>')
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert get(app, "event=NewCall&sid=1").data == fallback
        assert get(app, "event=GotDTMF&sid=1&data=1").data == fallback
    assert "returned XML that fails lint (debug mode): KK102 error" in caplog.text
    assert "KK101 warning" in caplog.text
    assert get(app, "event=Record&sid=1&data=http://r/x.wav").data == xml(
        '<response sid="1"><playtext>Saved</playtext><hangup/></response>'
    )
    # Without debug the same replies go out as written.
    relaxed = KooKoo(store=False)
    relaxed.on_new_call(dial_and_hang_up)
    assert b"<dial>08041169706</dial><hangup/>" in get(relaxed, "event=NewCall&sid=1").data


def test_a_sid_that_cannot_go_into_xml_is_a_400_not_a_crash(app: KooKoo) -> None:
    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response(sid=event.sid).play_text("hi")

    resp = get(app, "event=NewCall&sid=%01abc")
    assert resp.status_code == 400
    assert resp.data == (
        b"NewCall request has a 'sid' with control characters ('\\x01abc'); "
        b"KooKoo's call ids are printable (digits)\n"
    )


class BrokenStore(MemoryStore):
    def load(self, sid: str) -> Call | None:
        raise OSError("disk is gone")


def test_a_store_that_fails_to_load_gives_the_fallback(caplog: pytest.LogCaptureFixture) -> None:
    app = KooKoo(store=BrokenStore())

    @app.on_dtmf
    def digits(event: GotDTMF, call: Call) -> Response:
        return Response().play_text("never")

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert get(app, "event=GotDTMF&sid=1&data=1").data == FALLBACK
    assert "sid=1 could not load the call state" in caplog.text


def test_a_failed_handler_changes_nothing_in_the_stored_call(app: KooKoo) -> None:
    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["balance"] = 500
        return Response().play_text("hi").next_step("pay")

    @app.on_dtmf(step="pay")
    def pay(event: GotDTMF, call: Call) -> Response:
        call.state["balance"] -= 100
        raise RuntimeError("payment gateway down")

    get(app, "event=NewCall&sid=1")
    assert get(app, "event=GotDTMF&sid=1&data=1").data == FALLBACK
    stored = app.store.load("1") if app.store else None
    assert stored is not None
    assert stored.state == {"balance": 500}
    assert stored.step == "pay"
    assert [h.event for h in stored.history] == ["NewCall"]


def test_next_step_none_clears_the_step(app: KooKoo) -> None:
    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().play_text("menu").next_step("menu")

    @app.on_dtmf(step="menu")
    def leave(event: GotDTMF) -> Response:
        return Response().play_text("left the menu").next_step(None)

    @app.on_dtmf
    def default(event: GotDTMF) -> Response:
        return Response().play_text("default handler")

    get(app, "event=NewCall&sid=1")
    assert b"left the menu" in get(app, "event=GotDTMF&sid=1&data=1").data
    assert b"default handler" in get(app, "event=GotDTMF&sid=1&data=1").data


def test_chaining_on_collect_dtmf_sends_the_whole_reply(app: KooKoo) -> None:
    @app.on_new_call
    def welcome(event: NewCall) -> Any:
        return Response(sid=event.sid).play_text("Hi").collect_dtmf(max_digits=1).play_text("1?")

    assert get(app, "event=NewCall&sid=4").data == xml(
        '<response sid="4"><playtext>Hi</playtext><collectdtmf l="1"><playtext>1?</playtext>'
        "</collectdtmf></response>"
    )


def test_raw_utf8_in_the_query_string_is_decoded(app: KooKoo) -> None:
    @app.on_recognize
    def heard(event: Any) -> Response:
        return Response().play_text(f"you said {event.text}")

    environ = {"QUERY_STRING": "event=Recognize&sid=1&data=राम".encode().decode("latin-1")}
    resp = Client(app).get("/", environ_overrides=environ)
    assert resp.data == xml("<response><playtext>you said राम</playtext></response>")


def test_empty_query_fields_do_not_count_as_parameters() -> None:
    app = KooKoo(store=False, max_params=3)

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().play_text("ok")

    assert get(app, "event=NewCall&sid=1" + "&" * 40).status_code == 200


def test_head_is_answered_without_running_handlers(app: KooKoo) -> None:
    ran: list[str] = []

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        ran.append(event.sid)
        return Response().play_text("ok")

    resp = Client(app).head("/?event=NewCall&sid=1")
    assert (resp.status_code, resp.data, ran) == (200, b"", [])
    assert isinstance(app.store, MemoryStore)
    assert len(app.store) == 0


def test_a_mounted_groups_error_handlers_answer_only_for_its_routes(app: KooKoo) -> None:
    survey = HandlerGroup()

    @survey.on_dtmf
    def question(event: GotDTMF) -> Response:
        raise KeyError(event.digits)

    @survey.errorhandler(KeyError)
    def no_such_question(error: Exception, event: Event) -> Response:
        return Response().play_text("Survey: no such question").hangup()

    @app.on_dtmf(route="/billing")
    def billing(event: GotDTMF) -> Response:
        raise KeyError(event.digits)

    app.mount(survey, prefix="/survey")
    client = Client(app)
    assert b"Survey: no such question" in client.get("/survey?event=GotDTMF&sid=1&data=1").data
    assert client.get("/billing?event=GotDTMF&sid=1&data=1").data == FALLBACK
