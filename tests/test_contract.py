"""The app's contract at its edges, over real WSGI with exact XML: the cases a mutation run of the
code showed no test would notice (limits at the boundary, history trimming, repeated NewCall,
end-of-call replies, path variables into ``**kwargs``, debug lint of text replies, failures of the
store, of error handlers and of handlers' return types, which end-of-call handler ran).

Only public behaviour is used: what the caller hears, what the store holds, what is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import pytest
from werkzeug.test import Client

from kookoo import (
    Call,
    CallStateError,
    Dial,
    Disconnect,
    Event,
    GotDTMF,
    HandlerError,
    Hangup,
    KooKoo,
    NewCall,
    Record,
    Response,
)
from kookoo.flow import FlowCall, Step
from kookoo.protocol.phone import PhoneNumber
from kookoo.state.calls import HISTORY_LIMIT
from kookoo.state.stores import MemoryStore
from kookoo.testing import Simulator

DECL = "<?xml version='1.0' encoding='UTF-8'?>\n"
SORRY = "Sorry, something went wrong. Please call again later."


def xml(body: str) -> bytes:
    return (DECL + body).encode("utf-8")


def fallback(sid: str) -> bytes:
    return xml(f'<response sid="{sid}"><playtext>{SORRY}</playtext><hangup/></response>')


def started(app: KooKoo, *sids: str) -> None:
    """Store the calls ``sids`` as their NewCall would: only NewCall may create a record."""
    assert app.store is not None
    for sid in sids:
        call = Call(sid)
        call.record_event("NewCall")
        app.store.save(call)


def get(app: KooKoo, url: str) -> Any:
    return Client(app).get(url)


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, type[BaseException], str]]:
    """(message, exception type, exception text) of each error record with an exception."""
    found = []
    for record in caplog.records:
        if record.levelno >= logging.ERROR and record.exc_info and record.exc_info[0]:
            found.append((record.getMessage(), record.exc_info[0], str(record.exc_info[1])))
    return found


# -- limits -----------------------------------------------------------------------------------


def _query(count: int) -> str:
    """``event=NewCall&sid=1`` plus fillers: ``count`` parameters in all."""
    return "&".join(["event=NewCall", "sid=1", *(f"p{i}={i}" for i in range(count - 2))])


def test_max_params_default_accepts_64_and_refuses_65() -> None:
    app = KooKoo(store=False)  # the default limit, 64

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response(sid=event.sid).play_text(f"{len(event.params)} parameters")

    ok = get(app, "/?" + _query(64))
    assert (ok.status_code, ok.data) == (
        200,
        xml('<response sid="1"><playtext>64 parameters</playtext></response>'),
    )
    refused = get(app, "/?" + _query(65))
    assert (refused.status_code, refused.data) == (
        400,
        b"The request has 65 parameters; this app accepts at most 64.\n",
    )


def test_max_params_counts_query_and_form_of_a_post_together() -> None:
    app = KooKoo(store=False, max_params=10)

    @app.on_dtmf
    def digits(event: GotDTMF) -> Response:
        return Response().play_text(f"{event.digits} of {len(event.params)}")

    client = Client(app)
    form = {f"f{i}": "x" for i in range(6)}
    ok = client.post("/?event=GotDTMF&sid=1", data={"data": "5", **form, "f6": "x"})
    assert (ok.status_code, ok.data) == (
        200,
        xml("<response><playtext>5 of 10</playtext></response>"),
    )
    refused = client.post("/?event=GotDTMF&sid=1", data={"data": "5", **form, "f6": "x", "f7": "x"})
    assert (refused.status_code, refused.data) == (
        400,
        b"The request has 11 parameters; this app accepts at most 10.\n",
    )


# -- call history -----------------------------------------------------------------------------


def test_history_keeps_the_last_history_limit_events_after_251() -> None:
    app = KooKoo(store=MemoryStore())

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        return Response().play_text("hi")

    def any_event(event: GotDTMF | Record | Dial, call: Call) -> Response:
        return Response().play_text("next")

    # Registered by calls: stacked decorators would each narrow its event type to their own.
    app.on_dial(any_event)
    app.on_record(any_event)
    app.on_dtmf(any_event)

    client = Client(app)
    sent = ["NewCall"]
    assert client.get("/?event=NewCall&sid=9&cid=09876543210").status_code == 200
    cycle = [("GotDTMF", "data=1"), ("Record", "data=http://r/1.wav"), ("Dial", "status=answered")]
    for i in range(250):
        name, extra = cycle[i % 3]
        assert client.get(f"/?event={name}&sid=9&{extra}").data == xml(
            "<response><playtext>next</playtext></response>"
        )
        sent.append(name)
    assert len(sent) == 251
    stored = app.store.load("9") if app.store else None
    assert stored is not None
    assert HISTORY_LIMIT == 200
    assert [entry.event for entry in stored.history] == sent[-HISTORY_LIMIT:]
    assert stored.caller == PhoneNumber.parse(
        "09876543210"
    )  # trimming the NewCall away keeps the caller


# -- a repeated NewCall ------------------------------------------------------------------------


def test_a_repeated_new_call_of_a_live_flow_says_the_pending_step_again() -> None:
    """KooKoo retries a NewCall whose reply was lost; a live flow is not restarted (its answers
    and once results stay) but says its pending step again (issue 11: resync)."""
    app = KooKoo(store=MemoryStore())

    @app.flow("/")
    def survey(call: FlowCall) -> Generator[Step, Any, None]:
        age = yield call.ask_digits("Your age?", max_digits=2)
        yield call.ask_digits(f"You are {age}. Your floor?", max_digits=1)
        yield call.say("Thank you").hangup()

    first_question = xml(
        '<response sid="5"><collectdtmf l="2" o="5000"><playtext>Your age?</playtext>'
        "</collectdtmf></response>"
    )
    second_question = xml(
        '<response sid="5"><collectdtmf l="1" o="5000"><playtext>You are 42. Your floor?'
        "</playtext></collectdtmf></response>"
    )
    client = Client(app)
    assert client.get("/?event=NewCall&sid=5&cid=09876543210").data == first_question
    assert client.get("/?event=NewCall&sid=5&cid=09876543210").data == first_question
    assert client.get("/?event=GotDTMF&sid=5&data=42").data == second_question
    assert client.get("/?event=NewCall&sid=5&cid=09876543210").data == second_question
    assert client.get("/?event=GotDTMF&sid=5&data=3").data == xml(
        '<response sid="5"><playtext>Thank you</playtext><hangup/></response>'
    )


def test_a_new_call_after_the_flow_ended_starts_it_again() -> None:
    """An old, finished journal is never resumed."""
    app = KooKoo(store=MemoryStore())

    @app.flow("/")
    def short(call: FlowCall) -> Generator[Step, Any, None]:
        digit = yield call.ask_digits("Key?", max_digits=1)
        yield call.say(f"Key {digit}")

    client = Client(app)
    client.get("/?event=NewCall&sid=6")
    client.get("/?event=GotDTMF&sid=6&data=1")
    assert client.get("/?sid=6").data == xml(  # the event-less continuation
        '<response sid="6"><hangup/></response>'
    )
    assert client.get("/?event=NewCall&sid=6").data == xml(
        '<response sid="6"><collectdtmf l="1" o="5000"><playtext>Key?</playtext>'
        "</collectdtmf></response>"
    )


# -- end of call: no fallback XML, and the right handler ---------------------------------------


@pytest.mark.parametrize(
    ("query", "event_type"),
    [
        ("event=Hangup&sid=3&process=collectdtmf&data=", Hangup),
        ("event=Disconnect&sid=3&message=NormalCallClearing&process=none", Disconnect),
    ],
)
def test_a_failing_end_of_call_handler_gets_an_empty_body_never_the_fallback(
    query: str, event_type: type[Hangup | Disconnect], caplog: pytest.LogCaptureFixture
) -> None:
    app = KooKoo(store=MemoryStore())

    def crash(event: Hangup | Disconnect, call: Call) -> Response:
        raise RuntimeError("the CRM is down")

    def wrong_type(event: Hangup | Disconnect) -> int:
        return 7

    app.on(event_type)(crash)
    app.on(event_type, route="/typed")(wrong_type)  # type: ignore[type-var]
    started(app, "3")
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        for path in ("/", "/typed"):
            resp = get(app, f"{path}?{query}")
            assert (resp.status_code, resp.data) == (200, b"")
    logged = errors_logged(caplog)
    assert [(message.split()[0], kind) for message, kind, _ in logged] == [
        ("sid=3", RuntimeError),
        ("sid=3", HandlerError),
    ]
    assert "<locals>.wrong_type returned int" in logged[1][2]


def test_a_failing_save_at_the_end_of_the_call_gets_an_empty_body() -> None:
    app = KooKoo(store=SaveFailsStore())

    @app.on_hangup
    def gone(event: Hangup, call: Call) -> None:
        call.state["ended"] = True

    resp = get(app, "/?event=Hangup&sid=3&process=none")
    assert (resp.status_code, resp.data) == (200, b"")


def test_hangup_and_disconnect_reach_the_handler_for_the_route_and_step() -> None:
    app = KooKoo(store=MemoryStore())
    ran: list[str] = []

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        reply = Response()
        reply.collect_dtmf(max_digits=1).play_text("Press 1")
        return reply.next_step("menu")

    @app.on_hangup
    def hangup_default(event: Hangup, call: Call) -> None:
        ran.append(f"hangup_default step={call.step}")

    @app.on_hangup(step="menu")
    def hangup_in_menu(event: Hangup, call: Call) -> None:
        ran.append(f"hangup_in_menu process={event.params['process']}")

    @app.on_disconnect
    def disconnect_default(event: Disconnect) -> None:
        ran.append("disconnect_default")

    @app.on_hangup(route="/other")
    def hangup_other(event: Hangup) -> None:
        ran.append("hangup_other")

    client = Client(app)
    client.get("/?event=NewCall&sid=1&cid=09876543210")
    started(app, "2", "3")
    assert client.get("/?event=Hangup&sid=1&process=collectdtmf&data=").data == b""
    assert client.get("/?event=Disconnect&sid=1&process=none").data == b""
    assert client.get("/?event=Hangup&sid=2&process=none").data == b""  # a call without a step
    assert client.get("/other?event=Hangup&sid=3&process=none").data == b""
    assert ran == [
        "hangup_in_menu process=collectdtmf",
        "disconnect_default",
        "hangup_default step=None",
        "hangup_other",
    ]


# -- path variables -----------------------------------------------------------------------------


def test_kwargs_handlers_receive_the_path_variables() -> None:
    app = KooKoo(store=False)

    @app.on_new_call(route="/ivr/<lang>/<int:menu>")
    def everything(event: NewCall, /, **kwargs: Any) -> Response:
        return Response().play_text(repr(sorted(kwargs.items())))

    @app.on_dtmf(route="/ivr/<lang>/<int:menu>")
    def named_and_rest(event: GotDTMF, /, lang: str, **rest: Any) -> Response:
        return Response().play_text(f"{lang} {rest!r}")

    client = Client(app)
    assert client.get("/ivr/hi/3?event=NewCall&sid=1").data == xml(
        "<response><playtext>[('lang', 'hi'), ('menu', 3)]</playtext></response>"
    )
    assert client.get("/ivr/ta/12?event=GotDTMF&sid=1&data=1").data == xml(
        "<response><playtext>ta {'menu': 12}</playtext></response>"
    )


# -- the simulator's timeout -------------------------------------------------------------------


def test_the_simulator_waits_kookoos_default_4_seconds_when_collectdtmf_has_no_timeout() -> None:
    app = KooKoo(store=False)

    @app.on_new_call
    def menu(event: NewCall) -> Response:
        reply = Response()
        reply.collect_dtmf(max_digits=1).play_text("Press 1")  # no o=: KooKoo waits 4 s
        return reply

    @app.on_dtmf
    def again(event: GotDTMF) -> Response:
        reply = Response()
        reply.collect_dtmf(max_digits=1, timeout_ms=7000).play_text("Once more")
        return reply

    call = Simulator(app).call()
    assert call.elapsed_seconds == 1  # one request
    call.timeout()
    assert call.elapsed_seconds == 1 + 4 + 1
    call.press("")  # nothing pressed: the same as timeout(), now with o=7000
    assert call.elapsed_seconds == 6 + 7 + 1
    call.hangup()
    assert call.last_turn.params["total_call_duration"] == "15"


# -- debug mode lints text replies too ------------------------------------------------------------


def test_debug_mode_lints_str_and_bytes_replies(caplog: pytest.LogCaptureFixture) -> None:
    app = KooKoo(store=False, debug=True)

    dial_then_hangup = "<response><dial>08041169706</dial><hangup/></response>"  # KK102

    @app.on_new_call
    def as_str(event: NewCall) -> str:
        return dial_then_hangup

    @app.on_dtmf
    def as_bytes(event: GotDTMF) -> bytes:
        return dial_then_hangup.encode()

    @app.on_record
    def clean(event: Record) -> str:
        return "<response><playtext>Saved</playtext><hangup/></response>"

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert get(app, "/?event=NewCall&sid=4").data == fallback("4")
        assert get(app, "/?event=GotDTMF&sid=4&data=1").data == fallback("4")
    logged = errors_logged(caplog)
    assert [(message.split()[0], kind) for message, kind, _ in logged] == [
        ("sid=4", HandlerError),
        ("sid=4", HandlerError),
    ]
    lint_failure = (
        " returned XML that fails lint (debug mode): KK102 error: <hangup> is in the same"
    )
    assert f"<locals>.as_str{lint_failure}" in logged[0][2]
    assert f"<locals>.as_bytes{lint_failure}" in logged[1][2]
    # A clean text reply goes out byte for byte.
    assert get(app, "/?event=Record&sid=4&data=http://r/x.wav").data == (
        b"<response><playtext>Saved</playtext><hangup/></response>"
    )
    # Without debug, the same text is sent as written.
    relaxed = KooKoo(store=False)
    relaxed.on_new_call(as_str)
    assert get(relaxed, "/?event=NewCall&sid=4").data == dial_then_hangup.encode()


# -- a store whose save fails ------------------------------------------------------------------


class SaveFailsStore(MemoryStore):
    """Saves until ``fail`` is set, then every save raises."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def save(self, call: Call) -> None:
        if self.fail:
            raise OSError("disk full")
        super().save(call)


