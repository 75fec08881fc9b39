"""Linear call flows: replay against the journal, exactly-once side effects, mismatches, hangup."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Generator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from servers import gunicorn, http_get
from werkzeug.test import Client

from kookoo import Call, KooKoo, NewCall, Response
from kookoo.flow import DialOutcome, FlowCall, FlowRunner, Recording, Step
from kookoo.state.stores import MemoryStore, SQLiteStore

DECL = "<?xml version='1.0' encoding='UTF-8'?>\n"


@pytest.fixture(autouse=True, params=["kept", "replayed"])
def flow_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs twice: with the worker's cache of suspended flows (a request resumes
    the generator its call's last request left) and without it (every request replays)."""
    if request.param == "replayed":
        monkeypatch.setattr(FlowRunner, "keep_limit", 0)
    return str(request.param)


def xml(body: str) -> str:
    return DECL + body


class Line:
    """Sends KooKoo's requests for one call and returns the reply text."""

    def __init__(self, app: KooKoo, sid: str = "9465281780016373", path: str = "/") -> None:
        self.client = Client(app)
        self.sid = sid
        self.path = path

    def send(self, event: str, **params: str) -> str:
        query = {"event": event, "sid": self.sid, **params}
        resp = self.client.get(self.path, query_string=query)
        assert resp.status_code == 200, resp.data
        return resp.text


def fresh(module: str, store: Any) -> ModuleType:
    """Import an example anew (its module-level app can only be set up once)."""
    mod = importlib.reload(importlib.import_module(module))
    mod.app.store = store
    return mod


