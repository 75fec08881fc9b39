"""Every example app, driven end to end through the call simulator: in-process, and over HTTP
against real gunicorn (2 workers, state in SQLite)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from servers import gunicorn

from kookoo.state.stores import MemoryStore
from kookoo.testing import SimulatedCall, Simulator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SID = "1104528084461170"
DECL = "<?xml version='1.0' encoding='UTF-8'?>\n"
GALLERY = ("voicemail", "click_to_call", "conference", "helpline", "sms_keywords")

MENU_FIRST_REPLY = (
    DECL + f'<response sid="{SID}"><collectdtmf l="1" o="5000">'
    "<playtext>Welcome to Acme. For English press 1.</playtext>"
    '<playtext lang="hi-IN">हिंदी के लिए 2 दबाएँ।</playtext>'
    "</collectdtmf></response>"
)
LANGUAGE_MENU = ["Welcome to Acme. For English press 1.", "हिंदी के लिए 2 दबाएँ।"]
DEPARTMENT_MENU_EN = "For sales press 1. For support press 2. To hear our address press 3."


def load_example(name: str) -> ModuleType:
    """A fresh copy of ``examples/<name>.py``: its own app, so tests never share state."""
    spec = importlib.util.spec_from_file_location(f"_fresh_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expect_state(call: SimulatedCall, expected: dict[str, Any]) -> None:
    """In-process, the app's stored call state is exactly ``expected``.

    Over HTTP (``call.simulator.app is None``) the state lives in the server's store, out of
    reach, so nothing is checked; in-process a missing store or state is a failure, never a
    silent pass.
    """
    if call.simulator.app is None:
        return
    assert call.state == expected


# -- the menu: one walk per path through it ---------------------------------------------------


def menu_english_sales_answered(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call("09876543210", sid=SID)
    assert call.turns[0].xml == MENU_FIRST_REPLY
    assert call.last_heard == LANGUAGE_MENU
    assert call.waiting_for == "digits"
    call.press("1")
    assert call.last_heard == [DEPARTMENT_MENU_EN]
    assert call.last_turn.xml == (
        DECL + f'<response sid="{SID}"><collectdtmf l="1" o="5000">'
        f'<playtext lang="en-IN">{DEPARTMENT_MENU_EN}</playtext></collectdtmf></response>'
    )
    call.press("1")
    assert call.last_heard == ["Connecting you to sales. Please hold."]
    # mypy keeps waiting_for narrowed to "digits" across call.press(), which changes it.
    assert call.waiting_for == "dial"  # type: ignore[comparison-overlap]
    assert call.waiting_node is not None
    assert (call.waiting_node.text, call.waiting_node.attrs) == (
        "08041169706",
        {"limittime": "3600", "moh": "ring"},
    )
    call.answer_dial(duration=95)
    assert call.last_heard == ["Thank you for calling Acme. Goodbye."]
    assert call.ended_by == "app"
    assert [t.event for t in call.turns] == ["NewCall", "GotDTMF", "GotDTMF", "Dial", "Disconnect"]
    # The simulated clock: 1 s per request, 1 s per key, the 95 s of talk.
    assert call.last_turn.params["total_call_duration"] == "102"
    return call


def menu_hindi_support_busy(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call("08041169706", called_number="911130803946")
    call.press("2")
    assert call.last_heard == [
        "बिक्री के लिए 1 दबाएँ। सहायता के लिए 2 दबाएँ। हमारा पता सुनने के लिए 3 दबाएँ।"
    ]
    call.press("2")
    assert call.last_heard == ["आपको support से जोड़ा जा रहा है। कृपया प्रतीक्षा करें।"]
    call.dial_not_answered()
    assert call.last_heard == ["support टीम के सभी लोग व्यस्त हैं। कृपया बाद में कॉल करें।"]
    assert call.ended_by == "app"
    return call


def menu_address(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call().press("1").press("3")
    assert call.last_heard == ["We are at 42 MG Road, Bengaluru. Thank you for calling. Goodbye."]
    assert call.ended_by == "app"
    return call


def menu_wrong_keys_then_silence(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call().press("9")
    assert call.last_heard == ["Sorry, that is not an option.", *LANGUAGE_MENU]
    expect_state(call, {"attempts": 1})
    call.timeout()
    assert call.last_heard == LANGUAGE_MENU  # no "sorry" for silence
    expect_state(call, {"attempts": 2})
    call.press("1")
    expect_state(call, {"attempts": 0, "lang": "en"})  # a new menu: the count starts again
    call.press("7")
    assert call.last_heard == ["Sorry, that is not an option.", DEPARTMENT_MENU_EN]
    expect_state(call, {"attempts": 1, "lang": "en"})
    call.timeout().timeout()
    assert call.last_heard == ["We did not get your choice. Goodbye."]
    assert call.ended_by == "app"
    expect_state(call, {"attempts": 3, "lang": "en"})
    return call


def menu_caller_hangs_up_in_the_menu(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call().press("1").hangup()
    assert call.ended_by == "caller"
    assert call.last_turn.params["process"] == "collectdtmf"
    assert call.last_turn.body == b""
    expect_state(call, {"attempts": 0, "lang": "en", "hung_up_in": "collectdtmf"})
    return call


def menu_caller_hangs_up_during_the_transfer(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call().press("1").press("2").hangup(status="answered", callduration="40")
    assert call.last_turn.params["process"] == "dial"
    expect_state(call, {"attempts": 0, "lang": "en", "department": "support", "hung_up_in": "dial"})
    return call


# -- the PIN check (a linear flow) ---------------------------------------------------------------


def pin_right_on_the_second_attempt(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call(sid=SID)
    assert call.turns[0].xml == (
        DECL + f'<response sid="{SID}"><collectdtmf l="4" t="#" o="5000"><playtext>Welcome to '
        "Acme Bank. Please enter your four digit PIN.</playtext></collectdtmf></response>"
    )
    call.press("1111#")
    assert call.last_heard == ["That PIN is not right. Please try again."]
    call.press("1234#")
    assert call.last_heard == [
        "Your balance is",
        "[say-as 402 EN] 10523.50",
        "Thank you for banking with Acme.",
    ]
    assert call.ended_by == "app"
    return call


def pin_three_wrong_attempts(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call().press("1#").timeout()
    assert call.last_heard == ["That PIN is not right. Please try again."]
    call.press("2222")
    assert call.last_heard == ["Too many wrong attempts. Please call again later. Goodbye."]
    assert call.ended_by == "app"
    return call


def pin_locked_across_calls(sim: Simulator, results: Path) -> SimulatedCall:
    # A fresh sid used to reset the count: 10,000 PINs in 17 s. Now the caller number counts.
    caller = "09000000017"
    first = sim.call(caller).press("1111#").press("2222#")
    assert first.last_heard == ["That PIN is not right. Please try again."]
    first.hangup()
    second = sim.call(caller).press("3333#")
    assert second.last_heard == ["Too many wrong attempts. Please call again later. Goodbye."]
    third = sim.call("+919000000017")  # the same number, written another way
    assert third.last_heard == [
        "Too many wrong PINs were entered from this number. Please call again later. Goodbye."
    ]
    assert third.ended_by == "app"
    # Another caller is not locked out.
    assert sim.call("09000000018").last_heard == [
        "Welcome to Acme Bank. Please enter your four digit PIN."
    ]
    return third


# -- the survey (a linear flow with a recording) -----------------------------------------------


def saved(results: Path, sid: str) -> list[dict[str, Any]]:
    lines = results.read_text(encoding="utf-8").splitlines() if results.exists() else []
    return [r for r in map(json.loads, lines) if r["sid"] == sid]


def survey_complete(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call(sid=SID)
    assert call.last_heard == ["Please enter your age, then press hash."]
    call.press("200#")
    assert call.last_heard == ["Sorry, that is not valid. Please enter your age, then press hash."]
    call.press("35#")
    assert call.last_heard == [
        "Tell us about your day after the beep. Press hash when you are done."
    ]
    assert call.waiting_for == "recording"
    call.record("http://recordings.kookoo.in/acme/story.mp3", duration=12)
    assert call.last_heard == ["Thank you. Your story is saved. Goodbye."]
    assert call.ended_by == "app"
    assert saved(results, SID) == [
        {
            "kind": "story",
            "sid": SID,
            "age": 35,
            "url": "http://recordings.kookoo.in/acme/story.mp3",
        },
        {"kind": "ended", "sid": SID},
    ]
    return call


def survey_hangup_during_the_recording(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call().press("35")
    call.hangup(data="http://recordings.kookoo.in/acme/partial.mp3", record_duration="3")
    assert call.last_turn.params["process"] == "record"
    assert saved(results, call.sid) == [
        {"kind": "ended", "sid": call.sid},
        {"kind": "partial", "sid": call.sid, "answers": {"age": "35"}},
    ]
    return call


def survey_no_age(sim: Simulator, results: Path) -> SimulatedCall:
    call = sim.call().timeout()
    assert call.last_heard == [
        "Sorry, we did not get that. Please enter your age, then press hash."
    ]
    call.timeout().timeout()
    assert call.last_heard == ["We could not get your age. Goodbye."]
    assert saved(results, call.sid) == [{"kind": "ended", "sid": call.sid}]
    return call


Walk = Callable[[Simulator, Path], SimulatedCall]

#: Every example and the walks that cover it.  A new example needs an entry here.
WALKS: dict[str, list[Walk]] = {
    "menu": [
        menu_english_sales_answered,
        menu_hindi_support_busy,
        menu_address,
        menu_wrong_keys_then_silence,
        menu_caller_hangs_up_in_the_menu,
        menu_caller_hangs_up_during_the_transfer,
    ],
    "pin": [pin_right_on_the_second_attempt, pin_three_wrong_attempts, pin_locked_across_calls],
    "survey": [survey_complete, survey_hangup_during_the_recording, survey_no_age],
}
ALL_WALKS = [
    pytest.param(name, walk, id=f"{name}-{walk.__name__.removeprefix(name + '_')}")
    for name, walks in WALKS.items()
    for walk in walks
]


def test_every_example_is_walked() -> None:
    # echo_bot is a stream example, walked by tests/test_stream_echo.py; voice_bot is the pipecat
    # one, walked by tests/test_stream_voice_bot.py; reminder is an outbound one, walked by
    # tests/test_reminder.py; the gallery's examples are walked by tests/test_gallery.py.
    walked_elsewhere = {"__init__", "echo_bot", "voice_bot", "reminder", *GALLERY}
    examples = sorted(p.stem for p in EXAMPLES.glob("*.py") if p.stem not in walked_elsewhere)
    assert examples == sorted(WALKS)


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the survey example writes its answers (``$SURVEY_RESULTS``)."""
    path = tmp_path / "survey-results.jsonl"
    monkeypatch.setenv("SURVEY_RESULTS", str(path))
    return path