def test_a_failing_save_gives_the_fallback_and_keeps_the_stored_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SaveFailsStore()
    app = KooKoo(store=store)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["balance"] = 500
        return Response(sid=event.sid).play_text("Welcome").next_step("pay")

    @app.on_dtmf(step="pay")
    def pay(event: GotDTMF, call: Call) -> Response:
        call.state["balance"] -= 100
        return Response(sid=event.sid).play_text("Paid 100").next_step("done")

    assert get(app, "/?event=NewCall&sid=8&cid=09876543210").data == xml(
        '<response sid="8"><playtext>Welcome</playtext></response>'
    )
    store.fail = True
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        # The caller must not hear "Paid 100" for a payment the app could not record.
        assert get(app, "/?event=GotDTMF&sid=8&data=1").data == fallback("8")
    assert [(m.split()[0], kind, text) for m, kind, text in errors_logged(caplog)] == [
        ("sid=8", OSError, "disk full")
    ]
    stored = store.load("8")
    assert stored is not None
    assert (stored.state, stored.step) == ({"balance": 500}, "pay")
    assert [entry.event for entry in stored.history] == ["NewCall"]


def test_state_that_is_not_json_gives_the_fallback_and_saves_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    app = KooKoo(store=store)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["basket"] = {"tea", "rice"}
        return Response(sid=event.sid).play_text("Welcome")

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert get(app, "/?event=NewCall&sid=6").data == fallback("6")
    [(message, kind, text)] = errors_logged(caplog)
    assert (message.split()[0], kind) == ("sid=6", CallStateError)
    assert text.startswith("state['basket'] is a set, which call state cannot hold as JSON")
    assert store.load("6") is None


