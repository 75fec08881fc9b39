"""The example menu and a failing app served by real gunicorn (2 workers) over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import gunicorn, http_get

pytestmark = pytest.mark.gunicorn

DECL = "<?xml version='1.0' encoding='UTF-8'?>\n"


def test_menu_call_flow_over_real_gunicorn(tmp_path: Path) -> None:
    env = {"KOOKOO_DB": str(tmp_path / "calls.sqlite3")}
    with gunicorn("examples.menu:app", workers=2, env=env) as (base, _):
        sid = "1104528084461170"
        status, ctype, body = http_get(
            f"{base}/?called_number=911130803946&cid=8041169706&cid_e164=%2B918041169706"
            f"&cid_type=FIXED_LINE&sid={sid}&operator=Airtel&circle=KARNATAKA&event=NewCall"
        )
        assert (status, ctype) == (200, "text/xml; charset=utf-8")
        assert body.decode() == (
            DECL + f'<response sid="{sid}"><collectdtmf l="1" o="5000">'
            "<playtext>Welcome to Acme. For English press 1.</playtext>"
            '<playtext lang="hi-IN">हिंदी के लिए 2 दबाएँ।</playtext>'
            "</collectdtmf></response>"
        )
        # Several requests so both workers serve part of the call; state is in SQLite.
        status, _, body = http_get(f"{base}/?event=GotDTMF&sid={sid}&data=1")
        assert status == 200
        assert body.decode() == (
            DECL + f'<response sid="{sid}"><collectdtmf l="1" o="5000">'
            '<playtext lang="en-IN">For sales press 1. For support press 2. To hear our '
            "address press 3.</playtext></collectdtmf></response>"
        )
        status, _, body = http_get(f"{base}/?event=GotDTMF&sid={sid}&data=2")
        assert body.decode() == (
            DECL + f'<response sid="{sid}"><playtext lang="en-IN">Connecting you to support. '
            'Please hold.</playtext><dial limittime="3600" moh="ring">08041169707</dial>'
            "</response>"
        )
        status, _, body = http_get(
            f"{base}/?event=Dial&sid={sid}&status=not_answered&data=-1&message=NoAnswer"
        )
        assert body.decode() == (
            DECL + f'<response sid="{sid}"><playtext lang="en-IN">Everyone on the support team '
            "is busy. Please call again later. Goodbye.</playtext><hangup/></response>"
        )
        status, _, body = http_get(
            f"{base}/?event=Hangup&sid={sid}&process=none&total_call_duration=31"
        )
        assert (status, body) == (200, b"")

        # Malformed requests: a 4xx whose body is a sentence.
        status, ctype, body = http_get(f"{base}/?event=GotDTMF&data=1")
        assert (status, ctype) == (400, "text/plain; charset=utf-8")
        assert body == b"GotDTMF request is missing the required 'sid' parameter\n"
        # An optional field KooKoo sends that cannot be typed never ends the call with a 400.
        status, _, body = http_get(f"{base}/?event=Hangup&sid=1&total_call_duration=7.5")
        assert (status, body) == (200, b"")
        status, _, body = http_get(f"{base}/elsewhere?event=NewCall&sid=1")
        assert (status, body) == (404, b"No KooKoo app answers at /elsewhere.\n")


def test_raising_handler_gives_fallback_xml_under_gunicorn(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    with gunicorn("gunicorn_apps:broken", workers=2, pythonpath="tests", log=log) as (base, _):
        status, _, body = http_get(f"{base}/?event=GotDTMF&sid=77&data=5")
        assert status == 200
        assert body.decode() == (
            DECL + '<response sid="77"><playtext>Sorry, please call again.</playtext>'
            "<hangup/></response>"
        )
    # The failure is logged with the call's sid (Python's last-resort handler in gunicorn).
    text = log.read_text()
    assert "sid=77 event=GotDTMF route=/ handler failed" in text
    assert "RuntimeError: this handler always fails (digits 5)" in text