@pytest.mark.parametrize(("name", "walk"), ALL_WALKS)
def test_example_in_process(name: str, walk: Walk, results: Path) -> None:
    module = load_example(name)
    module.app.store = MemoryStore()
    call = walk(Simulator(module.app, seed=1), results)
    assert all(t.findings == [] for t in call.turns)
    assert all(t.app_errors == [] for t in call.turns)
    assert call.stored_call is not None
    assert call.stored_call.ended


def test_menu_state_in_process() -> None:
    module = load_example("menu")
    module.app.store = MemoryStore()
    call = Simulator(module.app).call().press("2")
    assert call.state == {"attempts": 0, "lang": "hi"}
    call.press("1")
    assert call.state == {"attempts": 0, "lang": "hi", "department": "sales"}
    stored = call.stored_call
    assert stored is not None
    assert stored.step == "transfer"


@pytest.mark.gunicorn
@pytest.mark.parametrize("name", sorted(WALKS))
def test_example_over_gunicorn(name: str, tmp_path: Path) -> None:
    results = tmp_path / "survey-results.jsonl"
    env = {"KOOKOO_DB": str(tmp_path / "calls.sqlite3"), "SURVEY_RESULTS": str(results)}
    with gunicorn(f"examples.{name}:app", workers=2, env=env) as (base, _):
        sim = Simulator(base + "/", seed=2, timeout=10)
        for walk in WALKS[name]:
            call = walk(sim, results)
            assert call.turns[0].url.startswith(base + "/?event=NewCall&sid=")
            assert all(t.status == 200 for t in call.turns)
