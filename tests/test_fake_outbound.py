"""kookoo.testing.fake_outbound: the fake KooKoo outbound endpoint, in-process over WSGI and
served on loopback, and the outbound calls it plays into apps (NewCall, key presses, the callback
POST)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client as WerkzeugClient
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as HTTPResponse

from kookoo import GotDTMF, KooKoo, NewCall, Response
from kookoo.outbound import IST, Client, Pacer, Slot
from kookoo.state.stores import MemoryStore
from kookoo.testing import DEFAULT_CALLED_NUMBER
from kookoo.testing.fake_outbound import (
    DEFAULT_CALLER_ID,
    MESSAGES,
    TEST_API_KEY,
    CallbackResult,
    FakeOutbound,
    QueuedFakeCall,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 2, 11, 0, 0, tzinfo=IST).timestamp()


def get(fake: FakeOutbound, path: str, **params: str) -> tuple[int, bytes]:
    response = WerkzeugClient(fake).get(f"{path}?{urlencode(params)}")
    try:
        return response.status_code, response.get_data()
    finally:
        response.close()


class Recorder:
    """A WSGI app that records each request (method, path, query, form) and answers OK."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        self.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "args": dict(request.args),
                "form": dict(request.form),
                "content_type": request.content_type,
            }
        )
        return HTTPResponse("OK", content_type="text/plain")(environ, start_response)


def reminder_app(route: str = "/remind") -> KooKoo:
    """Asks the person to press 1 or 2; remembers what the app saw in ``app.seen``."""
    app = KooKoo(store=False)
    seen: list[tuple[str | None, ...]] = []

    @app.on_new_call(route=route)
    def greet(event: NewCall) -> Response:
        seen.append(("NewCall", event.sid, str(event.is_outbound), event.params.get("visit", "")))
        reply = Response()
        reply.collect_dtmf(max_digits=1).play_text("Press 1 to confirm, 2 to cancel")
        return reply

    @app.on_dtmf(route=route)
    def choose(event: GotDTMF) -> Response:
        seen.append(("GotDTMF", event.digits))
        return Response().play_text("Thank you").hangup()

    app.seen = seen  # type: ignore[attr-defined]
    return app


@pytest.fixture
def fake() -> FakeOutbound:
    return FakeOutbound(clock=lambda: NOW)


@pytest.fixture
def client(fake: FakeOutbound) -> Iterator[Client]:
    with fake.serve() as base_url:
        yield Client(TEST_API_KEY, base_url=base_url)


# -- the endpoint over WSGI -------------------------------------------------------------------


def test_queues_a_call_in_process(fake: FakeOutbound) -> None:
    status, body = get(
        fake, "/outbound/outbound.php", api_key=TEST_API_KEY, phone_no="09876543210",
        outbound_version="2", url="http://app.in/ivr?x=1",
    )  # fmt: skip
    assert status == 200
    assert body == (
        b"<response><status>queued</status><message>2470213640781001</message></response>"
    )
    assert fake.calls == [
        QueuedFakeCall(
            sid="2470213640781001",
            phone_no="09876543210",
            url="http://app.in/ivr?x=1",
            extra_data=None,
            caller_id=None,
            callback_url=None,
            params={
                "api_key": TEST_API_KEY,
                "phone_no": "09876543210",
                "outbound_version": "2",
                "url": "http://app.in/ivr?x=1",
            },
        )
    ]
    (request,) = fake.requests
    assert (request.api, request.method, request.outcome, request.status) == (
        "call",
        "GET",
        "queued",
        200,
    )


def test_sids_count_up(fake: FakeOutbound) -> None:
    for _ in range(3):
        get(fake, "/outbound/outbound.php", api_key=TEST_API_KEY, phone_no="9876543210")
    assert [c.sid for c in fake.calls] == [
        "2470213640781001",
        "2470213640781002",
        "2470213640781003",
    ]
    assert fake.call().sid == "2470213640781003"
    assert fake.call("2470213640781002").sid == "2470213640781002"
    with pytest.raises(LookupError, match="no call with sid '1'"):
        fake.call("1")
    with pytest.raises(LookupError, match="queued no call yet"):
        FakeOutbound().call()


