"""The benchmarks compare like with like: every equivalent app and builder says the same thing.

No timing here (speed is measured by ``python -m benchmarks``, never asserted in tests).
Flask, twilio and plivo are in the ``test`` extra (as in ``bench``), so these checks run in CI:
without them the tests fail, they do not skip.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from werkzeug.test import Client

from benchmarks import apps
from benchmarks.cases import _commit_case, call_wsgi, new_call_environ
from benchmarks.handwritten_state import HandWrittenSQLiteApp
from benchmarks.report import target
from benchmarks.served import _wrk_ms
from kookoo.protocol.phone import PhoneNumber
from kookoo.state.stores import MemoryStore, SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
NEW_CALL = f"{apps.ROUTE}?{apps.NEW_CALL_QUERY}"

# What every dialect must say, in order: (kind, text) with kind "say" or "play".
PROMPTS = [
    ("say", apps.WELCOME),
    ("play", apps.WELCOME_AUDIO),
    ("gather", ""),
    ("say", apps.MENU),
    ("play", apps.MENU_AUDIO),
]
KINDS = {
    "playtext": "say",
    "playaudio": "play",
    "collectdtmf": "gather",
    "Say": "say",
    "Speak": "say",
    "Play": "play",
    "Gather": "gather",
    "GetDigits": "gather",
}


def _prompts(xml: bytes) -> list[tuple[str, str]]:
    root = etree.fromstring(xml)
    return [(KINDS[str(el.tag)], el.text or "") for el in root.iter() if el is not root]


def _digits_attrs(xml: bytes) -> dict[str, str]:
    root = etree.fromstring(xml)
    gather = next(el for el in root.iter() if KINDS.get(str(el.tag)) == "gather")
    return {str(k): str(v) for k, v in gather.attrib.items()}


def _flask_apps() -> Any:
    # Imported here, not at the top: twilio and plivo take a moment to import.
    from benchmarks import thirdparty

    return thirdparty


# -- the document ---------------------------------------------------------------------------------


def test_kookoo_and_lxml_builders_write_identical_bytes() -> None:
    assert apps.build_kookoo().to_xml() == apps.build_lxml()


def test_document_escapes_ampersand_and_angle_bracket() -> None:
    xml = apps.build_lxml()
    assert b"Welcome to Ram &amp; Shyam &lt;Traders&gt;" in xml
    assert _prompts(xml) == PROMPTS
    assert _digits_attrs(xml) == {"l": "1", "t": "#", "o": "5000"}


def test_twilio_and_plivo_builders_say_the_same_menu() -> None:
    thirdparty = _flask_apps()
    for xml in (thirdparty.build_twilio(), thirdparty.build_plivo()):
        assert _prompts(xml) == PROMPTS
        attrs = _digits_attrs(xml)
        assert (attrs["numDigits"], attrs["finishOnKey"], attrs["timeout"]) == ("1", "#", "5")


# -- the apps -------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", [apps.kookoo_app, apps.werkzeug_app], ids=["kookoo", "werkzeug"])
def test_kookoo_and_handwritten_apps_answer_byte_identical_xml(app: Any) -> None:
    response = Client(app).get(NEW_CALL)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == apps.CONTENT_TYPE
    assert response.data == apps.expected_reply(apps.SID)


def test_apps_echo_the_requests_sid() -> None:
    for app in (apps.kookoo_app, apps.werkzeug_app):
        status, body = call_wsgi(app, new_call_environ("777"))
        assert (status, body) == ("200 OK", apps.expected_reply("777"))


def test_the_expected_reply_is_the_menu() -> None:
    # Pinned literally: every app below is compared with expected_reply().
    assert apps.expected_reply("777") == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<response sid="777"><playtext>Welcome to Ram &amp; Shyam &lt;Traders&gt;</playtext>'
        b"<playaudio>http://example.com/audio/welcome.wav</playaudio>"
        b'<collectdtmf l="1" t="#" o="5000"><playtext>Press 1 for orders &amp; 2 for accounts'
        b"</playtext><playaudio>http://example.com/audio/menu.wav</playaudio></collectdtmf>"
        b"</response>"
    )


def test_floor_answers_the_same_bytes() -> None:
    response = Client(apps.floor_app).get(NEW_CALL)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == apps.CONTENT_TYPE
    assert response.data == apps.expected_reply(apps.SID)


def test_stateful_kookoo_app_answers_the_same_and_stores_the_call() -> None:
    store = MemoryStore()
    status, body = call_wsgi(apps.make_kookoo_state_app(store), new_call_environ("4242"))
    assert (status, body) == ("200 OK", apps.expected_reply("4242"))
    call = store.load("4242")
    assert call is not None
    assert call.state == {"menu": "main"}
    assert call.caller == PhoneNumber.parse("8041169706")


@pytest.mark.parametrize("name", ["flask_twilio_app", "flask_plivo_app"])
def test_flask_apps_answer_the_same_prompts(name: str) -> None:
    app = getattr(_flask_apps(), name)
    response = Client(app).get(NEW_CALL)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert _prompts(response.data) == PROMPTS


def test_apps_refuse_other_events() -> None:
    assert Client(apps.werkzeug_app).get(f"{apps.ROUTE}?event=Hangup&sid=1").status_code == 400


@pytest.mark.parametrize("app", [apps.kookoo_app, apps.werkzeug_app], ids=["kookoo", "werkzeug"])
def test_apps_answer_gotdtmf_with_the_menu(app: Any) -> None:
    status, body = call_wsgi(app, _dtmf_environ("778", "2"))
    assert (status, body) == ("200 OK", apps.expected_reply("778"))


# -- call state by hand (the like-for-like of kookoo + SQLiteStore) -----------------------------


def _dtmf_environ(sid: str, digits: str) -> dict[str, Any]:
    return dict(new_call_environ(sid), QUERY_STRING=f"event=GotDTMF&sid={sid}&data={digits}")


def test_handwritten_sqlite_app_answers_what_kookoo_answers_and_shares_its_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hand.sqlite3"
    app = HandWrittenSQLiteApp(path)
    kookoo = apps.make_kookoo_state_app(MemoryStore())
    for each in (app, kookoo):
        assert call_wsgi(each, new_call_environ("91")) == ("200 OK", apps.expected_reply("91"))
        assert call_wsgi(each, _dtmf_environ("91", "2")) == ("200 OK", apps.expected_reply("91"))
    assert app.state("91") == {"menu": "main", "choice": "2"}
    # Another worker (a second app on the same file) sees it and writes on top of it.
    other = HandWrittenSQLiteApp(path)
    assert call_wsgi(other, _dtmf_environ("91", "7"))[0] == "200 OK"
    assert app.state("91") == {"menu": "main", "choice": "7"}
    # A repeated NewCall keeps the call as it is.
    assert call_wsgi(app, new_call_environ("91"))[0] == "200 OK"
    assert app.state("91") == {"menu": "main", "choice": "7"}


def test_handwritten_sqlite_app_refuses_unknown_calls_and_other_events(tmp_path: Path) -> None:
    app = HandWrittenSQLiteApp(tmp_path / "hand.sqlite3")
    assert call_wsgi(app, _dtmf_environ("404", "1"))[0] == "404 NOT FOUND"
    assert app.state("404") is None
    client = Client(app)
    assert client.get(f"{apps.ROUTE}?event=Hangup&sid=1").status_code == 400
    assert client.get(f"{apps.ROUTE}?event=GotDTMF").status_code == 400
    assert client.get("/elsewhere?event=NewCall&sid=1").status_code == 404


def test_handwritten_sqlite_app_reads_again_after_losing_a_race(tmp_path: Path) -> None:
    path = tmp_path / "hand.sqlite3"
    app = HandWrittenSQLiteApp(path)
    call_wsgi(app, new_call_environ("92"))
    rival = HandWrittenSQLiteApp(path)
    conn = app.connection()
    raced: list[str] = []

    class Racing:
        """The app's connection, with a rival's save slipped in before the app's first one."""

        def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
            if sql.startswith("UPDATE") and not raced:
                raced.append(sql)
                call_wsgi(rival, _dtmf_environ("92", "5"))
            return conn.execute(sql, params)

    assert HandWrittenSQLiteApp._store_choice(Racing(), "92", "3") is True  # type: ignore[arg-type]
    assert raced
    # The rival's save made the first write miss; the app read again and wrote on top.
    row = conn.execute("SELECT version, data FROM calls WHERE sid = '92'").fetchone()
    assert (row[0], json.loads(row[1])) == (3, {"menu": "main", "choice": "3"})


