"""The call simulator: KooKoo's request loop, the caller's actions, errors, both transports."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from kookoo import (
    Call,
    Conference,
    Continue,
    Dial,
    Disconnect,
    Event,
    GotDTMF,
    Hangup,
    KooKoo,
    NewCall,
    Recognize,
    Record,
    Response,
    Stream,
)
from kookoo.state.stores import MemoryStore
from kookoo.testing import (
    CallEndedError,
    InvalidReplyError,
    SimulatedCall,
    Simulator,
    SimulatorError,
    Sms,
    UnexpectedActionError,
    load_app,
)

SID = "1104528084461170"
DECL = "<?xml version='1.0' encoding='UTF-8'?>\n"


class Recorder:
    """A KooKoo app whose handlers are given per test; it records every event it gets."""

    def __init__(self) -> None:
        self.app = KooKoo("test", store=MemoryStore())
        self.events: list[Event] = []

    def on(
        self, event_type: type[Event], reply: Callable[[Any], Response | None], **kw: Any
    ) -> None:
        def handler(event: Any, call: Call) -> Response | None:
            self.events.append(event)
            return reply(event)

        handler.__qualname__ = f"handle_{event_type.__name__}"
        self.app.add_handler(event_type, handler, **kw)

    def params(self) -> list[dict[str, str]]:
        return [dict(e.params) for e in self.events]


@pytest.fixture
def rec() -> Recorder:
    rec = Recorder()
    # Every test app ends calls quietly.
    rec.on(Hangup, lambda e: None)
    return rec


def start(rec: Recorder, **kw: Any) -> SimulatedCall:
    return Simulator(rec.app).call(sid=SID, **kw)


def scripted(*bodies: str | bytes, status: int = 200) -> Any:
    """A raw WSGI app answering with ``bodies`` in turn (the last one repeats)."""
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(environ["PATH_INFO"] + "?" + environ["QUERY_STRING"])
        body = bodies[min(len(seen), len(bodies)) - 1]
        start_response(f"{status} X", [("Content-Type", "text/xml")])
        return [body if isinstance(body, bytes) else body.encode()]

    app.seen = seen  # type: ignore[attr-defined]
    return app


def collect(prompt: str = "Press 1", **kw: Any) -> Response:
    reply = Response()
    reply.collect_dtmf(max_digits=kw.pop("max_digits", 1), **kw).play_text(prompt)
    return reply


# -- starting a call -------------------------------------------------------------------------


def test_new_call_sends_kookoo_parameters_in_order(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect())
    call = start(rec)
    assert call.turns[0].url == (
        f"http://localhost/?event=NewCall&sid={SID}&cid=09876543210&cid_e164=%2B919876543210"
        "&called_number=918065740671&circle=KARNATAKA&operator=Airtel"
    )
    event = rec.events[0]
    assert isinstance(event, NewCall)
    assert (event.caller and event.caller.national, event.circle) == ("9876543210", "KARNATAKA")
    assert call.last_heard == call.heard == ["Press 1"]
    assert (call.waiting_for, call.ended, call.ended_by) == ("digits", False, None)


def test_new_call_options_and_extra_params(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect(), route="/ivr")
    call = Simulator(rec.app, url="http://ivr.example.com/ivr?app=1").call(
        "8041169706",
        called_number="911130803946",
        circle=None,
        operator=None,
        sid="77",
        params={"outbound_sid": "o-1"},
    )
    assert call.turns[0].url == (
        "http://ivr.example.com/ivr?app=1&event=NewCall&sid=77&cid=8041169706"
        "&cid_e164=%2B918041169706&called_number=911130803946&outbound_sid=o-1"
    )
    assert rec.params()[0]["app"] == "1"


def test_foreign_caller_gets_no_cid_e164(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect())
    call = start(rec, caller="+14155550100")
    assert "cid_e164" not in call.turns[0].params


def test_generated_sids_are_16_digits_and_reproducible_with_a_seed(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect())
    first = Simulator(rec.app, seed=7).call().sid
    again = Simulator(rec.app, seed=7).call().sid
    assert first == again
    assert len(first) == 16
    assert first.isdigit()


# -- KooKoo's loop ---------------------------------------------------------------------------


def test_play_only_reply_is_followed_by_a_continuation_request(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: Response().play_text("Welcome  to\n Acme."))
    rec.on(Continue, lambda e: collect("Press 1 for sales"))
    call = start(rec)
    assert [t.event for t in call.turns] == ["NewCall", ""]
    assert call.turns[1].url == f"http://localhost/?event=&sid={SID}"
    assert isinstance(rec.events[1], Continue)
    assert call.last_heard == ["Welcome to Acme.", "Press 1 for sales"]
    assert [t.heard for t in call.turns] == [["Welcome to Acme."], ["Press 1 for sales"]]


def test_hangup_sends_disconnect_and_ends_the_call(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect())
    rec.on(GotDTMF, lambda e: Response().play_text("Bye").hangup())
    rec.on(Continue, lambda e: None)
    call = start(rec).press("1")
    assert call.last_heard == ["Bye"]
    assert call.ended_by == "app"
    assert call.waiting_for is None
    assert call.last_turn.params == {
        "event": "Disconnect",
        "sid": SID,
        "cid": "09876543210",
        "called_number": "918065740671",
        "message": "NormalCallClearing",
        "process": "none",
        "total_call_duration": "4",
    }
    assert call.last_turn.response is None
    assert call.last_turn.body == b""


def test_prompts_say_as_audio_and_sms_are_heard_readably(rec: Recorder) -> None:
    def reply(event: Any) -> Response:
        r = Response().play_text("Your balance is").say_as(5000, format="currency", lang="EN")
        r.say_as("1234", format="digits").play_audio("http://cdn.example.com/beep.wav")
        r.send_sms("Balance 5000", to="9490607378").send_sms("Thanks").play_dtmf()
        return r.hangup()

    rec.on(NewCall, reply)
    call = start(rec)
    assert call.heard == [
        "Your balance is",
        "[say-as 401 EN] 5000",
        "[say-as 501] 1234",
        "[audio http://cdn.example.com/beep.wav]",
    ]
    assert call.sms == [Sms("Balance 5000", to="9490607378"), Sms("Thanks")]
    assert call.turns[0].sms == call.sms
    assert call.transcript() == [
        "NewCall",
        "heard: Your balance is",
        "heard: [say-as 401 EN] 5000",
        "heard: [say-as 501] 1234",
        "heard: [audio http://cdn.example.com/beep.wav]",
        "sms to 9490607378: Balance 5000",
        "sms to caller: Thanks",
        "Disconnect message='NormalCallClearing' process='none' total_call_duration='2'",
    ]


def test_gotourl_moves_the_next_request_and_keeps_its_query(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: Response().play_text("Moving").goto_url("/next?stage=2&x=a+b"))
    rec.on(Continue, lambda e: collect("Next menu"), route="/next")
    rec.on(GotDTMF, lambda e: Response().hangup(), route="/next")
    rec.on(Hangup, lambda e: None, route="/next")
    call = start(rec)
    assert call.url == "http://localhost/next?stage=2&x=a+b"
    assert call.turns[1].url == f"http://localhost/next?stage=2&x=a+b&event=&sid={SID}"
    assert rec.params()[1]["stage"] == "2"
    assert rec.params()[1]["x"] == "a b"
    call.press("1")
    assert rec.params()[2] == {
        "stage": "2",
        "x": "a b",
        "event": "GotDTMF",
        "sid": SID,
        "data": "1",
    }


def test_gotourl_after_collectdtmf_receives_the_digits(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect().goto_url("http://localhost/goodbye?from=menu"))
    rec.on(GotDTMF, lambda e: Response().play_text("Goodbye").hangup(), route="/goodbye")
    rec.on(Disconnect, lambda e: None, route="/goodbye")
    call = start(rec)
    assert call.turns[0].skipped == []
    assert call.turns[0].findings == []
    call.press("4")
    assert call.turns[1].url == f"http://localhost/goodbye?from=menu&event=GotDTMF&sid={SID}&data=4"
    assert call.turns[2].url.startswith("http://localhost/goodbye?from=menu&event=Disconnect&")
    assert call.last_heard == ["Goodbye"]


def test_tags_after_the_event_tag_are_not_played() -> None:
    app = scripted(
        "<response><collectdtmf l='1'><playtext>Menu</playtext></collectdtmf>"
        "<playtext>Too late</playtext></response>"
    )
    call = Simulator(app).call(sid=SID)
    assert call.heard == ["Menu"]
    assert call.turns[0].skipped == ["playtext"]
    assert [f.code for f in call.turns[0].findings] == ["KK101"]


def test_empty_response_continues_and_runaway_continuation_is_an_error() -> None:
    app = scripted("<response/>")
    with pytest.raises(SimulatorError, match="answered 21 requests in a row") as info:
        Simulator(app, max_auto_turns=20).call(sid=SID)
    assert not isinstance(info.value, InvalidReplyError)
    assert len(app.seen) == 21


def test_cookies_are_kept_for_the_call() -> None:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_COOKIE", ""))
        start_response("200 OK", [("Content-Type", "text/xml"), ("Set-Cookie", "s=abc; Path=/")])
        body = "<response><collectdtmf><playtext>Hi</playtext></collectdtmf></response>"
        return [body.encode()]

    call = Simulator(app).call()
    call.press("1")
    assert seen == ["", "s=abc"]


# -- the caller's keys -----------------------------------------------------------------------


def test_press_sends_the_keys_terminator_included(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect(max_digits=4, terminator="#"))
    rec.on(GotDTMF, lambda e: collect(max_digits=4, terminator="#"))
    call = start(rec).press("12#")
    assert call.last_turn.params == {"event": "GotDTMF", "sid": SID, "data": "12#"}
    event = rec.events[-1]
    assert isinstance(event, GotDTMF)
    assert event.digits == "12"
    call.press("1234")
    assert call.last_turn.params["data"] == "1234"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("12", "press('12'): the app collects at most 1 digit (l=1); KooKoo would stop after '1'"),
        ("1a", "press('1a'): 'a' is not a phone key (0-9, * and #)"),
        ("1#2", "press('1#2'): input ends at the terminator '#'; '2' after it would be lost"),
    ],
)
def test_press_refuses_what_kookoo_would_not_send(rec: Recorder, keys: str, message: str) -> None:
    rec.on(NewCall, lambda e: collect(terminator="#"))
    call = start(rec)
    with pytest.raises(UnexpectedActionError) as info:
        call.press(keys)
    assert str(info.value) == message
    assert call.waiting_for == "digits"
    assert len(call.turns) == 1


def test_timeout_and_empty_press_send_empty_data(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect(timeout_ms=5000))
    rec.on(GotDTMF, lambda e: collect(timeout_ms=5000))
    call = start(rec).timeout()
    assert call.last_turn.params == {"event": "GotDTMF", "sid": SID, "data": ""}
    assert call.elapsed_seconds == 1 + 5 + 1
    call.press("")
    assert call.last_turn.params["data"] == ""
    assert rec.events[-1] == GotDTMF(sid=SID, params=rec.events[-1].params, digits="")


# -- recordings, dials, speech, conferences, streams -------------------------------------------


def test_record_with_defaults_and_explicit_values(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: Response().play_text("Speak").record("msg-1", format="mp3"))
    rec.on(Record, lambda e: Response().record("msg-2", max_seconds=30))
    call = start(rec)
    assert call.waiting_for == "recording"
    call.record()
    assert call.last_turn.params == {
        "event": "Record",
        "sid": SID,
        "data": "http://recordings.kookoo.in/simulator/msg-1.mp3",
        "status": "silence",
        "record_duration": "5",
    }
    event = rec.events[-1]
    assert isinstance(event, Record)
    assert (event.url, event.duration_seconds) == (
        "http://recordings.kookoo.in/simulator/msg-1.mp3",
        5,
    )
    with pytest.raises(UnexpectedActionError, match=r"at most 30 s \(maxduration=30\)"):
        call.record(duration=31)
    call.record("http://r.example.com/x.wav", duration=30, status="maxduration")
    assert call.last_turn.params["status"] == "maxduration"
    assert call.last_turn.params["data"] == "http://r.example.com/x.wav"


def test_dial_answered_and_not_answered(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: Response().dial("08041169706", record=True))
    rec.on(Dial, lambda e: Response().dial("08041169707"))
    call = start(rec).answer_dial(duration=42)
    assert call.last_turn.params == {
        "event": "Dial",
        "sid": SID,
        "status": "answered",
        "data": f"http://recordings.kookoo.in/simulator/{SID}-dial.wav",
        "callduration": "42",
        "message": "NormalCallClearing",
    }
    event = rec.events[-1]
    assert isinstance(event, Dial)
    assert (event.answered, event.talk_seconds) == (True, 42)
    call.dial_not_answered()
    assert call.last_turn.params == {
        "event": "Dial",
        "sid": SID,
        "status": "not_answered",
        "data": "-1",
        "callduration": "0",
        "message": "NoAnswer",
    }
    call.answer_dial(duration=5, recording_url="http://r.example.com/d.wav", message="answered")
    assert call.last_turn.params["data"] == "http://r.example.com/d.wav"
    call.answer_dial()  # not recorded: data is KooKoo's -1
    assert call.last_turn.params["data"] == "-1"


def test_say_leave_conference_and_end_stream(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: Response().recognize(lang="en", grammar="digits"))
    rec.on(Recognize, lambda e: Response().play_text(f"You said {e.text}").conference("1234"))
    rec.on(Conference, lambda e: Response().stream("523", url="wss://bot.example.com/ws"))
    rec.on(Stream, lambda e: Response().hangup())
    call = start(rec)
    assert call.waiting_for == "speech"
    call.say("my balance")
    assert call.last_turn.params == {"event": "Recognize", "sid": SID, "data": "my balance"}
    assert call.last_heard == ["You said my balance"]
    # mypy keeps waiting_for narrowed to "speech" across call.say(), which changes it.
    assert call.waiting_for == "conference"  # type: ignore[comparison-overlap]
    call.leave_conference()
    assert call.last_turn.params == {"event": "Conference", "sid": SID}
    assert call.waiting_for == "stream"
    call.end_stream(duration=12)
    assert call.turns[-2].params == {
        "event": "Stream",
        "sid": SID,
        "status": "completed",
        "callduration": "12",
    }
    assert call.ended_by == "app"


# -- hanging up ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "leftovers", "expected"),
    [
        (collect(), {}, {"process": "collectdtmf", "data": ""}),
        (collect(max_digits=4), {"data": "12"}, {"process": "collectdtmf", "data": "12"}),
        (
            Response().record("m"),
            {"data": "http://r.example.com/m.wav", "record_duration": "3"},
            {"process": "record", "data": "http://r.example.com/m.wav", "record_duration": "3"},
        ),
        (
            Response().dial("08041169706"),
            {},
            {"process": "dial", "data": "-1", "status": "answered", "callduration": "0"},
        ),
        (Response().stream("523"), {}, {"process": "stream"}),
    ],
)
def test_caller_hangs_up_with_process_and_leftovers(
    rec: Recorder, reply: Response, leftovers: dict[str, str], expected: dict[str, str]
) -> None:
    rec.on(NewCall, lambda e: reply)
    call = start(rec).hangup(**leftovers)
    assert call.ended_by == "caller"
    assert call.last_turn.params == {
        "event": "Hangup",
        "sid": SID,
        "cid": "09876543210",
        "called_number": "918065740671",
        "process": expected.pop("process"),
        "total_call_duration": "2",
        **expected,
    }
    event = rec.events[-1]
    assert isinstance(event, Hangup)
    assert event.total_call_seconds == 2


def test_actions_after_the_end_raise(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: collect())
    call = start(rec).hangup()
    actions: tuple[Callable[[], object], ...] = (lambda: call.press("1"), call.hangup, call.record)
    for action in actions:
        with pytest.raises(
            CallEndedError, match=r"the call is already over \(the caller hung up\)"
        ):
            action()


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda c: c.press("1"), "press('1') but the app is waiting for a recording (record())"),
        (lambda c: c.timeout(), "timeout() but the app is waiting for a recording (record())"),
        (
            lambda c: c.answer_dial(),
            "answer_dial() but the app is waiting for a recording (record())",
        ),
        (lambda c: c.say("hi"), "say('hi') but the app is waiting for a recording (record())"),
        (
            lambda c: c.end_stream(),
            "end_stream() but the app is waiting for a recording (record())",
        ),
    ],
)
def test_an_action_the_app_is_not_waiting_for(
    rec: Recorder, action: Callable[[SimulatedCall], object], message: str
) -> None:
    rec.on(NewCall, lambda e: Response().record("m"))
    call = start(rec)
    with pytest.raises(UnexpectedActionError) as info:
        action(call)
    assert str(info.value) == message


# -- bad replies -----------------------------------------------------------------------------


def test_malformed_xml_is_an_error_with_the_finding() -> None:
    app = scripted("<response><playtext>Hi</response>")
    with pytest.raises(InvalidReplyError) as info:
        Simulator(app).call(sid=SID)
    error = info.value
    assert str(error) == (
        "the app's reply to NewCall is not KooKoo XML:\n  line 1: KK001 The XML is not "
        "well-formed: Opening and ending tag mismatch: playtext line 1 and response (column 34). "
        "KooKoo cannot read a malformed reply, so the call goes wrong at this point; fix the "
        "markup."
    )
    assert [f.code for f in error.findings] == ["KK001"]
    assert error.turn.body == b"<response><playtext>Hi</response>"


def test_lint_errors_are_reported_and_warnings_kept() -> None:
    app = scripted("<response><dial>08041169706</dial><hangup/></response>")
    with pytest.raises(InvalidReplyError, match="fails lint:\n  line 1: KK102 ") as info:
        Simulator(app).call(sid=SID)
    assert info.value.turn.response is None
    warned = Simulator(scripted("<response><collectdtmf o='5'/></response>")).call()
    assert [f.code for f in warned.last_turn.findings] == ["KK105"]
    lenient = Simulator(scripted("<response><dial>1</dial><hangup/></response>"), lint=False)
    assert lenient.call().waiting_for == "dial"


def test_http_errors_carry_the_body() -> None:
    app = scripted("No handler here.\n", status=404)
    with pytest.raises(InvalidReplyError) as info:
        Simulator(app).call(sid=SID)
    assert str(info.value) == ("the app answered NewCall with HTTP 404: No handler here.")
    assert info.value.turn.status == 404


def test_an_empty_reply_to_a_new_call_is_an_error() -> None:
    with pytest.raises(
        InvalidReplyError,
        match="is not KooKoo XML:\n  line 1: KK001 The XML is not well-formed: document is empty",
    ):
        Simulator(scripted(b"")).call()


def test_a_failing_handler_raises_unless_asked_to_play_the_fallback(rec: Recorder) -> None:
    def broken(event: Any) -> Response:
        raise KeyError("accounts")

    rec.on(NewCall, broken)
    rec.on(Continue, lambda e: None)
    with pytest.raises(InvalidReplyError) as info:
        start(rec)
    assert str(info.value) == (
        "the app logged an error answering NewCall: sid=1104528084461170 event=NewCall "
        "route=/ handler failed: KeyError: 'accounts'"
    )
    call = Simulator(rec.app, raise_app_errors=False).call(sid="2")
    assert call.heard == ["Sorry, something went wrong. Please call again later."]
    assert call.turns[0].app_errors == [
        "sid=2 event=NewCall route=/ handler failed: KeyError: 'accounts'"
    ]
    assert call.ended_by == "app"


def test_a_broken_call_refuses_further_actions() -> None:
    app = scripted("<response><collectdtmf/></response>", "oops")
    call = Simulator(app).call()
    with pytest.raises(InvalidReplyError):
        call.press("1")
    assert call.ended_by == "error"
    with pytest.raises(CallEndedError, match="the app's reply was invalid"):
        call.press("1")


# -- reading the call ------------------------------------------------------------------------


def test_state_comes_from_the_apps_store(rec: Recorder) -> None:
    def remember(event: Any, call: Call) -> Response:
        call.state["lang"] = "hi"
        return collect().next_step("menu")

    rec.app.add_handler(NewCall, remember)
    call = start(rec)
    assert call.state == {"lang": "hi"}
    stored = call.stored_call
    assert stored is not None
    assert stored.step == "menu"


def test_state_is_none_without_a_known_store() -> None:
    app = KooKoo("stateless", store=False)
    app.add_handler(NewCall, lambda e: collect())
    call = Simulator(app).call()
    assert call.state is None
    assert call.stored_call is None
    assert Simulator(scripted("<response><collectdtmf/></response>")).call().state is None
    store = MemoryStore()
    assert Simulator(app, store=store).call().state is None  # the store has no such call


def test_assert_heard_and_turn_summaries(rec: Recorder) -> None:
    rec.on(NewCall, lambda e: Response().play_text("Welcome"))
    rec.on(Continue, lambda e: collect("Press 1 for sales"))
    rec.on(GotDTMF, lambda e: collect("Sales menu"))
    call = start(rec)
    call.assert_heard("Welcome", "for sales")
    call.press("1")
    call.assert_heard("Sales")
    call.assert_heard("Welcome", whole_call=True)
    with pytest.raises(AssertionError) as info:
        call.assert_heard("Welcome", "Sales")
    assert str(info.value) == "the caller did not hear ['Welcome']; heard:\n  'Sales menu'"
    assert call.last_turn.to_dict() == {
        "url": f"http://localhost/?event=GotDTMF&sid={SID}&data=1",
        "params": {"event": "GotDTMF", "sid": SID, "data": "1"},
        "status": 200,
        "xml": DECL + '<response><collectdtmf l="1"><playtext>Sales menu</playtext>'
        "</collectdtmf></response>",
        "heard": ["Sales menu"],
        "sms": [],
        "findings": [],
        "app_errors": [],
        "skipped": [],
        "waiting_for": "digits",
    }
    assert repr(call) == f"<SimulatedCall sid={SID} waiting for digits, 3 turns>"
    assert call.waiting_node is not None
    assert call.waiting_node.get_int("l") == 1
    assert call.last_response is call.last_turn.response


def test_target_must_be_an_app_or_an_http_url() -> None:
    with pytest.raises(ValueError, match="must be http"):
        Simulator("ftp://example.com/")
    with pytest.raises(TypeError, match="WSGI app or an http"):
        Simulator(42)  # type: ignore[arg-type]


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
def served(rec: Recorder) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, rec.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ivr?tenant=acme"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_over_http_the_same_flow(rec: Recorder, served: str) -> None:
    rec.on(NewCall, lambda e: Response().play_text("Hello"), route="/ivr")
    rec.on(Continue, lambda e: collect("Press 1"), route="/ivr")
    rec.on(GotDTMF, lambda e: Response().play_text("Bye").hangup(), route="/ivr")
    rec.on(Hangup, lambda e: None, route="/ivr")
    call = Simulator(served).call(sid=SID)
    assert call.heard == ["Hello", "Press 1"]
    assert call.turns[1].url == f"{served}&event=&sid={SID}"
    call.press("1")
    assert call.ended_by == "app"
    assert [p["tenant"] for p in rec.params()] == ["acme"] * 3
    assert call.state is None  # the store of a server is out of reach


def test_over_http_errors(rec: Recorder, served: str) -> None:
    with pytest.raises(InvalidReplyError, match=r"HTTP 404: No KooKoo app answers at /ivr\.$"):
        Simulator(served).call()
    with pytest.raises(
        SimulatorError, match=r"^could not reach the app at http://127\.0\.0\.1:1/\?event=NewCall&"
    ):
        Simulator("http://127.0.0.1:1/", timeout=2).call()


# -- loading apps ----------------------------------------------------------------------------


def test_load_app_from_module_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import examples.menu

    assert load_app("examples.menu:app") is examples.menu.app
    assert load_app("examples.menu") is examples.menu.app
    root = Path(__file__).resolve().parent.parent
    assert load_app(str(root / "examples" / "menu.py")) is examples.menu.app
    (tmp_path / "helper_mod_for_kookoo.py").write_text("GREETING = 'Hi'\n")
    (tmp_path / "my_ivr.py").write_text(
        "from helper_mod_for_kookoo import GREETING\n"
        "from kookoo import KooKoo\n"
        "ivr = KooKoo('mine', store=False)\n"
        "class Holder:\n    inner = ivr\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # restored afterwards, with the module cache
    loaded = load_app(f"{tmp_path / 'my_ivr.py'}:ivr")
    assert isinstance(loaded, KooKoo)
    assert loaded.name == "mine"
    assert load_app(f"{tmp_path / 'my_ivr.py'}:Holder.inner") is loaded


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("examples.menu:nothing", "'examples.menu' has no attribute 'nothing'"),
        ("examples.menu:DEPARTMENTS", "'examples.menu:DEPARTMENTS' is dict, not a WSGI app"),
        ("no_such_module_kk:app", "cannot import 'no_such_module_kk'"),
        ("missing/file.py", "no such file: missing/file.py"),
        ("not a module", "'not a module' is not module:app, path/to/file.py[:app] or a URL"),
    ],
)
def test_load_app_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.").replace("[", r"\[")):
        load_app(spec)