def test_sms_in_process(fake: FakeOutbound) -> None:
    status, body = get(
        fake, "/outbound/outbound_sms.php", api_key=TEST_API_KEY, phone_no="9876543210",
        message="Hi", senderid="KOOKOO",
    )  # fmt: skip
    assert (status, body) == (
        200,
        b"<response><status>success</status><message>Message sent successfully</message>"
        b"</response>",
    )
    assert fake.sms == [
        {"api_key": TEST_API_KEY, "phone_no": "9876543210", "message": "Hi", "senderid": "KOOKOO"}
    ]


@pytest.mark.parametrize("outcome", sorted(MESSAGES))
def test_each_error_kind_in_kookoos_words(fake: FakeOutbound, outcome: str) -> None:
    fake.on_number("+91 98765 43210", outcome)  # type: ignore[arg-type]
    status, body = get(fake, "/outbound/outbound.php", api_key=TEST_API_KEY, phone_no="09876543210")
    assert status == 200  # KooKoo answers errors with HTTP 200
    assert (
        body
        == (
            f"<response><status>error</status><message>{MESSAGES[outcome]}</message></response>"
        ).encode()
    )
    assert fake.calls == []
    # Other numbers are not affected.
    _, body = get(fake, "/outbound/outbound.php", api_key=TEST_API_KEY, phone_no="09123456789")
    assert b"<status>queued</status>" in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"phone_no": "09876543210"}, b"Authentication error"),
        ({"api_key": "KKwrong", "phone_no": "09876543210"}, b"Authentication error"),
        ({"api_key": TEST_API_KEY}, b"phone_no is mandatory"),
        ({"api_key": TEST_API_KEY, "phone_no": "12345"}, b"Invalid phone number"),
    ],
)
def test_requests_kookoo_would_refuse(
    fake: FakeOutbound, params: dict[str, str], message: bytes
) -> None:
    _, body = get(fake, "/outbound/outbound.php", **params)
    assert body == b"<response><status>error</status><message>" + message + b"</message></response>"


def test_request_root(fake: FakeOutbound) -> None:
    other = FakeOutbound(root="request")
    _, body = get(other, "/outbound/outbound.php", api_key=TEST_API_KEY, phone_no="9876543210")
    assert body.startswith(b"<request><status>queued</status>")


def test_raw_outcome_and_unknown_paths(fake: FakeOutbound) -> None:
    fake.on_number("9876543210", "raw", body=b"<html>oops</html>", http_status=503)
    assert get(fake, "/outbound/outbound.php", api_key=TEST_API_KEY, phone_no="9876543210") == (
        503,
        b"<html>oops</html>",
    )
    assert get(fake, "/outbound/other.php")[0] == 404
    assert fake.requests[-1].api == "unknown"


def test_drop_needs_a_served_fake(fake: FakeOutbound) -> None:
    fake.on_number("9876543210", "drop")
    with pytest.raises(RuntimeError, match="needs a served fake"):
        get(fake, "/outbound/outbound.php", api_key=TEST_API_KEY, phone_no="9876543210")


def test_unknown_outcome_is_refused(fake: FakeOutbound) -> None:
    with pytest.raises(ValueError, match="outcome must be one of"):
        fake.on_number("9876543210", "busy")  # type: ignore[arg-type]


def test_serves_on_loopback_only(fake: FakeOutbound) -> None:
    with pytest.raises(ValueError, match="loopback only"), fake.serve("0.0.0.0"):
        pass


# -- playing the call into an app -------------------------------------------------------------