@pytest.fixture
def survey(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("SURVEY_RESULTS", str(tmp_path / "results.jsonl"))
    return fresh("examples.survey", MemoryStore())


def results(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_survey_end_to_end_with_exactly_once_saves(survey: ModuleType, tmp_path: Path) -> None:
    line = Line(survey.app)
    sid = line.sid
    assert line.send("NewCall", cid="09876543210") == xml(
        f'<response sid="{sid}"><collectdtmf l="3" t="#" o="5000"><playtext>Please enter your '
        "age, then press hash.</playtext></collectdtmf></response>"
    )
    # No input, then an invalid age: the helper re-prompts with the reason.
    assert line.send("GotDTMF", data="") == xml(
        f'<response sid="{sid}"><collectdtmf l="3" t="#" o="5000"><playtext>Sorry, we did not '
        "get that. Please enter your age, then press hash.</playtext></collectdtmf></response>"
    )
    assert line.send("GotDTMF", data="999") == xml(
        f'<response sid="{sid}"><collectdtmf l="3" t="#" o="5000"><playtext>Sorry, that is not '
        "valid. Please enter your age, then press hash.</playtext></collectdtmf></response>"
    )
    assert line.send("GotDTMF", data="34#") == xml(
        f'<response sid="{sid}"><playtext>Tell us about your day after the beep. Press hash '
        f'when you are done.</playtext><record maxduration="30">{sid}-1</record></response>'
    )
    reply = line.send(
        "Record", data="http://recordings.kookoo.in/acme/story.wav", status="", record_duration="12"
    )
    assert reply == xml(
        f'<response sid="{sid}"><playtext>Thank you. Your story is saved. Goodbye.</playtext>'
        "<hangup/></response>"
    )
    assert line.send("Disconnect", process="none", total_call_duration="60") == ""
    assert results(tmp_path) == [
        {
            "kind": "story",
            "sid": sid,
            "age": 34,
            "url": "http://recordings.kookoo.in/acme/story.wav",
        },
        {"kind": "ended", "sid": sid},
    ]


def test_mid_flow_hangup_runs_cleanup_and_hook(survey: ModuleType, tmp_path: Path) -> None:
    line = Line(survey.app)
    line.send("NewCall", cid="09876543210")
    line.send("GotDTMF", data="41")
    assert results(tmp_path) == []  # replays so far ran no side effect
    assert line.send("Hangup", process="record", total_call_duration="20") == ""
    assert results(tmp_path) == [
        {"kind": "ended", "sid": line.sid},
        {"kind": "partial", "sid": line.sid, "answers": {"age": "41"}},
    ]
    # A late Disconnect finds the ended flow and does nothing more.
    line.send("Disconnect", total_call_duration="20")
    assert len(results(tmp_path)) == 2


def test_side_effects_run_once_however_often_the_flow_replays() -> None:
    app = KooKoo(store=MemoryStore())
    calls: list[str] = []

    def side_effect(tag: str) -> str:
        calls.append(tag)
        return f"done-{tag}"

    @app.flow("/")
    def many(call: FlowCall) -> Generator[Step, Any, None]:
        first = call.once(side_effect, "a")
        for i in range(5):
            yield call.ask_digits(f"q{i} {first}", max_digits=1)
        yield call.say(call.once(side_effect, "b")).hangup()

    line = Line(app)
    line.send("NewCall")
    for _ in range(4):
        line.send("GotDTMF", data="1")
    assert line.send("GotDTMF", data="1") == xml(
        f'<response sid="{line.sid}"><playtext>done-b</playtext><hangup/></response>'
    )
    line.send("Disconnect", total_call_duration="30")
    assert calls == ["a", "b"]  # 7 requests replayed the flow; each side effect ran once


def test_changed_flow_under_live_call_names_the_step(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    v1 = KooKoo(store=store)

    @v1.flow("/")
    def flow_v1(call: FlowCall) -> Generator[Step, Any, None]:
        yield call.ask_digits("Enter your age", max_digits=2)
        yield call.ask_digits("Enter your pin", max_digits=4)
        yield call.hangup("bye")

    line = Line(v1)
    line.send("NewCall")
    line.send("GotDTMF", data="30")

    v2 = KooKoo(store=store, fallback_prompt="Sorry.")  # deployed while the call is live

    @v2.flow("/")
    def flow_v2(call: FlowCall) -> Generator[Step, Any, None]:
        yield call.ask_digits("Enter your year of birth", max_digits=4)
        yield call.hangup("bye")

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        reply = Line(v2).send("GotDTMF", data="1234")
    assert reply == xml(
        '<response sid="9465281780016373"><playtext>Sorry.</playtext><hangup/></response>'
    )
    assert (
        "flow test_changed_flow_under_live_call_names_the_step.<locals>.flow_v2 changed under a "
        "live call: step 1 is now a GotDTMF step 'Enter your year of birth', but the call's "
        "journal recorded a different step (GotDTMF:"
    ) in caplog.text
    assert "the code changed or the flow is not deterministic" in caplog.text


def test_event_that_does_not_answer_the_pending_step_says_the_step_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = KooKoo(store=MemoryStore())

    @app.flow("/")
    def ask(call: FlowCall) -> Generator[Step, Any, None]:
        digit = yield call.ask_digits("Enter", max_digits=1)
        yield call.say(f"Got {digit}").hangup()

    line = Line(app)
    question = line.send("NewCall")
    with caplog.at_level(logging.WARNING, logger="kookoo"):
        # a Record while the step waits for digits: the question again, not a hangup
        assert line.send("Record", data="http://x/r.wav") == question
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert (
        "flow test_event_that_does_not_answer_the_pending_step_says_the_step_again.<locals>.ask "
        "waited for GotDTMF after its GotDTMF step 'Enter' but KooKoo sent Record: sending "
        "that step again"
    ) in caplog.text
    # then the right event completes the call normally
    assert line.send("GotDTMF", data="4") == xml(
        f'<response sid="{line.sid}"><playtext>Got 4</playtext><hangup/></response>'
    )


def test_play_only_step_continues_and_results_are_typed() -> None:
    app = KooKoo(store=MemoryStore())
    last_pass: dict[str, list[Any]] = {}

    @app.flow("/")
    def transfer(call: FlowCall) -> Generator[Step, Any, None]:
        seen: list[Any] = []
        last_pass["seen"] = seen  # every replay starts afresh; the last pass wins
        seen.append((yield call.say("Welcome")))
        outcome = yield call.say("Connecting").dial("08041169706", record=True, moh="ring")
        seen.append(outcome)
        recording = yield call.record(None, max_seconds=10, filename="msg")
        seen.append(recording)
        said = yield call.say("Say yes or no").recognize(lang="en")
        seen.append(said)
        yield call.goto("http://other.example.in/ivr?from=flow")

    line = Line(app)
    assert line.send("NewCall") == xml(
        '<response sid="9465281780016373"><playtext>Welcome</playtext></response>'
    )
    assert line.send("") == xml(
        '<response sid="9465281780016373"><playtext>Connecting</playtext>'
        '<dial record="true" moh="ring">08041169706</dial></response>'
    )
    line.send("Dial", status="answered", data="http://r/d.mp3", callduration="42")
    line.send("Record", data="http://r/m.wav", record_duration="3", status="silence")
    assert line.send("Recognize", data="yes") == xml(
        '<response sid="9465281780016373">'
        "<gotourl>http://other.example.in/ivr?from=flow</gotourl></response>"
    )
    assert last_pass["seen"] == [
        None,
        DialOutcome(answered=True, talk_seconds=42, recording_url="http://r/d.mp3", message=None),
        Recording(url="http://r/m.wav", duration_seconds=3, status="silence"),
        "yes",
    ]


def test_menu_and_confirm_helpers_and_subflows() -> None:
    app = KooKoo(store=MemoryStore())

    def pick_language(call: FlowCall) -> Generator[Step, Any, str]:
        lang = yield from call.menu("1 English, 2 Hindi", {"1": "en", "2": "hi"}, name="lang")
        return lang or "en"

    @app.flow("/")
    def main(call: FlowCall) -> Generator[Step, Any, None]:
        lang = yield from pick_language(call)
        sure = yield from call.confirm(f"You chose {lang}. Press 1 to confirm, 2 to cancel.")
        yield call.hangup("confirmed" if sure else "cancelled")

    sid = "9465281780016373"

    def menu(prompt: str) -> str:
        return xml(
            f'<response sid="{sid}"><collectdtmf l="1" o="5000"><playtext>{prompt}</playtext>'
            "</collectdtmf></response>"
        )

    line = Line(app)
    assert line.send("NewCall") == menu("1 English, 2 Hindi")
    assert line.send("GotDTMF", data="7") == menu("Sorry, that is not valid. 1 English, 2 Hindi")
    assert line.send("GotDTMF", data="2") == menu("You chose hi. Press 1 to confirm, 2 to cancel.")
    assert line.send("GotDTMF", data="1") == xml(
        f'<response sid="{sid}"><playtext>confirmed</playtext><hangup/></response>'
    )

    # Three wrong keys: the menu gives up (None) and the sub-flow falls back to English.
    again = Line(app, sid="2")
    again.send("NewCall")
    again.send("GotDTMF", data="7")
    assert again.send("GotDTMF", data="") == xml(  # no input: re-prompted once more
        '<response sid="2"><collectdtmf l="1" o="5000"><playtext>Sorry, we did not get that. '
        "1 English, 2 Hindi</playtext></collectdtmf></response>"
    )
    assert again.send("GotDTMF", data="8") == xml(
        '<response sid="2"><collectdtmf l="1" o="5000"><playtext>You chose en. Press 1 to '
        "confirm, 2 to cancel.</playtext></collectdtmf></response>"
    )


def test_flows_and_plain_handlers_coexist() -> None:
    app = KooKoo(store=MemoryStore())

    @app.on_new_call
    def plain(event: NewCall, call: Call) -> Response:
        return Response().play_text("plain handler")

    @app.flow("/flow")
    def flowing(call: FlowCall) -> Generator[Step, Any, None]:
        yield call.hangup("from the flow")

    assert "plain handler" in Line(app).send("NewCall")
    assert "from the flow" in Line(app, sid="2", path="/flow").send("NewCall")


def test_fifty_step_flow_replays_to_the_last_step() -> None:
    app = KooKoo(store=MemoryStore())

    @app.flow("/")
    def long(call: FlowCall) -> Generator[Step, Any, None]:
        total = 0
        for i in range(50):
            total += int((yield call.ask_digits(f"Question {i}", max_digits=1)) or 0)
        yield call.hangup(f"Total {total}")

    line = Line(app)
    line.send("NewCall")
    for _ in range(49):
        line.send("GotDTMF", data="2")
    assert line.send("GotDTMF", data="2") == xml(
        f'<response sid="{line.sid}"><playtext>Total 100</playtext><hangup/></response>'
    )


def test_pin_example_three_attempts_then_balance() -> None:
    pin = fresh("examples.pin", MemoryStore())
    line = Line(pin.app)
    assert line.send("NewCall", cid="9876543210") == xml(
        f'<response sid="{line.sid}"><collectdtmf l="4" t="#" o="5000"><playtext>Welcome to '
        "Acme Bank. Please enter your four digit PIN.</playtext></collectdtmf></response>"
    )
    assert line.send("GotDTMF", data="0000") == xml(
        f'<response sid="{line.sid}"><collectdtmf l="4" t="#" o="5000"><playtext>That PIN is '
        "not right. Please try again.</playtext></collectdtmf></response>"
    )
    assert line.send("GotDTMF", data="1234#") == xml(
        '<response sid="9465281780016373"><playtext>Your balance is</playtext>'
        '<say-as format="402" lang="EN">10523.50</say-as>'
        "<playtext>Thank you for banking with Acme.</playtext><hangup/></response>"
    )
    locked = Line(pin.app, sid="2")
    locked.send("NewCall")
    locked.send("GotDTMF", data="1")
    locked.send("GotDTMF", data="2")
    assert locked.send("GotDTMF", data="3") == xml(
        '<response sid="2"><playtext>Too many wrong attempts. Please call again later. '
        "Goodbye.</playtext><hangup/></response>"
    )


@pytest.mark.gunicorn
def test_survey_under_gunicorn_with_sqlite(tmp_path: Path) -> None:
    env = {
        "KOOKOO_DB": str(tmp_path / "calls.sqlite3"),
        "SURVEY_RESULTS": str(tmp_path / "results.jsonl"),
    }
    with gunicorn("examples.survey:app", workers=3, env=env) as (base, _):
        sids = [f"77000000000000{i:02d}" for i in range(20, 26)]
        for sid in sids:
            assert http_get(f"{base}/?event=NewCall&sid={sid}&cid=09876543210")[0] == 200
        for sid in sids:
            http_get(f"{base}/?event=GotDTMF&sid={sid}&data=")
            http_get(f"{base}/?event=GotDTMF&sid={sid}&data={sid[-2:]}")
        for sid in sids[:4]:
            body = http_get(f"{base}/?event=Record&sid={sid}&data=http://r/{sid}.wav")[2]
            assert b"Your story is saved" in body
            http_get(f"{base}/?event=Disconnect&sid={sid}&total_call_duration=30")
        for sid in sids[4:]:  # these callers hang up during the recording
            http_get(f"{base}/?event=Hangup&sid={sid}&process=record&total_call_duration=9")
    saved = sorted((r["kind"], r["sid"]) for r in results(tmp_path))
    assert saved == sorted(
        [("story", s) for s in sids[:4]]
        + [("ended", s) for s in sids]
        + [("partial", s) for s in sids[4:]]
    )
    ages = {r["sid"]: r["age"] for r in results(tmp_path) if r["kind"] == "story"}
    assert ages == {s: int(s[-2:]) for s in sids[:4]}


def test_unexpected_events_resync_under_gunicorn(tmp_path: Path) -> None:
    """A retried NewCall, a GotDTMF while the flow waits for a recording, a retried answer:
    each gets the pending step again from whichever worker, and the call completes normally."""
    env = {
        "KOOKOO_DB": str(tmp_path / "calls.sqlite3"),
        "SURVEY_RESULTS": str(tmp_path / "results.jsonl"),
    }
    sid = "7700000000000099"
    with gunicorn("examples.survey:app", workers=2, env=env) as (base, _):
        age_question = http_get(f"{base}/?event=NewCall&sid={sid}&cid=09876543210")[2]
        assert b"Please enter your age" in age_question
        # KooKoo retries the NewCall: the same question, not a new call
        assert http_get(f"{base}/?event=NewCall&sid={sid}&cid=09876543210")[2] == age_question
        story_prompt = http_get(f"{base}/?event=GotDTMF&sid={sid}&data=42")[2]
        assert b"<record" in story_prompt
        # a key press while the flow waits for the recording: the recording prompt again
        for _ in range(3):  # whichever worker answers
            assert http_get(f"{base}/?event=GotDTMF&sid={sid}&data=42")[2] == story_prompt
        body = http_get(f"{base}/?event=Record&sid={sid}&data=http://r/{sid}.wav")[2]
        assert b"Your story is saved" in body
        http_get(f"{base}/?event=Disconnect&sid={sid}&total_call_duration=30")
    saved = sorted((r["kind"], r["sid"], r.get("age")) for r in results(tmp_path))
    assert saved == [("ended", sid, None), ("story", sid, 42)]


def test_sqlite_store_type_is_used_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOOKOO_DB", str(tmp_path / "x.sqlite3"))
    app = KooKoo()
    assert isinstance(app.store, SQLiteStore)
    app.store.close()


def test_a_flow_that_ends_without_hangup_hangs_up() -> None:
    app = KooKoo(store=MemoryStore())

    @app.flow("/")
    def short(call: FlowCall) -> Generator[Step, Any, None]:
        yield call.ask_digits("Press a key", max_digits=1)
        yield call.say("Bye")  # no hangup: KooKoo comes back with a continuation request

    line = Line(app)
    line.send("NewCall")
    assert line.send("GotDTMF", data="1") == xml(
        '<response sid="9465281780016373"><playtext>Bye</playtext></response>'
    )
    assert line.send("") == xml('<response sid="9465281780016373"><hangup/></response>')
    assert line.send("Disconnect", total_call_duration="9") == ""


def test_goto_the_same_route_starts_the_flow_again() -> None:
    app = KooKoo(store=MemoryStore())
    cleanups: list[str] = []

    @app.flow("/menu")
    def menu(call: FlowCall) -> Generator[Step, Any, None]:
        try:
            key = yield call.ask_digits("Press 1 for news, 9 to hear this again", max_digits=1)
            if key == "9":
                yield call.goto("/menu")
                return
            yield call.hangup("Today's news")
        finally:
            call.once(cleanups.append, "closed")

    line = Line(app, path="/menu")
    line.send("NewCall")
    assert line.send("GotDTMF", data="9") == xml(
        '<response sid="9465281780016373"><gotourl>http://localhost/menu</gotourl></response>'
    )
    assert cleanups == ["closed"]  # the jump ended the flow, so its cleanup ran once
    menu_xml = xml(
        f'<response sid="{line.sid}"><collectdtmf l="1" o="5000"><playtext>Press 1 for news, 9 '
        "to hear this again</playtext></collectdtmf></response>"
    )
    assert line.send("") == menu_xml  # KooKoo's request to the gotourl: the flow starts again
    assert line.send("GotDTMF", data="1") == xml(
        f'<response sid="{line.sid}"><playtext>Today\'s news</playtext><hangup/></response>'
    )
    assert line.send("Disconnect") == ""
    assert cleanups == ["closed", "closed"]


def test_the_portal_test_ping_runs_no_side_effects() -> None:
    app = KooKoo(store=MemoryStore())
    effects: list[str] = []

    @app.flow("/")
    def flow(call: FlowCall) -> Generator[Step, Any, None]:
        call.once(effects.append, "charged")
        yield call.record("Leave a message", max_seconds=10)

    resp = Client(app).get("/?event=NewCall")
    assert resp.data.decode() == xml(
        "<response><playtext>Leave a message</playtext>"
        '<record maxduration="10">test-ping-1</record></response>'
    )
    assert effects == []
