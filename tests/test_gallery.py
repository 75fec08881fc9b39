"""The gallery examples (docs/gallery/): exact XML in-process, and a call each over real
gunicorn (2 workers, call state in SQLite)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from servers import gunicorn
from test_examples import DECL, GALLERY, SID, load_example
from werkzeug.test import Client as WerkzeugClient

from kookoo.outbound import Client
from kookoo.state.stores import MemoryStore
from kookoo.testing import SimulatedCall, Simulator
from kookoo.testing.fake_outbound import TEST_API_KEY, FakeOutbound

REC = "http://recordings.kookoo.in/acme/message.mp3"


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every file an example writes, in the test's own directory."""
    values = {
        "VOICEMAIL_OUTBOX": str(tmp_path / "voicemail.jsonl"),
        "HELPLINE_DB": str(tmp_path / "helpline.sqlite3"),
        "CLICK_TO_CALL_LOG": str(tmp_path / "calls.jsonl"),
        "KOOKOO_DB": str(tmp_path / "calls.sqlite3"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def in_process(name: str) -> Any:
    module = load_example(name)
    if module.app.uses_default_store:
        module.app.store = MemoryStore()
    return module


def clean(call: SimulatedCall) -> None:
    assert all(t.findings == [] for t in call.turns)
    assert all(t.app_errors == [] for t in call.turns)


# -- voicemail -----------------------------------------------------------------------------


def voicemail_keep(sim: Simulator, env: dict[str, str]) -> SimulatedCall:
    call = sim.call("09876543210", sid=SID)
    assert call.turns[0].xml == (
        DECL + f'<response sid="{SID}"><playtext>You have reached Acme. Please leave a message '
        "after the beep, then press hash.</playtext>"
        f'<record format="mp3" silence="5" maxduration="120">voicemail-{SID}</record></response>'
    )
    assert call.waiting_for == "recording"
    call.record(REC, duration=7)
    assert call.last_turn.xml == (
        DECL + f'<response sid="{SID}"><playtext>You said:</playtext>'
        f"<playaudio>{REC}</playaudio>"
        '<collectdtmf l="1" o="5000"><playtext>To keep this message press 1. To record it '
        "again press 2.</playtext></collectdtmf></response>"
    )
    call.press("1")
    assert call.last_heard == ["Your message is saved. Goodbye."]
    assert call.ended_by == "app"
    assert lines(Path(env["VOICEMAIL_OUTBOX"])) == [
        {
            "sid": SID,
            "caller": "+919876543210",
            "url": REC,
            "seconds": 7,
            "partial": False,
            "subject": "Voicemail from +919876543210 (7 s)",
            "body": f"Listen: {REC}",
        }
    ]
    return call


def voicemail_redo_then_hang_up_recording(sim: Simulator, env: dict[str, str]) -> SimulatedCall:
    call = sim.call().record(REC).press("2")
    assert call.last_heard == ["Please record your message after the beep."]
    call.hangup(data="http://recordings.kookoo.in/acme/part.mp3", record_duration="3")
    [saved] = lines(Path(env["VOICEMAIL_OUTBOX"]))
    assert (saved["url"], saved["seconds"], saved["partial"]) == (
        "http://recordings.kookoo.in/acme/part.mp3",
        3,
        True,
    )
    assert saved["body"].endswith("(The caller hung up while recording.)")
    return call


def test_voicemail_email(env: dict[str, str]) -> None:
    module = in_process("voicemail")
    voicemail_keep(Simulator(module.app), env)
    [record] = lines(Path(env["VOICEMAIL_OUTBOX"]))
    mail = module.email_for(record, to="desk@acme.example")
    assert mail["Subject"] == "Voicemail from +919876543210 (7 s)"
    assert mail.get_content() == f"Listen: {REC}\n"


def test_voicemail_without_a_recording_asks_again() -> None:
    client = WerkzeugClient(in_process("voicemail").app)
    client.get(f"/?event=NewCall&sid={SID}&cid=09876543210")
    reply = client.get(f"/?event=Record&sid={SID}&data=-1&status=silence")
    assert reply.get_data(as_text=True) == (
        DECL + f'<response sid="{SID}"><playtext>We did not get a message. Please try again '
        "after the beep.</playtext>"
        f'<record format="mp3" silence="5" maxduration="120">voicemail-{SID}</record></response>'
    )


# -- conference ----------------------------------------------------------------------------


def conference_join_and_leave(sim: Simulator, env: dict[str, str]) -> SimulatedCall:
    call = sim.call(sid=SID)
    assert call.turns[0].xml == (
        DECL + f'<response sid="{SID}"><collectdtmf l="4" t="#" o="8000"><playtext>Welcome to '
        "Acme conferencing. Enter your PIN, then hash.</playtext></collectdtmf></response>"
    )
    call.press("9999#")
    assert call.last_heard == ["That PIN is not valid. Please enter it again, then hash."]
    call.press("1234#")
    assert call.last_turn.xml == (
        DECL + f'<response sid="{SID}"><playtext>You are joining the conference.</playtext>'
        '<conference record="false">4001</conference></response>'
    )
    assert call.waiting_for == "conference"
    call.leave_conference()
    assert call.last_heard == ["You have left the conference. Goodbye."]
    assert call.ended_by == "app"
    return call


def conference_three_wrong_pins(sim: Simulator, env: dict[str, str]) -> SimulatedCall:
    call = sim.call().press("1#").timeout().press("2#")
    assert call.last_heard == ["Sorry, that PIN is not valid. Goodbye."]
    assert call.ended_by == "app"
    return call


# -- helpline ------------------------------------------------------------------------------

LANGUAGE_MENU = ["For English press 1.", "हिंदी के लिए 2 दबाएँ।", "தமிழுக்கு 3 அழுத்தவும்."]
HINDI_MENU = "समय जानने के लिए 1 दबाएँ। बात करने के लिए 2 दबाएँ। भाषा बदलने के लिए 9 दबाएँ।"


def helpline_remembers_the_language(sim: Simulator, env: dict[str, str]) -> SimulatedCall:
    first = sim.call("09876543210", sid=SID)
    assert first.turns[0].xml == (
        DECL + f'<response sid="{SID}"><collectdtmf l="1" o="5000">'
        '<playtext lang="en-IN">For English press 1.</playtext>'
        '<playtext lang="hi-IN">हिंदी के लिए 2 दबाएँ।</playtext>'
        '<playtext lang="ta-IN">தமிழுக்கு 3 அழுத்தவும்.</playtext>'
        "</collectdtmf></response>"
    )
    first.press("2")
    assert first.last_heard == [HINDI_MENU]
    first.press("1")
    assert first.last_heard == ["हम सोमवार से शनिवार, सुबह 9 से शाम 6 बजे तक खुले हैं। धन्यवाद।"]
    # The same caller again (written another way): straight to the Hindi menu.
    again = sim.call("919876543210")
    assert again.last_heard == [HINDI_MENU]
    assert again.last_response is not None
    assert again.last_response.to_xml().count(b'lang="hi-IN"') == 1
    # Another caller still chooses.
    other = sim.call("08041169706")
    assert other.last_heard == LANGUAGE_MENU
    other.hangup()
    # Press 9 to change language; the new choice is remembered.
    again.press("9").press("3")
    assert again.last_heard[0].startswith("நேரம் அறிய 1")
    again.press("2")
    assert again.waiting_for == "dial"
    again.dial_not_answered()
    assert again.last_heard == ["அனைவரும் பிஸியாக உள்ளனர். பின்னர் அழைக்கவும்."]
    third = sim.call("09876543210")
    assert third.last_heard[0].startswith("நேரம் அறிய 1")
    third.hangup()
    return again


# -- click to call (outbound) --------------------------------------------------------------


def click_to_call_answered(sim: Simulator, env: dict[str, str]) -> SimulatedCall:
    module = load_example("click_to_call")
    base = "http://localhost" if sim.app is not None else sim.url.rstrip("/")
    fake = FakeOutbound()
    with fake.serve() as api:
        queued = module.connect(
            Client(TEST_API_KEY, base_url=api), "9000000001", "09876543210", base_url=base
        )
    played = fake.answer(queued.sid, sim.app)
    call = played.call
    assert "?customer=9876543210&event=NewCall&" in call.turns[0].url
    assert call.last_response is not None
    assert call.last_turn.xml == (
        DECL + f'<response sid="{queued.sid}"><playtext>Connecting you to the customer.'
        '</playtext><dial record="true" moh="ring">09876543210</dial></response>'
    )
    call.answer_dial(duration=42)
    assert call.ended_by == "app"
    result = played.complete()
    assert result is not None
    assert result.status == 200
    [logged] = lines(Path(env["CLICK_TO_CALL_LOG"]))
    assert logged["sid"] == queued.sid
    assert logged["status"] == "answered"
    assert logged["agent"] == "+919000000001"
    return call


def test_click_to_call_refuses_a_bad_customer_number() -> None:
    module = load_example("click_to_call")
    with pytest.raises(ValueError, match="customer: '12' is not an Indian phone number"):
        module.connect(Client(TEST_API_KEY), "9000000001", "12", base_url="http://localhost")


def test_click_to_call_without_customer_hangs_up() -> None:
    module = in_process("click_to_call")
    call = Simulator(module.app).call()
    assert call.last_heard == ["This call has no customer to connect."]
    assert call.ended_by == "app"


# -- SMS keywords --------------------------------------------------------------------------

SMS_CASES = [
    ("ACME HOURS", "Acme is open 9 am to 6 pm, Monday to Saturday."),
    ("acme status 42", "Order 42 is shipped."),
    ("ACME STATUS 7", "We found no order 7."),
    ("ACME", "Send ACME HOURS for opening hours or ACME STATUS &lt;order&gt; for an order."),
]


def sms_reply(target: Any, message: str) -> str:
    query = urlencode({"event": "NewSms", "sid": "5501", "cid": "9876543210", "message": message})
    if isinstance(target, str):
        with urllib.request.urlopen(f"{target}/?{query}", timeout=10) as reply:
            return str(reply.read().decode())
    return WerkzeugClient(target).get(f"/?{query}").get_data(as_text=True)


@pytest.mark.parametrize(("message", "text"), SMS_CASES)
def test_sms_keywords_in_process(message: str, text: str) -> None:
    app = in_process("sms_keywords").app
    assert sms_reply(app, message) == (
        DECL + f'<response sid="5501"><sendsms to="9876543210">{text}</sendsms></response>'
    )


# -- in-process and over gunicorn ------------------------------------------------------------

Walk = Callable[[Simulator, dict[str, str]], SimulatedCall]
WALKS: dict[str, list[Walk]] = {
    "voicemail": [voicemail_keep, voicemail_redo_then_hang_up_recording],
    "conference": [conference_join_and_leave, conference_three_wrong_pins],
    "helpline": [helpline_remembers_the_language],
    "click_to_call": [click_to_call_answered],
}


def test_every_gallery_example_is_tested_and_has_a_page() -> None:
    root = Path(__file__).resolve().parent.parent
    assert sorted([*WALKS, "sms_keywords"]) == sorted(GALLERY)
    for name in GALLERY:
        assert (root / "examples" / f"{name}.py").exists()
        assert (root / "docs" / "gallery" / f"{name}.md").exists()


@pytest.mark.parametrize(
    ("name", "walk"),
    [pytest.param(n, w, id=f"{n}-{w.__name__}") for n, ws in WALKS.items() for w in ws],
)
def test_gallery_in_process(name: str, walk: Walk, env: dict[str, str]) -> None:
    module = in_process(name)
    call = walk(Simulator(module.app, seed=1), env)
    clean(call)


@pytest.mark.gunicorn
@pytest.mark.parametrize("name", GALLERY)
def test_gallery_over_gunicorn(name: str, env: dict[str, str], tmp_path: Path) -> None:
    with gunicorn(f"examples.{name}:app", workers=2, env=env) as (base, _):
        if name == "sms_keywords":
            text = SMS_CASES[1][1]
            assert sms_reply(base, "ACME STATUS 42").endswith(
                f'<sendsms to="9876543210">{text}</sendsms></response>'
            )
            return
        sim = Simulator(base + "/", seed=2, timeout=10)
        call = WALKS[name][0](sim, env)
        assert all(t.status == 200 for t in call.turns)
