"""The call session: load -> handle -> save, and what a failure leaves in the store."""

from __future__ import annotations

import logging

import pytest
from werkzeug.test import Client

from kookoo import Call, CallSession, CallStatus, Event, GotDTMF, KooKoo, NewCall, Response
from kookoo.protocol.phone import PhoneNumber
from kookoo.state.stores import ConflictError, MemoryStore, StoreUnavailableError


def xml(body: str) -> bytes:
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + body.encode()


def _bank(store: MemoryStore) -> KooKoo:
    app = KooKoo(store=store)

    @app.on_dtmf
    def withdraw(event: GotDTMF, call: Call) -> Response:
        call.state["balance"] -= 100
        call.state["log"].append("withdrew")
        raise ConnectionError("core banking is down")

    @app.errorhandler(ConnectionError)
    def down(error: ConnectionError, event: Event, call: Call) -> Response:
        call.state["failures"] = call.state.get("failures", 0) + 1
        return Response().play_text(f"Balance {call.state['balance']}").hangup()

    return app


def test_an_answered_error_saves_the_error_handler_not_the_failed_handler() -> None:
    store = MemoryStore()
    store.save(Call("7", state={"balance": 500, "log": []}))
    resp = Client(_bank(store)).get("/?event=GotDTMF&sid=7&data=1")
    # the error handler saw the balance as stored, not the half-made 400
    assert resp.data == xml("<response><playtext>Balance 500</playtext><hangup/></response>")
    stored = store.load("7")
    assert stored is not None
    assert stored.state == {"balance": 500, "log": [], "failures": 1}
    assert [h.event for h in stored.history] == ["GotDTMF"]