# -- an error handler that fails --------------------------------------------------------------


def test_an_error_handler_that_raises_gives_the_fallback_logged_with_the_sid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = KooKoo(store=MemoryStore())

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["seen"] = True
        return Response(sid=event.sid).play_text("hi")

    @app.on_dtmf
    def lookup(event: GotDTMF, call: Call) -> Response:
        call.state["looked up"] = event.digits
        raise KeyError(event.digits)

    @app.errorhandler(KeyError)
    def unknown_key(exc: KeyError, event: Event) -> Response:
        raise ValueError("the error handler is broken too")

    get(app, "/?event=NewCall&sid=12")
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert get(app, "/?event=GotDTMF&sid=12&data=4").data == fallback("12")
    logged = {(message.split()[0], kind, text) for message, kind, text in errors_logged(caplog)}
    # Both failures are logged with the sid: the error handler's own, and the handler's, which
    # it did not answer.
    assert logged == {
        ("sid=12", ValueError, "the error handler is broken too"),
        ("sid=12", KeyError, "'4'"),
    }
    stored = app.store.load("12") if app.store else None
    assert stored is not None
    assert stored.state == {"seen": True}  # the failed request changed nothing


# -- a handler that returns the wrong type ---------------------------------------------------


def test_a_handler_returning_the_wrong_type_gives_the_fallback_and_names_the_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = KooKoo(store=False)

    @app.on_new_call  # type: ignore[type-var]
    def count(event: NewCall) -> int:
        return 3

    @app.on_dtmf  # type: ignore[type-var]
    def as_dict(event: GotDTMF) -> dict[str, str]:
        return {"playtext": "hi"}

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        assert get(app, "/?event=NewCall&sid=2").data == fallback("2")
        assert get(app, "/?event=GotDTMF&sid=2&data=1").data == fallback("2")
    logged = errors_logged(caplog)
    assert [(message.split()[0], kind) for message, kind, _ in logged] == [
        ("sid=2", HandlerError),
        ("sid=2", HandlerError),
    ]
    problems = [text for _, _, text in logged]
    prefix = "test_a_handler_returning_the_wrong_type_gives_the_fallback_and_names_the_handler"
    assert problems == [
        f"handler {prefix}.<locals>.count returned int; return a Response, KooKoo XML as "
        "str/bytes, or None for Hangup/Disconnect",
        f"handler {prefix}.<locals>.as_dict returned dict; return a Response, KooKoo XML as "
        "str/bytes, or None for Hangup/Disconnect",
    ]
