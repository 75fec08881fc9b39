"""Issue 10's attacks, each as a regression test over real WSGI (werkzeug's test Client and the
call simulator) against the examples and small apps; plus call binding, max_live_calls, signed
routes, the token through gotourl and a bounded fuzz of the whole pipeline."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import unicodedata
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client
from werkzeug.wrappers import Request

from kookoo import Call, CollectDtmf, GotDTMF, KooKoo, NewCall, Response
from kookoo.cli import main
from kookoo.state.stores import MemoryStore
from kookoo.testing import InvalidReplyError, Simulator
from kookoo.xml.lint import lint

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-Token_0123456789"
DECL = b"<?xml version='1.0' encoding='UTF-8'?>\n"
SID = "1104528084461170"
FALLBACK = (
    DECL
    + (
        f'<response sid="{SID}"><playtext>Sorry, something went wrong. Please call again '
        "later.</playtext><hangup/></response>"
    ).encode()
)


def load_example(name: str) -> ModuleType:
    """A fresh copy of ``examples/<name>.py`` with a MemoryStore; its app reads ``KOOKOO_*``
    settings from the environment when it is created."""
    spec = importlib.util.spec_from_file_location(
        f"_attack_{name}", ROOT / "examples" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.app.store = MemoryStore()
    return module


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KOOKOO_SECRET", SECRET)
    return SECRET


# -- 1. a GotDTMF with a live call's sid drove that call ------------------------------------


def test_a_forged_dtmf_without_the_token_is_refused_and_changes_nothing(secret_env: str) -> None:
    menu = load_example("menu")
    sim = Simulator(menu.app)
    call = sim.call("09876543210", sid=SID)
    before = menu.app.store.load(SID)
    attacker = Client(menu.app)
    resp = attacker.get(f"/?event=GotDTMF&sid={SID}&data=2")
    assert resp.status_code == 403
    assert resp.data == (
        b"Forbidden: this app needs its secret token, as the kk_token query parameter or the "
        b"first path segment, and the request carries none.\n"
    )
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    wrong = attacker.get(f"/?event=GotDTMF&sid={SID}&data=2&kk_token=guess")
    assert wrong.status_code == 403
    assert (
        wrong.data == b"Forbidden: the kk_token in this request is not one of this app's secrets.\n"
    )
    after = menu.app.store.load(SID)
    assert after is not None
    assert before is not None
    assert (after.version, after.state, after.step) == (before.version, before.state, before.step)
    # The real caller's next key press works as if nothing happened.
    call.press("1")
    assert call.last_heard == [
        "For sales press 1. For support press 2. To hear our address press 3."
    ]


def test_the_simulator_and_the_token_in_the_path_work_too(secret_env: str) -> None:
    menu = load_example("menu")
    call = Simulator(menu.app, url=f"http://localhost/{SECRET}/").call().press("1")
    assert call.turns[0].url.startswith(f"http://localhost/{SECRET}/?event=NewCall")
    assert "kk_token" not in call.turns[0].url
    assert call.last_heard == [
        "For sales press 1. For support press 2. To hear our address press 3."
    ]


def test_the_simulator_without_the_token_sees_the_refusal(secret_env: str) -> None:
    menu = load_example("menu")
    with pytest.raises(InvalidReplyError, match="403"):
        Simulator(menu.app, secret=False).call()


def test_the_token_stays_out_of_handlers() -> None:
    app = KooKoo(store=False, secret=SECRET)
    seen: list[dict[str, str]] = []

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        seen.append(dict(event.params))
        return Response().play_text("hi")

    assert Client(app).get(f"/?event=NewCall&sid=1&kk_token={SECRET}").status_code == 200
    assert seen == [{"event": "NewCall", "sid": "1"}]


# -- 2. a NewCall on an existing sid overwrote the stored caller ------------------------------


def test_a_repeated_new_call_does_not_overwrite_the_call(caplog: pytest.LogCaptureFixture) -> None:
    menu = load_example("menu")
    sim = Simulator(menu.app)
    call = sim.call("09876543210", sid=SID).press("2")
    before = menu.app.store.load(SID)
    assert before is not None
    with caplog.at_level(logging.WARNING, logger="kookoo"):
        resp = Client(menu.app).get(
            f"/?event=NewCall&sid={SID}&cid=09999999999&called_number=911111111111"
        )
    assert resp.status_code == 200
    after = menu.app.store.load(SID)
    assert after is not None
    assert str(after.caller) == "+919876543210"
    assert (after.version, after.state, after.step, after.called_number) == (
        before.version,
        before.state,
        before.step,
        before.called_number,
    )
    assert f"sid={SID} duplicate NewCall for a call already started: nothing is saved" in (
        caplog.text
    )
    call.press("1")  # the real call carries on in Hindi, in the department menu
    assert call.state == {"attempts": 0, "lang": "hi", "department": "sales"}


def test_state_saved_before_the_call_still_reaches_its_new_call() -> None:
    store = MemoryStore()
    store.save(Call(sid="77", state={"order": "A-17"}))
    app = KooKoo(store=store)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["greeted"] = True
        return Response().play_text(f"order {call.state.get('order')}")

    assert Client(app).get("/?event=NewCall&sid=77&cid=09876543210").status_code == 200
    stored = store.load("77")
    assert stored is not None
    assert stored.state == {"order": "A-17", "greeted": True}
    assert str(stored.caller) == "+919876543210"


# -- 3. an injected Hangup ended a live survey and wrote its partial results -------------------


def test_an_injected_hangup_is_refused(
    secret_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "survey.jsonl"
    monkeypatch.setenv("SURVEY_RESULTS", str(results))
    survey = load_example("survey")
    call = Simulator(survey.app).call(sid=SID).press("35#")
    resp = Client(survey.app).get(f"/?event=Hangup&sid={SID}&process=record")
    assert resp.status_code == 403
    assert not results.exists()
    stored = survey.app.store.load(SID)
    assert stored is not None
    assert not stored.ended
    call.record("http://recordings.kookoo.in/acme/story.mp3", duration=12)
    assert call.last_heard == ["Thank you. Your story is saved. Goodbye."]
    kinds = [json.loads(line)["kind"] for line in results.read_text().splitlines()]
    assert kinds == ["story", "ended"]  # no "partial": the forged Hangup wrote nothing


def test_events_for_a_sid_never_seen_create_no_record(caplog: pytest.LogCaptureFixture) -> None:
    menu = load_example("menu")
    client = Client(menu.app)
    with caplog.at_level(logging.WARNING, logger="kookoo"):
        resp = client.get(f"/?event=GotDTMF&sid={SID}&data=1")
        hangup = client.get(f"/?event=Hangup&sid={SID}&process=none")
    assert resp.data == FALLBACK
    assert (hangup.status_code, hangup.data) == (200, b"")
    assert menu.app.store.load(SID) is None
    assert len(menu.app.store) == 0
    assert (
        f"sid={SID} refused: GotDTMF for a call this app has no record of; only NewCall starts "
        "a call"
    ) in caplog.text


def test_a_sid_naming_kookoos_old_record_ids_reaches_no_record_of_kookoos() -> None:
    """kookoo's own records (limits, slots, probes) live apart from the calls, in the stores'
    values: a sid shaped like their old ids is just a call nobody started."""
    pin = load_example("pin")
    limiter = pin.limiter()
    limiter.failed("09876543210")
    sid = "kookoo:caller:+919876543210"
    resp = Client(pin.app).get(f"/?event=GotDTMF&sid={quote(sid)}&data=1234%23")
    assert (resp.status_code, resp.data) == (200, FALLBACK.replace(SID.encode(), sid.encode()))
    assert limiter.status("09876543210").failures == 1


# -- 4. examples/pin.py gave up all PINs: a fresh sid reset the count (see test_examples) ------


def test_pin_brute_force_over_fresh_sids_is_locked() -> None:
    pin = load_example("pin")
    sim = Simulator(pin.app)
    heard = []
    for guess in range(5):
        call = sim.call("09876543210")  # a fresh sid every time
        if call.ended_by is None:
            call.press(f"{guess:04d}#")
        heard.append(call.last_heard)
        if call.ended_by is None:
            call.hangup()
    assert heard == [
        ["That PIN is not right. Please try again."],
        ["That PIN is not right. Please try again."],
        ["Too many wrong attempts. Please call again later. Goodbye."],
        ["Too many wrong PINs were entered from this number. Please call again later. Goodbye."],
        ["Too many wrong PINs were entered from this number. Please call again later. Goodbye."],
    ]


# -- 5. an event name with %0A wrote a fake log line -----------------------------------------


def test_a_newline_in_the_event_name_cannot_fake_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    menu = load_example("menu")
    Simulator(menu.app).call(sid=SID)
    with caplog.at_level(logging.INFO, logger="kookoo"):
        Client(menu.app).get(f"/?event=X%0A%5BCRITICAL%5D%20db%20down&sid={SID}")
    lines = [r.getMessage() for r in caplog.records]
    assert lines
    assert all("\n" not in line for line in lines)
    assert any("event=X\\n[CRITICAL] db down" in line for line in lines)


# -- 6. Host: evil.example made relative URLs point off-site -------------------------------------


def relative_app(**settings: Any) -> KooKoo:
    app = KooKoo(store=False, **settings)

    @app.on_new_call(route="/ivr")
    def welcome(event: NewCall) -> Response:
        return Response().play_audio("/static/hi.wav").goto_url("menu?step=2")

    @app.on_dtmf(route="/ivr")
    def offsite(event: GotDTMF) -> Response:
        return Response().goto_url("//evil.example/x")

    return app


def test_an_arbitrary_host_header_is_never_used(caplog: pytest.LogCaptureFixture) -> None:
    app = relative_app()
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        resp = Client(app).get("/ivr?event=NewCall&sid=1", headers={"Host": "evil.example"})
    assert b"evil.example" not in resp.data
    assert b"Sorry, something went wrong" in resp.data
    assert "'evil.example' is not in trusted_hosts" in caplog.text


def test_public_url_and_trusted_hosts_resolve_relative_urls() -> None:
    resp = Client(relative_app(public_url="https://ivr.example.in")).get(
        "/ivr?event=NewCall&sid=1", headers={"Host": "evil.example"}
    )
    assert resp.data == DECL + (
        b"<response><playaudio>https://ivr.example.in/static/hi.wav</playaudio>"
        b"<gotourl>https://ivr.example.in/menu?step=2</gotourl></response>"
    )
    resp = Client(relative_app(trusted_hosts=["ivr.example.in"])).get(
        "/ivr?event=NewCall&sid=1", base_url="https://ivr.example.in"
    )
    assert b"<gotourl>https://ivr.example.in/menu?step=2</gotourl>" in resp.data


def test_a_scheme_relative_url_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    app = relative_app(public_url="https://ivr.example.in")
    with caplog.at_level(logging.ERROR, logger="kookoo"):
        resp = Client(app).get("/ivr?event=GotDTMF&sid=1&data=1")
    assert b"evil.example" not in resp.data
    # The builder refuses it as the handler writes it; the resolver would refuse it too.
    assert "point at another host" in caplog.text


def test_relative_gotourl_keeps_the_token() -> None:
    app = relative_app(secret=SECRET, public_url="https://ivr.example.in")
    resp = Client(app).get(f"/ivr?event=NewCall&sid=1&kk_token={SECRET}")
    assert (
        resp.data
        == DECL
        + (
            "<response><playaudio>https://ivr.example.in/static/hi.wav</playaudio>"
            f"<gotourl>https://ivr.example.in/menu?step=2&amp;kk_token={SECRET}</gotourl></response>"
        ).encode()
    )
    resp = Client(app).get(f"/{SECRET}/ivr?event=NewCall&sid=1")
    assert (
        resp.data
        == DECL
        + (
            "<response><playaudio>https://ivr.example.in/static/hi.wav</playaudio>"
            f"<gotourl>https://ivr.example.in/{SECRET}/menu?step=2</gotourl></response>"
        ).encode()
    )


# -- 7. 4xx bodies echoed control characters and kilobytes; no nosniff -------------------------


def test_error_bodies_are_one_short_clean_line() -> None:
    menu = load_example("menu")
    resp = Client(menu.app).get("/" + "%00%0D%0A" * 3 + "x" * 3000 + "?event=NewCall&sid=1")
    assert resp.status_code == 404
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    text = resp.data.decode()
    assert text.startswith("No KooKoo app answers at /\\x00\\r\\n\\x00\\r\\n\\x00\\r\\nxxx")
    assert len(text) <= 201
    assert text.count("\n") == 1
    assert text.endswith("...\n")
    assert all(c.isprintable() for c in text[:-1])
    ok = Client(menu.app).get(f"/?event=NewCall&sid={SID}")
    assert ok.headers["X-Content-Type-Options"] == "nosniff"


# -- abuse limits: max_live_calls ----------------------------------------------------------------


def test_max_live_calls_plays_busy_and_does_not_grow_the_store() -> None:
    store = MemoryStore()
    app = KooKoo(store=store, max_live_calls=2)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> CollectDtmf:
        return Response().collect_dtmf(max_digits=1).play_text("menu")

    client = Client(app)
    assert b"menu" in client.get("/?event=NewCall&sid=1").data
    assert b"menu" in client.get("/?event=NewCall&sid=2").data
    size = len(store)
    busy = client.get("/?event=NewCall&sid=3")
    assert busy.data == DECL + (
        b"<response><playtext>All our lines are busy. Please call again in a few minutes."
        b"</playtext><hangup/></response>"
    )
    assert len(store) == size
    assert store.load("3") is None
    assert b"menu" in client.get("/?event=NewCall&sid=1").data  # a repeat is not refused
    client.get("/?event=Hangup&sid=1&process=none")
    assert b"menu" in client.get("/?event=NewCall&sid=3").data
    with pytest.raises(ValueError, match="it needs a store"):
        KooKoo(store=False, max_live_calls=1)


# -- signed app parameters through gotourl -------------------------------------------------------


def account_menu() -> KooKoo:
    """The documented pattern: the menu passes an account id to the next URL, signed."""
    app = KooKoo(store=False, secret=SECRET, public_url="https://ivr.example.in")

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().goto_url(app.signed_url("/account", account="42", expires_in=600))

    @app.on_continue(route="/account")
    def account(event: Any, request: Request) -> Response:
        assert request.environ["kookoo.signed"] == {"account": event.params["account"]}
        return Response().play_text(f"Account {event.params['account']}").hangup()

    app.require_signed("/account")
    return app


def test_signed_parameters_reach_the_handler() -> None:
    call = Simulator(account_menu()).call()
    assert call.heard == ["Account 42"]
    assert "account=42&kk_exp=" in call.turns[1].url


def test_tampered_or_unsigned_parameters_are_a_403() -> None:
    app = account_menu()
    call = Simulator(app).call()
    forged = call.turns[1].url.replace("account=42", "account=43").split("://", 1)[1]
    forged = forged.split("/", 1)[1]
    resp = Client(app).get("/" + forged)
    assert resp.status_code == 403
    assert resp.data.startswith(b"Forbidden: the signature does not match parameters account")
    resp = Client(app).get(f"/account?account=43&event=&sid=1&kk_token={SECRET}")
    assert resp.data == b"Forbidden: the request carries no signed app parameters (kk_sig).\n"
    with pytest.raises(RuntimeError, match="needs a secret"):
        KooKoo(store=False, secret=False).require_signed("/x")


# -- kookoo routes -------------------------------------------------------------------------------


def test_routes_says_whether_a_secret_is_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "guarded.py"
    target.write_text(
        "from kookoo import KooKoo, Response\n"
        f"app = KooKoo(store=False, secret=[{SECRET!r}, 'second-secret-0123456789'])\n"
        "@app.on_new_call\n"
        "def hi(event):\n"
        "    return Response().hangup()\n",
        encoding="utf-8",
    )
    assert main(["routes", str(target)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "secret: on (2 active secrets); KooKoo's URL needs ?kk_token=<secret> or /<secret>/ "
        "in front of the path"
    )


# -- a bounded fuzz of the whole pipeline --------------------------------------------------------

_TEXT = st.text(st.characters(codec="latin-1"), max_size=40)
_QUERY = st.lists(
    st.tuples(
        st.sampled_from(["event", "sid", "data", "cid", "kk_token", "status", "kk_sig", "x"]),
        st.one_of(
            st.sampled_from(["NewCall", "GotDTMF", "Hangup", "Record", SECRET, "1", "", "%0A"]),
            _TEXT,
        ),
    ),
    max_size=6,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


def fuzz_app(secret: bool) -> KooKoo:
    app = KooKoo(store=MemoryStore(), secret=SECRET if secret else False)

    @app.on_new_call
    def welcome(event: NewCall, call: Call) -> Response:
        call.state["n"] = 1
        return Response().collect_dtmf(max_digits=1).play_text("menu").response

    @app.on_dtmf(route="/ivr/<lang>")
    def menu(event: GotDTMF, lang: str) -> Response:
        return Response().play_text(f"{lang} {event.digits}").goto_url("next")

    return app


_APPS = {True: fuzz_app(True), False: fuzz_app(False)}


@settings(max_examples=600, derandomize=True)
@given(
    secret=st.booleans(),
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS"]),
    path=st.one_of(
        st.sampled_from(["/", "/ivr/hi", f"/{SECRET}/", f"/{SECRET}/ivr/en", "//x", "/\\x"]),
        _TEXT.map(lambda t: "/" + t),
    ),
    query=_QUERY,
    host=st.sampled_from(["localhost", "evil.example", "", "[::1]:80", "a\r\nb"]),
    forwarded=st.sampled_from([None, "203.0.113.9", "1.1.1.1, 2.2.2.2", "\x00"]),
)
def test_fuzzed_requests_never_crash(
    secret: bool, method: str, path: str, query: str, host: str, forwarded: str | None
) -> None:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "HTTP_HOST": host,
    }
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    statuses: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None

    body = b"".join(_APPS[secret](environ, start_response))
    code = int(statuses[0].split()[0])
    assert code < 500
    if code == 200 and body:
        assert [f for f in lint(body) if f.severity == "error"] == []
    if 400 <= code < 500:
        text = body.decode("utf-8")
        assert text.endswith("\n")
        assert text.count("\n") == 1
        assert len(text) <= 201
        # printable, or a space that shows as one (U+00A0): nothing hides or breaks the line
        assert all(c.isprintable() or unicodedata.category(c) == "Zs" for c in text[:-1])
    if secret and code == 200 and body and SECRET not in query:
        assert path.startswith(f"/{SECRET}")


def test_the_completion_callback_of_an_unanswered_call_runs_but_stores_nothing() -> None:
    from kookoo.protocol.events import CallStatus

    store = MemoryStore()
    app = KooKoo(store=store, secret=SECRET)
    seen: list[str | None] = []

    @app.on(CallStatus, route="/callback")
    def finished(event: CallStatus, call: Call) -> Response:
        seen.append(event.status)
        call.state["x"] = 1
        return Response().hangup()  # KooKoo ignores the reply

    url = app.signed_url("/callback", order="A-17")
    resp = Client(app).post(
        url, data={"sid": "55", "status": "ring", "status_details": "NoAnswer", "phone_no": "1"}
    )
    assert resp.status_code == 200
    assert seen == ["ring"]
    assert len(store) == 0