def test_answered_call_in_process_then_callback(fake: FakeOutbound, client: Client) -> None:
    app = reminder_app()
    callbacks = Recorder()
    queued = client.place_call(
        "9876543210",
        url="http://ivr.example.in/remind?visit=7",
        caller_id="918049202255",
        callback_url="http://ivr.example.in/ended?batch=3",
    )
    played = fake.answer(queued.sid, app, callback_app=callbacks)
    first = played.call.turns[0]
    assert first.url.startswith("http://ivr.example.in/remind?visit=7&event=NewCall&")
    assert first.params == {
        "event": "NewCall",
        "sid": queued.sid,
        "cid": "09876543210",
        "cid_e164": "+919876543210",
        "called_number": "918049202255",
        "circle": "KARNATAKA",
        "operator": "Airtel",
        "outbound_sid": queued.sid,
    }
    assert played.call.heard == ["Press 1 to confirm, 2 to cancel"]
    played.call.press("1")
    assert played.call.ended_by == "app"
    result = played.complete()
    assert app.seen == [("NewCall", queued.sid, "True", "7"), ("GotDTMF", "1")]  # type: ignore[attr-defined]
    fields = {
        "sid": queued.sid,
        "status": "answered",
        "status_details": "NormalCallClearing",
        "caller_id": "918049202255",
        "phone_no": "09876543210",
        "start_time": "2026-12-02 11:00:04",
        "duration": str(played.call.elapsed_seconds),
        "ringing_time": "4",
    }
    assert result == CallbackResult(
        url="http://ivr.example.in/ended?batch=3", fields=fields, status=200, body=b"OK"
    )
    assert callbacks.seen == [
        {
            "method": "POST",
            "path": "/ended",
            "args": {"batch": "3"},
            "form": fields,
            "content_type": "application/x-www-form-urlencoded",
        }
    ]
    assert played.callback is result
    with pytest.raises(RuntimeError, match="already complete"):
        played.complete()


def test_person_hangs_up_while_asked(fake: FakeOutbound, client: Client) -> None:
    callbacks = Recorder()
    queued = client.place_call(
        "9876543210", url="http://ivr.example.in/remind", callback_url="http://x.in/cb"
    )
    played = fake.answer(queued, reminder_app(), callback_app=callbacks)
    played.complete(status_details="CallerHangup")
    hangup = played.call.turns[-1].params
    assert (hangup["event"], hangup["process"]) == ("Hangup", "collectdtmf")
    assert callbacks.seen[0]["form"]["status_details"] == "CallerHangup"