def test_an_unanswered_failure_saves_nothing(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    store.save(Call("8", state={"balance": 500, "log": []}))
    app = KooKoo(store=store)

    @app.on_dtmf
    def withdraw(event: GotDTMF, call: Call) -> Response:
        call.state["balance"] -= 100
        raise RuntimeError("bug")

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        resp = Client(app).get("/?event=GotDTMF&sid=8&data=1")
    assert b"Sorry, something went wrong" in resp.data
    stored = store.load("8")
    assert stored is not None
    assert stored.version == 1
    assert stored.state == {"balance": 500, "log": []}
    assert any("sid=8" in r.getMessage() for r in caplog.records)


def test_the_caller_comes_from_the_typed_event() -> None:
    store = MemoryStore()
    app = KooKoo(store=store)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        assert call.caller == event.caller
        return Response().play_text(f"hello {call.caller}")

    # cid is no Indian number; KooKoo's cid_e164 gives its national form (NewCall.caller)
    resp = Client(app).get("/?event=NewCall&sid=9&cid=0000&cid_e164=%2B918041169706")
    assert resp.data == xml("<response><playtext>hello +918041169706</playtext></response>")
    stored = store.load("9")
    assert stored is not None
    assert stored.caller == PhoneNumber(raw="0000", national="8041169706")


class BankCall(Call):
    """A call class with an app's own helper."""

    def balance(self) -> int:
        value = self.state.get("balance", 0)
        return value if isinstance(value, int) else 0


class BankApp(KooKoo):
    call_class = BankCall


def test_call_class_is_what_handlers_receive() -> None:
    store = MemoryStore()
    store.save(Call("10", state={"balance": 250}))
    app = BankApp(store=store)
    seen: list[type[Call]] = []

    @app.on_dtmf
    def balance(event: GotDTMF, call: BankCall) -> Response:
        seen.append(type(call))
        return Response().play_text(f"{call.balance()}")

    @app.on_new_call
    def welcome(event: NewCall, call: BankCall) -> Response:
        seen.append(type(call))
        return Response().play_text(f"{call.balance()}")

    client = Client(app)
    assert client.get("/?event=GotDTMF&sid=10&data=1").data == xml(
        "<response><playtext>250</playtext></response>"
    )
    assert client.get("/?event=NewCall&sid=11").data == xml(
        "<response><playtext>0</playtext></response>"
    )
    assert seen == [BankCall, BankCall]


def test_session_commit_and_conflict() -> None:
    store = MemoryStore()
    store.save(Call("12"))
    event = GotDTMF(sid="12", digits="1")
    first, second = CallSession(store, event), CallSession(store, event)
    a, b = first.open(), second.open()
    a.state["x"] = 1
    b.state["x"] = 2
    first.commit()
    with pytest.raises(ConflictError) as info:
        second.commit()
    assert not second.retry_is_free(info.value)  # a real race, not a repeated NewCall
    stored = store.load("12")
    assert stored is not None
    assert stored.state == {"x": 1}


def test_session_discard_saves_nothing_and_restore_rereads() -> None:
    store = MemoryStore()
    store.save(Call("13", state={"n": 1}))
    session = CallSession(store, GotDTMF(sid="13", digits="1"))
    call = session.open()
    call.state["n"] = 99
    assert session.restore().state == {"n": 1}
    session.discard()
    session.commit()
    stored = store.load("13")
    assert stored is not None
    assert stored.version == 1


def test_a_repeated_new_call_runs_on_the_stored_call_for_free() -> None:
    store = MemoryStore()
    store.save(Call("14", state={"seen": True}))
    session = CallSession(store, NewCall(sid="14"))
    session.open()  # fresh: not read
    with pytest.raises(ConflictError) as info:
        session.commit()
    assert session.retry_is_free(info.value)
    assert session.open().state == {"seen": True}


def test_an_event_the_step_has_no_handler_for_gets_the_steps_reply_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    app = KooKoo(store=store)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        with (r := Response(sid=event.sid)).collect_dtmf(max_digits=1) as menu:
            menu.play_text("Press 1 for sales")
        return r.next_step("menu")

    @app.on_dtmf(step="menu")
    def menu(event: GotDTMF, call: Call) -> Response:
        return Response(sid=event.sid).play_text(f"You pressed {event.digits}").hangup()

    client = Client(app)
    question = client.get("/?event=NewCall&sid=15").data
    with caplog.at_level(logging.WARNING, logger="kookoo"):
        # a Record nobody asked for: the menu again, and the call goes on
        assert client.get("/?event=Record&sid=15&data=http://x/r.wav").data == question
    assert caplog.records[0].getMessage() == (
        "sid=15 step 'menu' has no handler for Record on route /: sending its last reply again"
    )
    assert client.get("/?event=GotDTMF&sid=15&data=1").data == xml(
        '<response sid="15"><playtext>You pressed 1</playtext><hangup/></response>'
    )
    stored = store.load("15")
    assert stored is not None
    # the call is still in step "menu"; its last reply is the one just sent
    assert (stored.step, stored.last_reply) == (
        "menu",
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<response sid="15"><playtext>You pressed 1</playtext><hangup/></response>',
    )


class FlakyStore(MemoryStore):
    """A MemoryStore whose backend can be switched off."""

    down = False

    def load(self, sid: str) -> Call | None:
        if self.down:
            raise StoreUnavailableError("Flaky store at test:0", "connection refused")
        return super().load(sid)

    def save(self, call: Call) -> None:
        if self.down:
            raise StoreUnavailableError("Flaky store at test:0", "connection refused")
        super().save(call)


def test_a_store_outage_has_its_own_prompt_and_heals(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    app = KooKoo(store=store)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        return Response(sid=event.sid).play_text("Welcome")

    client = Client(app)
    store.down = True
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        resp = client.get("/?event=NewCall&sid=20")
    assert resp.data == xml(
        '<response sid="20"><playtext>Sorry, this service is temporarily unavailable. Please '
        "call again in a few minutes.</playtext><hangup/></response>"
    )
    # one line naming the store and the cause, no traceback
    assert [(r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("sid=20 Flaky store at test:0 is unavailable: connection refused", None)
    ]
    store.down = False
    assert client.get("/?event=NewCall&sid=21").data == xml(
        '<response sid="21"><playtext>Welcome</playtext></response>'
    )


def test_the_completion_callback_reaches_its_handler_and_records_the_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    app = KooKoo(store=store)
    seen: list[tuple[str | None, bool]] = []

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        return Response().play_text("Your appointment is tomorrow").hangup()

    @app.on_call_status
    def ended(event: CallStatus, call: Call) -> None:
        seen.append((event.status, event.answered))

    client = Client(app)
    client.get("/?event=NewCall&sid=22&cid=09876543210&outbound_sid=ob-1")
    with caplog.at_level(logging.WARNING, logger="kookoo"):
        resp = client.post(
            "/",
            data={
                "sid": "22",
                "status": "answered",
                "status_details": "NormalCallClearing",
                "phone_no": "09876543210",
                "start_time": "2026-12-02 10:15:00",
                "duration": "42",
                "ringing_time": "5",
            },
        )
    assert (resp.status_code, resp.content_type, resp.data) == (
        200,
        "text/plain; charset=utf-8",
        b"OK",
    )
    assert caplog.records == []
    assert seen == [("answered", True)]
    stored = store.load("22")
    assert stored is not None
    assert stored.ended
    assert stored.outcome == {
        "status": "answered",
        "status_details": "NormalCallClearing",
        "duration_seconds": 42,
        "ringing_seconds": 5,
        "start_time": "2026-12-02T10:15:00+05:30",
    }
