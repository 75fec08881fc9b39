"""The app in production, in-process: settings from KOOKOO_* variables, the health and
metrics paths, the request line's fields, the first-request store probe, and nothing of it
costing anything when it is off."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_store_faults import unwritable
from werkzeug.test import Client

from kookoo import Call, GotDTMF, Hangup, KooKoo, NewCall, Response
from kookoo.core.errors import ConfigError
from kookoo.state.stores import MemoryStore, SQLiteStore
from kookoo.web.logs import RequestFields
from kookoo.web.metrics import MULTIPROC_VARIABLE

SECRET = "s3cret-token-for-tests-0123456789"


def menu_app(**kwargs: Any) -> tuple[KooKoo, list[str]]:
    kwargs.setdefault("store", MemoryStore())
    app = KooKoo("ops", **kwargs)
    ran: list[str] = []

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        ran.append("welcome")
        return Response(sid=event.sid).collect_dtmf(max_digits=1).play_text("Press 1")  # type: ignore[return-value]

    @app.on_dtmf
    def pressed(event: GotDTMF, call: Call) -> Response:
        ran.append("pressed")
        if event.digits == "9":
            raise RuntimeError("nine is broken")
        return Response().play_text("ok")

    @app.on(Hangup)
    def bye(event: Hangup, call: Call) -> None:
        ran.append("bye")

    return app, ran


# -- settings from the environment ------------------------------------------------------------


def test_settings_come_from_kookoo_variables_and_arguments_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOOKOO_MAX_PARAMS", "3")
    monkeypatch.setenv("KOOKOO_FALLBACK_PROMPT", "Try later.")
    monkeypatch.setenv("KOOKOO_DEBUG", "yes")
    app, _ = menu_app()
    settings = app.settings
    assert (settings.max_params, settings.fallback_prompt, settings.debug) == (
        3,
        "Try later.",
        True,
    )
    resp = Client(app).get("/?event=NewCall&sid=1&a=1&b=2&c=3")
    assert resp.status_code == 400
    assert b"at most 3" in resp.data
    explicit = KooKoo(store=MemoryStore(), max_params=10, debug=False)
    assert (explicit.settings.max_params, explicit.settings.debug) == (10, False)


def test_a_bad_variable_fails_when_the_app_is_created(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOOKOO_MAX_PARAMS", "lots")
    with pytest.raises(ConfigError, match="KOOKOO_MAX_PARAMS='lots'"):
        KooKoo()
    monkeypatch.delenv("KOOKOO_MAX_PARAMS")
    monkeypatch.setenv("KOOKOO_LOG_FORMAT", "yaml")
    with pytest.raises(ConfigError, match="KOOKOO_LOG_FORMAT='yaml': give text or json"):
        KooKoo()


def test_kookoo_store_chooses_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOOKOO_STORE", f"sqlite:///{tmp_path}/calls.sqlite3")
    app = KooKoo()
    store = app.store_if_created
    assert isinstance(store, SQLiteStore)
    assert store.path == str(tmp_path / "calls.sqlite3")
    assert not app.uses_default_store  # a configured store: the CLI must not swap it
    given = MemoryStore()
    assert KooKoo(store=given).store is given
    assert KooKoo(store=False).store is None


# -- the health path --------------------------------------------------------------------------


class DownStore(MemoryStore):
    """A store whose backend is gone (what a stopped Redis looks like to the app)."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "Redis at 10.0.0.5:6379/0"

    def load(self, sid: str) -> Call | None:
        from kookoo.state.stores import StoreUnavailableError

        raise StoreUnavailableError("Redis at 10.0.0.5:6379/0", "Connection refused")


def test_healthz_answers_before_the_secret_check_and_runs_no_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, ran = menu_app(secret=SECRET)
    client = Client(app)
    assert client.get("/?event=NewCall&sid=1").status_code == 403  # the secret guards calls
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kookoo"):
        resp = client.get("/healthz")
    assert caplog.records == []  # a passed probe writes no request line
    assert resp.status_code == 200
    assert resp.data == b"ok\n"
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert client.head("/healthz").status_code == 200
    assert ran == []


def test_healthz_is_503_with_the_reason_when_the_store_does_not_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, ran = menu_app(store=DownStore(), secret=SECRET)
    with caplog.at_level(logging.INFO, logger="kookoo"):
        resp = Client(app).get("/healthz")
    assert resp.status_code == 503
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sid=")]
    assert line.startswith("sid=- event=- route=/healthz handler=- status=503 ")  # a failure
    assert resp.data == (
        b"unavailable: Redis at 10.0.0.5:6379/0 is unavailable: Connection refused\n"
    )
    assert ran == []


def test_healthz_of_an_app_without_state_is_always_ok() -> None:
    app = KooKoo(store=False)

    @app.on_new_call
    def hi(event: NewCall) -> Response:
        return Response().hangup()

    assert Client(app).get("/healthz").data == b"ok\n"