def test_play_in_one_line_and_the_callback_goes_to_the_app(
    fake: FakeOutbound, client: Client
) -> None:
    app = reminder_app()
    posted: list[dict[str, str]] = []

    def combined(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/ended":
            posted.append(dict(Request(environ).form))
            return HTTPResponse("OK")(environ, start_response)
        return app(environ, start_response)

    queued = client.place_call(
        "9876543210", url="http://ivr.example.in/remind", callback_url="http://ivr.example.in/ended"
    )
    played = fake.play(queued.sid, combined, presses=["2"])
    assert app.seen[-1] == ("GotDTMF", "2")  # type: ignore[attr-defined]
    assert posted[0]["sid"] == queued.sid
    assert played.callback is not None
    assert played.callback.status == 200


def test_over_http_app_and_callback_on_loopback(fake: FakeOutbound, client: Client) -> None:
    app = reminder_app()
    callbacks = Recorder()

    def both(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/ended":
            return callbacks(environ, start_response)
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, both, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        queued = client.place_call(
            "9876543210", url=f"{base}/remind?visit=9", callback_url=f"{base}/ended?k=v"
        )
        played = fake.play(queued.sid, presses=["1"])  # no app given: HTTP to the url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert app.seen == [("NewCall", queued.sid, "True", "9"), ("GotDTMF", "1")]  # type: ignore[attr-defined]
    assert played.call.heard == ["Press 1 to confirm, 2 to cancel", "Thank you"]
    assert callbacks.seen[0]["method"] == "POST"
    assert callbacks.seen[0]["args"] == {"k": "v"}
    assert callbacks.seen[0]["form"]["sid"] == queued.sid
    assert played.callback is not None
    assert (played.callback.status, played.callback.body) == (200, b"OK")


def test_not_answered_sends_only_the_callback(fake: FakeOutbound, client: Client) -> None:
    callbacks = Recorder()
    queued = client.place_call(
        "9876543210", url="http://ivr.example.in/remind", callback_url="http://x.in/cb"
    )
    result = fake.not_answered(queued.sid, callback_app=callbacks)
    assert result is not None
    assert callbacks.seen == [
        {
            "method": "POST",
            "path": "/cb",
            "args": {},
            "form": {
                "sid": queued.sid,
                "status": "ring",
                "status_details": "NoAnswer",
                "caller_id": "918065740671",
                "phone_no": "09876543210",
                "start_time": "2026-12-02 11:00:00",
                "duration": "0",
                "ringing_time": "30",
            },
            "content_type": "application/x-www-form-urlencoded",
        }
    ]
    busy = fake.not_answered(queued, status="busy", status_details="Busy", callback_app=callbacks)
    assert busy is not None
    assert callbacks.seen[-1]["form"]["status"] == "busy"


def test_extra_data_call_plays_its_xml(fake: FakeOutbound, client: Client) -> None:
    queued = client.place_call(
        "9876543210", extra_data=Response().play_text("Your visit is at 10").hangup()
    )
    played = fake.answer(queued.sid)
    assert played.call.heard == ["Your visit is at 10"]
    assert played.call.ended_by == "app"
    assert played.complete() is None  # no callback_url: nothing to POST


def test_a_call_with_nothing_to_play_needs_the_app(fake: FakeOutbound, client: Client) -> None:
    queued = client.place_call("9876543210")
    with pytest.raises(ValueError, match="neither url nor extra_data: pass the app"):
        fake.answer(queued.sid)
    played = fake.answer(queued.sid, reminder_app(route="/"))  # the portal's app URL
    assert played.call.turns[0].url.startswith("http://localhost/?event=NewCall&")
    assert played.call.waiting_for == "digits"


def test_the_callback_releases_the_pacer_slot(fake: FakeOutbound, client: Client) -> None:
    store = MemoryStore()
    pacer = Pacer(store, calls_per_second=None, max_concurrent=1, window=None)

    def ended(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        pacer.release(Request(environ).form["sid"])
        return HTTPResponse("OK")(environ, start_response)

    queued = pacer.place_call(
        client, "9876543210", url="http://ivr.example.in/remind", callback_url="http://x.in/cb"
    )
    busy = pacer.try_acquire()
    assert not isinstance(busy, Slot)
    assert busy.reason == "concurrency"
    fake.play(queued.sid, reminder_app(), presses=["1"], callback_app=ended)
    assert pacer.slots() == []
    assert isinstance(pacer.try_acquire(), Slot)


def test_the_fake_and_the_pacer_need_no_urllib3() -> None:
    """kookoo.testing (the fake with it) and the pacer work without the outbound extra; only
    Client needs urllib3."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["urllib3"] = None  # as if kookoo[outbound] were not installed
        import kookoo.testing.fake_outbound, kookoo.outbound
        from kookoo.outbound import Client, Pacer
        try:
            Client("KK0123")
        except ImportError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stderr == ""
    assert done.stdout == "kookoo.outbound.Client needs urllib3: pip install 'kookoo[outbound]'\n"


def test_default_caller_id_is_the_simulators_did() -> None:
    assert DEFAULT_CALLER_ID == DEFAULT_CALLED_NUMBER


def test_the_fake_never_leaves_loopback(fake: FakeOutbound, client: Client) -> None:
    queued = client.place_call(
        "9876543210", url="http://ivr.example.in/remind", callback_url="http://ivr.example.in/e"
    )
    with pytest.raises(
        ValueError, match=re.escape("on loopback only, and url is 'http://ivr.example.in")
    ):
        fake.answer(queued.sid)
    with pytest.raises(
        ValueError, match=re.escape("and callback_url is 'http://ivr.example.in/e'")
    ):
        fake.not_answered(queued.sid)
    with pytest.raises(ValueError, match=re.escape("and app is 'http://10.0.0.1/'")):
        fake.answer(queued.sid, "http://10.0.0.1/")