def test_the_commit_floor_case_writes_a_changed_record_each_time(tmp_path: Path) -> None:
    path = tmp_path / "floor.sqlite3"
    store = SQLiteStore(path, background=False)
    conn = sqlite3.connect(path)
    try:
        case = _commit_case(store)
        (sid, version, data) = conn.execute(
            "SELECT sid, version, data FROM kookoo_calls"
        ).fetchone()
        run = case.prepare(5)
        run()
        rows = conn.execute("SELECT sid, version, data FROM kookoo_calls").fetchall()
    finally:
        conn.close()
        store.close()
    assert case.key == "state.sqlite_commit"
    assert sid.startswith("commit-floor-")
    # One row, the floor's: five saves later, at a version five higher, with other data.
    assert [(r[0], r[1]) for r in rows] == [(sid, version + 5)]
    assert rows[0][2] != data
    assert json.loads(rows[0][2])["sid"] == sid


# -- the command ----------------------------------------------------------------------------------


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_works() -> None:
    result = _run("--help", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout
    assert "--json" in result.stdout


def test_json_always_has_every_target(tmp_path: Path) -> None:
    # Part 5 alone is the shortest run (one in-process case); speed itself is not asserted.
    out = tmp_path / "out.json"
    result = _run("--quick", "--parts", "5", "--json", str(out), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert set(document["targets"]) == {
        "request_vs_werkzeug",
        "request_vs_flask_twilio",
        "builder_vs_lxml",
        "sqlite_state_overhead_us",
        "memory_state_overhead_us",
        "served_vs_werkzeug",
        "served_sqlite_cpu_overhead_us",
        "sqlite_max_stall_ms",
        "redis_round_trips_warm",
        "flow_last_step_ms",
        "secret_overhead_us",
        "flow_step_200_ms",
    }
    assert set(document["meta"]["targets_help"]) == set(document["targets"])
    for entry in document["targets"].values():
        assert set(entry) == {"value", "limit", "met"}
        assert isinstance(entry["met"], bool)
    assert isinstance(document["targets"]["flow_last_step_ms"]["value"], float)
    assert isinstance(document["targets"]["flow_step_200_ms"]["value"], float)
    assert document["targets"]["request_vs_werkzeug"]["value"] == "not run"


def test_target_direction() -> None:
    assert target(1.1, 1.2, at_most=True) == {"value": 1.1, "limit": 1.2, "met": True}
    assert target(2.5, 3.0, at_most=False)["met"] is False
    assert target("pending", 1.0, at_most=True) == {"value": "pending", "limit": 1.0, "met": False}


@pytest.mark.parametrize(
    ("text", "ms"), [("512.00us", 0.512), ("1.61ms", 1.61), ("2.00s", 2000.0), ("1.00m", 60000.0)]
)
def test_wrk_latency_units(text: str, ms: float) -> None:
    assert _wrk_ms(text) == pytest.approx(ms)


def test_the_scale_part_fills_and_measures_a_small_store(tmp_path: Path) -> None:
    from benchmarks import scale

    path = tmp_path / "scale.sqlite3"
    scale.fill(path, 50)
    row = scale.measure_size(path, 50, mode="background", seconds=0.0)
    assert row["saves"] >= 500
    assert row["rows_after"] in range(45, 51)  # the 5 expired ones may be gone already
    assert row["file_bytes_per_call"] > 0
    assert set(row) >= {"median_us", "p99_us", "p999_us", "max_ms", "over_5ms"}


def test_the_scale_part_interleaves_rounds_and_reports_the_median_worst(tmp_path: Path) -> None:
    from benchmarks import scale

    runs = scale.scale_results(tmp_path, [40], 0.0, rounds=2)
    assert [(r["round"], r["housekeeping"]) for r in runs] == [
        (0, "in request"),
        (0, "background"),
        (0, "none"),
        (1, "in request"),
        (1, "background"),
        (1, "none"),
    ]
    assert list(tmp_path.iterdir()) == []  # the template and the copies are gone
    rows = scale.summarise(runs)
    assert [r["housekeeping"] for r in rows] == list(scale.MODES)
    for row in rows:
        mine = [r for r in runs if r["housekeeping"] == row["housekeeping"]]
        assert row["max_ms_rounds"] == [r["max_ms"] for r in mine]
        assert row["max_ms"] == sum(row["max_ms_rounds"]) / 2  # the median of two
        assert row["max_ms_all"] == max(row["max_ms_rounds"])
        assert row["saves"] == sum(r["saves"] for r in mine)
