"""examples/reminder.py end to end with the fake KooKoo outbound endpoint: in-process and under
gunicorn, with exact XML and exact stored outcomes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug.test import Client as WerkzeugClient

from kookoo.outbound import Client
from kookoo.state.stores import MemoryStore
from kookoo.testing import TEST_API_KEY, FakeOutbound, Sms
from kookoo.testing.servers import gunicorn

ROOT = Path(__file__).resolve().parent.parent
SECRET = "reminder-test-secret-0123456789abcdef"
DECL = "<?xml version='1.0' encoding='UTF-8'?>\n"


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    paths = {"REMINDER_RESULTS": tmp_path / "results.jsonl"}
    paths["REMINDER_RETRIES"] = tmp_path / "retries.jsonl"
    for name, path in paths.items():
        monkeypatch.setenv(name, str(path))
    monkeypatch.setenv("KOOKOO_SECRET", SECRET)
    return paths


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def load_reminder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_fresh_reminder", ROOT / "examples/reminder.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass needs to find its module
    spec.loader.exec_module(module)
    return module


def test_reminders_in_process(files: dict[str, Path]) -> None:
    reminder = load_reminder()
    store = MemoryStore()
    reminder.app.store = store
    fake = FakeOutbound()
    with fake.serve() as api:
        client = Client(TEST_API_KEY, base_url=api)
        placed = reminder.place_reminders(
            client,
            [
                reminder.Patient("p-1", "9876543210", "10:30 tomorrow"),
                reminder.Patient("p-2", "9123456789", "11:00 tomorrow"),
            ],
            base_url="http://localhost",
        )
        first, second = placed
        # The first patient answers and presses 1.
        played = fake.answer(first.sid, reminder.app)
        assert played.call.turns[0].body.decode() == DECL + (
            f'<response sid="{first.sid}"><collectdtmf l="1" o="6000"><playtext>This is a '
            "reminder of your appointment at 10:30 tomorrow.</playtext><playtext>Press 1 to "
            "confirm, or 2 to cancel.</playtext></collectdtmf></response>"
        )
        played.call.press("1")
        pressed = next(t for t in played.call.turns if t.params.get("event") == "GotDTMF")
        assert pressed.body.decode() == DECL + (
            f'<response sid="{first.sid}"><playtext>Thank you. Your appointment at 10:30 '
            'tomorrow is confirmed.</playtext><sendsms to="9876543210">Your appointment at '
            "10:30 tomorrow is confirmed.</sendsms><hangup/></response>"
        )
        assert played.call.sms == [
            Sms("Your appointment at 10:30 tomorrow is confirmed.", to="9876543210")
        ]
        callback = played.complete()
        assert callback is not None
        assert (callback.status, callback.body) == (200, b"OK")
        stored = store.load(first.sid)
        assert stored is not None
        assert stored.outcome is not None
        assert (stored.ended, stored.outcome["status"]) == (True, "answered")
        # Nobody answers the second: one retry is scheduled, then placed when due.
        answered = fake.not_answered(second.sid, callback_app=reminder.app)
        assert answered is not None
        assert (answered.status, answered.body) == (200, b"OK")
        [retry] = lines(files["REMINDER_RETRIES"])
        assert (retry["patient"], retry["phone"], retry["reason"]) == (
            "p-2",
            "9123456789",
            "NoAnswer",
        )
        assert reminder.place_due_retries(client, base_url="http://localhost") == 0  # not due
        due = retry["due"] + 1
        assert reminder.place_due_retries(client, base_url="http://localhost", now=due) == 1
        assert reminder.place_due_retries(client, base_url="http://localhost", now=due) == 0
        third = fake.requests[-1]
        # The retry is attempt 2: its own unanswered callback schedules nothing more.
        fake.not_answered(fake.calls[-1].sid, callback_app=reminder.app)
    assert lines(files["REMINDER_RESULTS"]) == [
        {"patient": "p-1", "answer": "confirmed", "sid": first.sid}
    ]
    assert len(lines(files["REMINDER_RETRIES"])) == 2  # the retry, and it marked placed
    assert third.params["phone_no"] == "09123456789"
    # Someone who saw a callback URL cannot answer for another patient: the signature fails.
    callback_url = fake.calls[0].callback_url
    assert callback_url is not None
    tampered = callback_url.replace("patient=p-1", "patient=p-9")
    assert tampered != fake.calls[0].callback_url
    resp = WerkzeugClient(reminder.app).post(
        tampered.removeprefix("http://localhost"), data={"sid": first.sid, "status": "ring"}
    )
    assert resp.status_code == 403


def test_reminder_under_gunicorn(files: dict[str, Path], tmp_path: Path) -> None:
    env = {name: str(path) for name, path in files.items()}
    env.update(KOOKOO_SECRET=SECRET, KOOKOO_DB=str(tmp_path / "calls.sqlite3"))
    reminder = load_reminder()
    fake = FakeOutbound()
    with (
        gunicorn("examples.reminder:app", workers=2, env=env, cwd=ROOT, workdir=tmp_path) as (
            base,
            _,
        ),
        fake.serve() as api,
    ):
        client = Client(TEST_API_KEY, base_url=api)
        [queued] = reminder.place_reminders(
            client, [reminder.Patient("p-3", "9876543210", "9:00 Monday")], base_url=base
        )
        played = fake.play(queued.sid, presses=["2"])  # over HTTP to the served app
        assert played.call.heard[-1] == "Thank you. Your appointment at 9:00 Monday is cancelled."
        assert played.callback is not None
        assert (played.callback.status, played.callback.body) == (200, b"OK")
    assert lines(files["REMINDER_RESULTS"]) == [
        {"patient": "p-3", "answer": "cancelled", "sid": queued.sid}
    ]