def test_the_health_path_is_configurable_and_can_be_off(monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = menu_app(health_path="/ops/up")
    client = Client(app)
    assert client.get("/ops/up").data == b"ok\n"
    assert client.get("/healthz").status_code == 404  # no handler route there
    monkeypatch.setenv("KOOKOO_HEALTH_PATH", "off")
    off, _ = menu_app()
    assert off.settings.health_path == ""
    assert Client(off).get("/healthz").status_code == 404
    assert Client(off).get("/?event=NewCall&sid=1").status_code == 200


# -- the request line -------------------------------------------------------------------------


def test_the_request_line_carries_its_fields_for_formatters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = menu_app()
    with caplog.at_level(logging.INFO, logger="kookoo"):
        Client(app).get("/?event=NewCall&sid=77&cid=09876543210")
    [record] = [r for r in caplog.records if r.getMessage().startswith("sid=")]
    fields = record.kookoo  # type: ignore[attr-defined]
    assert isinstance(fields, RequestFields)
    assert fields[:5] == ("77", "NewCall", "/", "menu_app.<locals>.welcome", 200)
    assert fields.caller == "09876543210"
    assert record.getMessage() == (
        "sid=77 event=NewCall route=/ handler=menu_app.<locals>.welcome status=200 "
        f"ms={fields.ms:.2f}"
    )


# -- the first request's store probe ----------------------------------------------------------


def test_an_unwritable_kookoo_db_is_named_at_the_first_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    path = directory / "calls.sqlite3"
    monkeypatch.setenv("KOOKOO_DB", str(path))
    app, _ = menu_app(store=None)
    with unwritable(directory), caplog.at_level(logging.INFO, logger="kookoo"):
        resp = Client(app).get("/?event=NewCall&sid=1")
    assert b"temporarily unavailable" in resp.data
    first = caplog.records[0]
    assert first.levelname == "ERROR"
    assert first.getMessage().startswith(
        f"app ops: SQLite database {path} (from KOOKOO_DB) is unavailable: "
    )


# -- metrics ----------------------------------------------------------------------------------


def _scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_count_requests_fallbacks_and_live_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_VARIABLE, raising=False)
    app, _ = menu_app(metrics=True, secret=SECRET)
    client = Client(app)
    token = f"kk_token={SECRET}"
    client.get(f"/?{token}&event=NewCall&sid=1&cid=1")
    client.get(f"/?{token}&event=NewCall&sid=2&cid=1")
    client.get(f"/?{token}&event=NewCall&sid=2&cid=1")  # a repeat: the call started once
    client.get(f"/?{token}&event=GotDTMF&sid=1&data=9")  # the handler fails: fallback
    client.get(f"/?{token}&event=Hangup&sid=1")
    client.get(f"/?{token}&event=Disconnect&sid=1")  # the same call ends once
    client.get("/?event=NewCall&sid=3")  # no token: 403
    client.get(f"/?{token}&event=%0A{{evil}}&sid=1")  # a made-up event: a bounded label
    got = _scrape(client)
    assert got[("kookoo_requests_total", (("event", "NewCall"), ("status", "200")))] == 3
    assert got[("kookoo_requests_total", (("event", "GotDTMF"), ("status", "200")))] == 1
    assert got[("kookoo_requests_total", (("event", "-"), ("status", "403")))] == 1
    assert not [k for k in got if "evil" in str(k)]
    assert got[("kookoo_fallbacks_total", ())] == 2  # the failing handler, the unknown event
    assert got[("kookoo_live_calls", ())] == 1  # call 2 is still live
    assert got[("kookoo_request_seconds_count", (("event", "NewCall"),))] == 3
    # Scrapes and passed health checks are neither counted nor logged.
    client.get("/healthz")
    again = _scrape(client)
    assert ("kookoo_requests_total", (("event", "-"), ("status", "200"))) not in again


def test_metrics_count_store_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_VARIABLE, raising=False)
    app, _ = menu_app(store=DownStore(), metrics=True)
    client = Client(app)
    client.get("/?event=GotDTMF&sid=1&data=1")
    assert _scrape(client)[("kookoo_store_errors_total", ())] == 1


def test_metrics_are_off_by_default_and_then_imported_nowhere() -> None:
    code = textwrap.dedent(
        """
        import sys
        from werkzeug.test import Client
        from kookoo import KooKoo, NewCall, Response
        from kookoo.state.stores import MemoryStore

        app = KooKoo(store=MemoryStore())

        @app.on_new_call
        def hi(event: NewCall) -> Response:
            return Response().hangup()

        client = Client(app)
        assert client.get("/?event=NewCall&sid=1").status_code == 200
        assert client.get("/metrics").status_code == 404
        assert app.metrics is None
        print(sorted(m for m in sys.modules if m.startswith("prometheus")))
        """
    )
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"


def test_the_default_handler_writes_the_request_line_without_logging_config() -> None:
    code = textwrap.dedent(
        """
        from werkzeug.test import Client
        from kookoo import KooKoo, NewCall, Response
        from kookoo.state.stores import MemoryStore

        app = KooKoo(store=MemoryStore())

        @app.on_new_call
        def hi(event: NewCall) -> Response:
            return Response().hangup()

        Client(app).get("/?event=NewCall&sid=abc&cid=09876543210")
        """
    )
    for fmt in ("text", "json"):
        env = {"PATH": "/usr/bin:/bin", "KOOKOO_LOG_FORMAT": fmt}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        [line] = out.stderr.splitlines()
        if fmt == "text":
            assert " INFO kookoo: sid=abc event=NewCall route=/ handler=hi status=200 ms=" in line
        else:
            obj = json.loads(line)
            assert (obj["sid"], obj["status"], obj["caller"]) == ("abc", 200, "*******3210")
