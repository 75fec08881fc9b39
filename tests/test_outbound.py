"""kookoo.outbound: the client against the fake KooKoo endpoint over real loopback HTTP, its
errors, the never-twice rule, the key never leaking, numbers, replies, and the pacer."""

from __future__ import annotations

import dataclasses
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pytest
from spies import record_writes
from werkzeug.serving import BaseWSGIServer, make_server

from kookoo import PhoneNumber, Response
from kookoo.outbound import (
    IST,
    SLOTS_NAMESPACE,
    AuthenticationError,
    BadReplyError,
    Busy,
    CallingHoursError,
    CallingWindow,
    Client,
    ConnectError,
    DNDError,
    InvalidNumberError,
    OutboundError,
    OutcomeUnknownError,
    Pacer,
    PacerConflictError,
    PacerTimeout,
    QueuedCall,
    RejectedError,
    ReplyTimeoutError,
    SentSms,
    Slot,
    UnreadableReply,
    caller_id_number,
    classify_message,
    dial_number,
    parse_reply,
    sms_number,
)
from kookoo.state.stores import CallStore, ConflictError, MemoryStore, RedisStore, SQLiteStore
from kookoo.testing.fake_outbound import (
    MESSAGES,
    SMS_CALLING_HOURS_MESSAGE,
    TEST_API_KEY,
    FakeOutbound,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ROOT = Path(__file__).resolve().parent.parent


def ist(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """Unix time of an IST wall-clock time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=IST).timestamp()


@pytest.fixture
def fake() -> FakeOutbound:
    return FakeOutbound()


@pytest.fixture
def base_url(fake: FakeOutbound) -> Iterator[str]:
    with fake.serve() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[Client]:
    with Client(
        TEST_API_KEY, base_url=base_url, timeout=3, connect_timeout=2, backoff_factor=0
    ) as made:
        yield made


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the key ------------------------------------------------------------------------------------


def test_key_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, fake: FakeOutbound, base_url: str
) -> None:
    monkeypatch.setenv("KOOKOO_API_KEY", TEST_API_KEY)
    Client(base_url=base_url).place_call("9876543210")
    assert fake.requests[0].params["api_key"] == TEST_API_KEY


def test_explicit_key_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, fake: FakeOutbound, base_url: str
) -> None:
    monkeypatch.setenv("KOOKOO_API_KEY", "KKfromenvironment")
    Client(TEST_API_KEY, base_url=base_url).place_call("9876543210")
    assert fake.requests[0].params["api_key"] == TEST_API_KEY


def test_no_key_anywhere_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOOKOO_API_KEY", raising=False)
    with pytest.raises(
        ValueError, match=r"pass Client\(api_key=\.\.\.\) or set the KOOKOO_API_KEY"
    ):
        Client()
    monkeypatch.setenv("KOOKOO_API_KEY", "")
    with pytest.raises(ValueError, match="no KooKoo API key"):
        Client()


@pytest.mark.parametrize("key", [" KKabc", "KK abc", "KKabc&x=1", "KKabc\n"])
def test_a_mangled_key_is_refused_without_being_shown(key: str) -> None:
    with pytest.raises(ValueError, match="copy it from KooKoo's dashboard again") as info:
        Client(key)
    assert key.strip() not in str(info.value)


def test_repr_hides_the_key(base_url: str) -> None:
    made = Client(TEST_API_KEY, base_url=base_url)
    assert repr(made) == f"Client(base_url={base_url!r}, api_key=<hidden>)"


def test_base_url_without_trailing_slash(fake: FakeOutbound, base_url: str) -> None:
    Client(TEST_API_KEY, base_url=base_url.rstrip("/")).place_call("9876543210")
    assert fake.requests[0].path == "/outbound/outbound.php"


@pytest.mark.parametrize("bad", ["www.kookoo.in/outbound", "ftp://kookoo.in/", ""])
def test_bad_base_url(bad: str) -> None:
    with pytest.raises(ValueError, match="base_url must be an absolute http"):
        Client(TEST_API_KEY, base_url=bad)


# -- place_call: every §4.1 parameter -----------------------------------------------------------


def test_minimal_call_sends_key_number_and_version_2(fake: FakeOutbound, client: Client) -> None:
    queued = client.place_call("9876543210")
    (request,) = fake.requests
    assert request.method == "GET"
    assert request.path == "/outbound/outbound.php"
    assert parse_qsl(request.query) == [
        ("api_key", TEST_API_KEY),
        ("phone_no", "09876543210"),
        ("outbound_version", "2"),
    ]
    assert queued == QueuedCall(sid=fake.calls[0].sid, phone_no="09876543210", status="queued")
    assert queued.raw == request.body
    with pytest.raises(dataclasses.FrozenInstanceError):
        queued.sid = "1"  # type: ignore[misc]


def test_url_is_sent_with_its_own_query(fake: FakeOutbound, client: Client) -> None:
    url = "https://ivr.example.in/remind?patient=42&lang=hi"
    client.place_call("9876543210", url=url)
    assert fake.requests[0].params["url"] == url
    assert fake.calls[0].url == url


def test_extra_data_from_a_builder_is_serialised_without_declaration(
    fake: FakeOutbound, client: Client
) -> None:
    reply = Response().play_text("Your appointment is at 10").hangup()
    client.place_call("9876543210", extra_data=reply)
    assert fake.requests[0].params["extra_data"] == (
        "<response><playtext>Your appointment is at 10</playtext><hangup/></response>"
    )
    assert "url" not in fake.requests[0].params


def test_extra_data_text_is_sent_verbatim(fake: FakeOutbound, client: Client) -> None:
    xml = "<response><dial>04034653456</dial></response>"  # KooKoo's click-to-call sample
    client.place_call("9876543210", extra_data=xml)
    assert fake.requests[0].params["extra_data"] == xml


def test_extra_data_that_is_not_xml_is_refused_before_sending(
    fake: FakeOutbound, client: Client
) -> None:
    with pytest.raises(ValueError, match="extra_data is not KooKoo XML"):
        client.place_call("9876543210", extra_data="<response><playtext>Hi</response>")
    with pytest.raises(TypeError, match="extra_data must be a Response or str"):
        client.place_call("9876543210", extra_data=b"<response/>")  # type: ignore[arg-type]
    assert fake.requests == []


def test_url_and_extra_data_exclude_each_other(fake: FakeOutbound, client: Client) -> None:
    with pytest.raises(ValueError, match="url or extra_data, not both"):
        client.place_call("9876543210", url="https://a.in/", extra_data=Response().hangup())
    assert fake.requests == []


@pytest.mark.parametrize(
    "caller_id", ["918049202255", "08049202255", "+91 80492 02255", PhoneNumber.parse("8049202255")]
)
def test_caller_id_is_sent_as_91_and_ten_digits(
    fake: FakeOutbound, client: Client, caller_id: PhoneNumber | str
) -> None:
    client.place_call("9876543210", caller_id=caller_id)
    assert fake.requests[0].params["caller_id"] == "918049202255"


def test_callback_url_is_sent(fake: FakeOutbound, client: Client) -> None:
    client.place_call("9876543210", callback_url="https://ivr.example.in/ended?batch=7")
    assert fake.requests[0].params["callback_url"] == "https://ivr.example.in/ended?batch=7"


def test_every_parameter_together_in_protocol_order(fake: FakeOutbound, client: Client) -> None:
    client.place_call(
        PhoneNumber.parse("+919876543210"),
        url="https://ivr.example.in/remind?p=1",
        caller_id="918049202255",
        callback_url="https://ivr.example.in/ended",
    )
    assert parse_qsl(fake.requests[0].query) == [
        ("api_key", TEST_API_KEY),
        ("phone_no", "09876543210"),
        ("outbound_version", "2"),
        ("url", "https://ivr.example.in/remind?p=1"),
        ("caller_id", "918049202255"),
        ("callback_url", "https://ivr.example.in/ended"),
    ]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("9876543210", "09876543210"),
        ("09876543210", "09876543210"),
        ("919876543210", "09876543210"),
        ("+91 98765-43210", "09876543210"),
        ("0091 9876543210", "09876543210"),
        (PhoneNumber.parse("919876543210"), "09876543210"),
        ("04034653456", "04034653456"),  # a landline with its STD code
        ("+44 20 7946 0000", "00442079460000"),  # international: 00, never +
        ("0044 20 7946 0000", "00442079460000"),
    ],
)
def test_phone_no_is_sent_as_kookoo_dials_it(
    fake: FakeOutbound, client: Client, given: PhoneNumber | str, sent: str
) -> None:
    assert client.place_call(given).phone_no == sent
    assert fake.requests[0].params["phone_no"] == sent


@pytest.mark.parametrize("bad", ["12345", "+91 12345", "", "0000", PhoneNumber.parse("0000")])
def test_undiallable_numbers_are_refused_before_sending(
    fake: FakeOutbound, client: Client, bad: PhoneNumber | str
) -> None:
    with pytest.raises(ValueError, match=r"phone_no '.*' is not a number KooKoo can dial"):
        client.place_call(bad)
    assert fake.requests == []


def test_phone_no_of_another_type_is_a_type_error(client: Client) -> None:
    with pytest.raises(TypeError, match="phone_no must be a PhoneNumber or str, not int"):
        client.place_call(9876543210)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [("url", "/relative/path"), ("url", "ftp://x.in/a"), ("callback_url", "ivr.example.in/cb")],
)
def test_urls_must_be_absolute_http(
    fake: FakeOutbound, client: Client, field: str, value: str
) -> None:
    with pytest.raises(ValueError, match=f"{field} must be an absolute http"):
        client.place_call("9876543210", **{field: value})
    assert fake.requests == []


def test_bad_caller_id_names_the_field(client: Client) -> None:
    with pytest.raises(ValueError, match="caller_id '1234' is not one of your KooKoo numbers"):
        client.place_call("9876543210", caller_id="1234")


def test_request_root_reply_is_read(base_url: str) -> None:
    fake = FakeOutbound(root="request")
    with fake.serve() as url:
        queued = Client(TEST_API_KEY, base_url=url).place_call("9876543210")
    assert queued.sid == fake.calls[0].sid
    assert queued.raw.startswith(b"<request><status>queued</status>")


# -- send_sms: every §4.3 parameter ---------------------------------------------------------------


def test_sms_sends_key_ten_digits_and_message(fake: FakeOutbound, client: Client) -> None:
    sent = client.send_sms("+91 98765 43210", "Your visit is confirmed for 10 am.")
    (request,) = fake.requests
    assert request.path == "/outbound/outbound_sms.php"
    assert parse_qsl(request.query) == [
        ("api_key", TEST_API_KEY),
        ("phone_no", "9876543210"),
        ("message", "Your visit is confirmed for 10 am."),
    ]
    assert sent == SentSms(
        phone_no="9876543210", status="success", message="Message sent successfully"
    )


def test_sms_sender_id_is_sent_as_senderid(fake: FakeOutbound, client: Client) -> None:
    client.send_sms("9876543210", "Hello", sender_id="KOOKOO")
    assert fake.requests[0].params["senderid"] == "KOOKOO"


def test_sms_text_survives_encoding(fake: FakeOutbound, client: Client) -> None:
    text = "नमस्ते! 10:30 & 50% off\r\nBon Voyage :)"
    client.send_sms(PhoneNumber.parse("09876543210"), text)
    assert fake.sms[0]["message"] == text


@pytest.mark.parametrize(
    ("number", "message", "error", "match"),
    [
        ("9876543210", "", ValueError, "message is empty"),
        ("9876543210", "   ", ValueError, "message is empty"),
        ("9876543210", 5, TypeError, "message must be a str"),
        ("+442079460000", "Hi", ValueError, "KooKoo's SMS API sends to Indian numbers"),
    ],
)
def test_sms_bad_arguments(
    fake: FakeOutbound,
    client: Client,
    number: str,
    message: object,
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        client.send_sms(number, message)  # type: ignore[arg-type]
    assert fake.requests == []


def test_sms_empty_sender_id_is_refused(client: Client) -> None:
    with pytest.raises(ValueError, match="sender_id must be a non-empty str"):
        client.send_sms("9876543210", "Hi", sender_id="")


# -- KooKoo's refusals ----------------------------------------------------------------------------

REJECTIONS = [
    ("dnd", DNDError, "dnd", True),
    ("calling_hours", CallingHoursError, "calling_hours", False),
    ("invalid_number", InvalidNumberError, "invalid_number", True),
    ("other", RejectedError, "other", False),
]


@pytest.mark.parametrize(("outcome", "error", "reason", "permanent"), REJECTIONS)
def test_call_rejections_are_typed_and_carry_kookoos_message(
    fake: FakeOutbound,
    client: Client,
    outcome: str,
    error: type[RejectedError],
    reason: str,
    permanent: bool,
) -> None:
    fake.on_number("9876543210", outcome)  # type: ignore[arg-type]
    with pytest.raises(error) as info:
        client.place_call("9876543210")
    rejected = info.value
    assert type(rejected) is error
    assert rejected.message == MESSAGES[outcome]
    assert rejected.reason == reason
    assert rejected.permanent is permanent
    assert rejected.retryable is False
    assert rejected.api == "call"
    assert rejected.phone_no == "09876543210"
    assert rejected.status == "error"
    assert rejected.raw == fake.requests[0].body
    assert str(rejected).startswith(f"KooKoo refused the call to 09876543210: {MESSAGES[outcome]}")
    assert fake.calls == []


def test_wrong_key_is_an_authentication_error(fake: FakeOutbound, base_url: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        Client("KKffffffffffffffffffffffffffffffff", base_url=base_url).place_call("9876543210")
    assert info.value.message == "Authentication error"
    assert info.value.reason == "authentication"
    assert info.value.permanent is True
    assert str(info.value).endswith("(check the API key, KOOKOO_API_KEY)")


@pytest.mark.parametrize(("outcome", "error", "reason", "permanent"), REJECTIONS)
def test_sms_rejections_are_typed(
    fake: FakeOutbound,
    client: Client,
    outcome: str,
    error: type[RejectedError],
    reason: str,
    permanent: bool,
) -> None:
    fake.on_number("9876543210", outcome)  # type: ignore[arg-type]
    with pytest.raises(error) as info:
        client.send_sms("9876543210", "Hi")
    assert info.value.api == "sms"
    assert info.value.reason == reason
    expected = SMS_CALLING_HOURS_MESSAGE if outcome == "calling_hours" else MESSAGES[outcome]
    assert info.value.message == expected
    assert str(info.value).startswith("KooKoo refused the SMS to 9876543210")


def test_kookoo_refuses_outside_the_window(base_url: str) -> None:
    fake = FakeOutbound(window=CallingWindow(), clock=lambda: ist(2026, 12, 2, 21, 30))
    with fake.serve() as url, pytest.raises(CallingHoursError) as info:
        Client(TEST_API_KEY, base_url=url).place_call("9876543210")
    assert info.value.message == "Calls will not be made between 9PM to 9AM."
    assert str(info.value).endswith("(KooKoo dials between 9 am and 9 pm IST)")


def test_custom_message_is_classified(fake: FakeOutbound, client: Client) -> None:
    fake.on_number("9876543210", "other", message="Number is registered under DND")
    with pytest.raises(DNDError, match="Number is registered under DND"):
        client.place_call("9876543210")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Authentication error", "authentication"),
        ("Invalid API key", "authentication"),
        ("Phone number in DND list", "dnd"),
        ("Number is in NDNC registry", "dnd"),
        ("Calls will not be made between 9PM to 9AM.", "calling_hours"),
        ("Cannot process the request before your working start hour.", "calling_hours"),
        ("Invalid phone number", "invalid_number"),
        ("phone number is invalid", "invalid_number"),
        ("Insufficient balance", "other"),
        ("", "other"),
    ],
)
def test_classify_message(message: str, reason: str) -> None:
    assert classify_message(message) == reason


# -- replies nobody can read --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "http_status", "match"),
    [
        (b"", 200, "the reply is empty"),
        (b"   \n", 200, "the reply is empty"),
        (b"queued 123", 200, "the reply is not XML: 'queued 123'"),
        (b"<html><body>Server error</body></html>", 200, "has no <status> element"),
        (b"<response><message>123</message></response>", 200, r"no <status> element \(root"),
        (b"<response><status>pending</status><message>1</message></response>", 200, "'pending'"),
        (b"<response><status>queued</status><message> </message></response>", 200, "no call sid"),
        (b"<response><status>queued</status></response>", 200, "no call sid"),
        (b"<<<>>>", 200, "not XML KooKoo sends"),
        (b'{"status": 1}', 200, "JSON reply has no status"),
        (b"{nope", 200, "neither XML nor JSON"),
        (b"<html>Bad gateway</html>", 502, "KooKoo answered HTTP 502"),
        (b"", 301, "KooKoo answered HTTP 301"),
    ],
)
def test_unreadable_replies_are_bad_reply_errors(
    fake: FakeOutbound, client: Client, body: bytes, http_status: int, match: str
) -> None:
    fake.on_number("9876543210", "raw", body=body, http_status=http_status)
    with pytest.raises(BadReplyError, match=match) as info:
        client.place_call("9876543210")
    error = info.value
    assert isinstance(error, OutcomeUnknownError)
    assert error.retryable is False
    assert error.http_status == http_status
    assert error.raw == body
    if "sid" in match:
        assert str(error).endswith("the call is placed, but its NewCall and callback cannot be "
                                   "matched to it")  # fmt: skip
    else:
        tail = "the call to 09876543210 may have been placed, so it is not retried"
        assert str(error).endswith(tail)
    assert len(fake.requests) == 1


def test_redirects_are_not_followed(base_url: str) -> None:
    hops: list[str] = []

    def redirecting(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        hops.append(environ["PATH_INFO"])
        location = f"https://elsewhere.example/outbound.php?{environ['QUERY_STRING']}"
        start_response("302 Found", [("Location", location)])
        return [b""]

    server = make_server("127.0.0.1", 0, redirecting)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        redirected = Client(TEST_API_KEY, base_url=f"http://127.0.0.1:{server.port}/")
        with pytest.raises(BadReplyError, match="redirecting to https://elsewhere") as info:
            redirected.place_call("9876543210")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert hops == ["/outbound.php"]
    assert "api_key=***" in str(info.value)
    assert TEST_API_KEY not in str(info.value)


@pytest.mark.parametrize(
    ("body", "status", "sid"),
    [
        (b"<request><status>queued</status><message>77</message></request>", "queued", "77"),
        (b"<response><status>success</status><message>BLA</message></response>", "success", "BLA"),
        (b"<Response><Status>Queued</Status><Message> 88 </Message></Response>", "queued", "88"),
        (
            b"\xef\xbb\xbf<?xml version='1.0'?>\n<response>\n <status>queued</status>\n"
            b" <message>99</message>\n</response>\n",
            "queued",
            "99",
        ),
        (b'{"status": "queued", "message": "123"}', "queued", "123"),
    ],
)
def test_lenient_replies_are_read(
    fake: FakeOutbound, client: Client, body: bytes, status: str, sid: str
) -> None:
    fake.on_number("9876543210", "raw", body=body)
    queued = client.place_call("9876543210")
    assert (queued.sid, queued.status, queued.raw) == (sid, status, body)


def test_an_error_with_a_non_200_status_is_still_kookoos_refusal(
    fake: FakeOutbound, client: Client
) -> None:
    body = b"<response><status>error</status><message>Authentication error</message></response>"
    fake.on_number("9876543210", "raw", body=body, http_status=403)
    with pytest.raises(AuthenticationError):
        client.place_call("9876543210")


def test_unescaped_ampersand_in_a_message_is_recovered() -> None:
    reply = parse_reply(b"<response><status>error</status><message>A & B</message></response>")
    assert reply.refused
    assert reply.message.startswith("A")


def test_parse_reply_refuses_huge_bodies() -> None:
    with pytest.raises(UnreadableReply, match="far more than a status"):
        parse_reply(b"<r>" + b"x" * 70_000 + b"</r>")


# -- the network: retries before sending, never after -------------------------------------------


def test_retry_policy_is_connect_only() -> None:
    made = Client(TEST_API_KEY, connect_retries=4, backoff_factor=0.25)
    assert (made.retry.connect, made.retry.read, made.retry.status, made.retry.other) == (
        4,
        False,
        0,
        0,
    )
    assert made.retry.redirect == 0  # urllib3 spells False as 0
    assert made.retry.backoff_factor == 0.25


def test_refused_connection_is_retried_then_a_connect_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    refused = Client(
        TEST_API_KEY, base_url=f"http://127.0.0.1:{port}/outbound/", connect_retries=2,
        backoff_factor=0.01,
    )  # fmt: skip
    with pytest.raises(ConnectError) as info:
        refused.place_call("9876543210")
    error = info.value
    assert error.retryable is True
    assert error.permanent is False
    assert error.attempts == 3
    assert error.timed_out is False
    assert "Connection refused" in error.cause
    assert str(error).startswith(
        f"could not reach KooKoo at http://127.0.0.1:{port}/outbound/outbound.php after 3 attempts"
    )
    retries = [
        r for r in caplog.records if r.name == "urllib3.connectionpool" and "Retrying" in r.msg
    ]
    assert len(retries) == 2
    assert TEST_API_KEY not in caplog.text
    assert error.__cause__ is None
    assert error.__context__ is None


def test_connection_retried_until_kookoo_is_up_places_exactly_one_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The fake starts listening while urllib3 logs its first retry (synchronously, before the
    second attempt), so the first attempt is refused and the second one gets through."""
    fake = FakeOutbound()
    port = free_port()
    started: list[tuple[BaseWSGIServer, threading.Thread]] = []

    class StartOnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "Retrying" in str(record.msg) and not started:
                server = make_server("127.0.0.1", port, fake, threaded=True)
                thread = threading.Thread(
                    target=server.serve_forever, kwargs={"poll_interval": 0.05}
                )
                thread.start()
                started.append((server, thread))

    handler = StartOnRetry()
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    urllib3_log.addHandler(handler)
    try:
        queued = Client(
            TEST_API_KEY, base_url=f"http://127.0.0.1:{port}/outbound/", connect_retries=3,
            backoff_factor=0.01,
        ).place_call("9876543210")  # fmt: skip
    finally:
        urllib3_log.removeHandler(handler)
        for server, thread in started:
            server.shutdown()
            server.server_close()
            thread.join(5)
    assert len(started) == 1
    assert len(fake.requests) == 1
    assert queued.sid == fake.calls[0].sid


def test_timeout_after_sending_is_not_retried(fake: FakeOutbound, base_url: str) -> None:
    fake.on_number("9876543210", "stall")
    impatient = Client(TEST_API_KEY, base_url=base_url, timeout=0.3, connect_retries=5)
    began = time.monotonic()
    with pytest.raises(ReplyTimeoutError) as info:
        impatient.place_call("9876543210")
    took = time.monotonic() - began
    error = info.value
    assert isinstance(error, OutcomeUnknownError)
    assert error.retryable is False
    assert error.permanent is False
    assert str(error) == (
        "KooKoo did not answer within 0.3 s; the call to 09876543210 may have been placed, "
        "so it is not retried"
    )
    assert 0.3 <= took < 5
    assert len(fake.requests) == 1  # exactly one request reached "KooKoo"
    fake.release_stalled()
    # The client is still usable, and what it sends next is the only other request.
    fake.on_number("9876543210", "queued")
    impatient.place_call("9876543210")
    assert [r.params["phone_no"] for r in fake.requests] == ["09876543210", "09876543210"]


def test_connection_closed_after_sending_is_not_retried(fake: FakeOutbound, client: Client) -> None:
    fake.on_number("9876543210", "drop")
    with pytest.raises(OutcomeUnknownError) as info:
        client.place_call("9876543210")
    assert type(info.value) is OutcomeUnknownError
    assert "Remote end closed connection without response" in info.value.cause
    assert len(fake.requests) == 1
    assert fake.requests[0].outcome == "drop"


def test_sms_timeout_is_not_retried_either(fake: FakeOutbound, base_url: str) -> None:
    fake.on_number("9876543210", "stall")
    with pytest.raises(ReplyTimeoutError, match="the SMS to 9876543210 may have been placed"):
        Client(TEST_API_KEY, base_url=base_url, timeout=0.3).send_sms("9876543210", "Hi")
    assert len(fake.requests) == 1


# -- the key never leaks ------------------------------------------------------------------------


def test_the_key_never_appears_in_errors_results_or_logs(
    caplog: pytest.LogCaptureFixture, fake: FakeOutbound, base_url: str
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "urllib3.util.retry", "kookoo", "werkzeug"):
        caplog.set_level(logging.DEBUG, logger=name)
    key = TEST_API_KEY
    made = Client(key, base_url=base_url, timeout=0.3, connect_retries=1, backoff_factor=0)
    echo = f"<response><status>error</status><message>Bad key {key}</message></response>"
    fake.on_number("9000000001", "dnd")
    fake.on_number("9000000002", "stall")
    fake.on_number("9000000003", "drop")
    fake.on_number("9000000004", "raw", body=echo.encode())
    fake.on_number("9000000005", "raw", body=f"<html>{key}</html>".encode(), http_status=500)
    seen: list[object] = [made]
    seen.append(made.place_call("9876543210", url="https://a.in/x", callback_url="https://a.in/y"))
    seen.append(made.send_sms("9876543210", "Hi"))
    for number in ("9000000001", "9000000002", "9000000003", "9000000004", "9000000005"):
        with pytest.raises(OutboundError) as info:
            made.place_call(number)
        seen.append(info.value)
    with pytest.raises(AuthenticationError) as auth:
        Client("KKdeadbeefdeadbeefdeadbeefdeadbeef", base_url=base_url).place_call("9876543210")
    seen.append(auth.value)
    refused = Client(key, base_url=f"http://127.0.0.1:{free_port()}/", connect_retries=1)
    with pytest.raises(ConnectError) as connect:
        refused.place_call("9876543210")
    seen.append(connect.value)
    fake.release_stalled()

    texts = [caplog.text]
    texts += [record.getMessage() for record in caplog.records]
    for thing in seen:
        texts += [repr(thing), str(thing)]
        if isinstance(thing, BaseException):
            texts += traceback.format_exception(thing)
            texts += [repr(value) for value in vars(thing).values()]
        elif dataclasses.is_dataclass(thing):
            texts += [repr(value) for value in dataclasses.asdict(thing).values()]  # type: ignore[arg-type]
    assert all(key not in text for text in texts)
    assert any("api_key=***" in record.getMessage() for record in caplog.records)
    # The test can fail: the key really travelled with every request.
    assert all(r.params.get("api_key") in (key, "KKdeadbeefdeadbeefdeadbeefdeadbeef")
               for r in fake.requests)  # fmt: skip
    assert len(seen) == 10


# -- numbers and the window ---------------------------------------------------------------------


def test_number_helpers() -> None:
    assert dial_number(PhoneNumber.parse("+919876543210")) == "09876543210"
    assert sms_number("919876543210") == "9876543210"
    assert caller_id_number(PhoneNumber.parse("08049202255")) == "918049202255"
    with pytest.raises(ValueError, match="phone_no '555' is not an Indian number"):
        sms_number("555")


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        ((2026, 12, 2, 8, 59, 59), False),
        ((2026, 12, 2, 9, 0, 0), True),
        ((2026, 12, 2, 14, 0, 0), True),
        ((2026, 12, 2, 20, 59, 59), True),
        ((2026, 12, 2, 21, 0, 0), False),
        ((2026, 12, 2, 23, 30, 0), False),
        ((2026, 12, 2, 0, 0, 0), False),
    ],
)
def test_calling_window_edges(at: tuple[int, ...], open_: bool) -> None:
    assert CallingWindow().is_open(ist(*at)) is open_


def test_next_open() -> None:
    window = CallingWindow()
    assert window.next_open(ist(2026, 12, 2, 3, 0)) == ist(2026, 12, 2, 9, 0)
    assert window.next_open(ist(2026, 12, 2, 21, 0)) == ist(2026, 12, 3, 9, 0)
    assert window.next_open(ist(2026, 12, 2, 10, 0)) == ist(2026, 12, 2, 10, 0)
    assert window.seconds_until_open(ist(2026, 12, 2, 8, 0)) == 3600
    with pytest.raises(ValueError, match="must start before it ends"):
        CallingWindow(start=datetime(2026, 1, 1, 21).time(), end=datetime(2026, 1, 1, 9).time())


# -- the pacer ----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


NOON = ist(2026, 12, 2, 12, 0)


def make_pacer(store: CallStore, clock: FakeClock, **options: object) -> Pacer:
    settings: dict[str, object] = {"calls_per_second": 2.0, "max_concurrent": 2}
    settings.update(options)
    return Pacer(store, clock=clock, sleep=clock.sleep, **settings)  # type: ignore[arg-type]


def test_pacer_keeps_the_rate() -> None:
    clock = FakeClock(NOON)
    pacer = make_pacer(MemoryStore(), clock, max_concurrent=10)
    assert isinstance(pacer.try_acquire(), Slot)
    assert pacer.try_acquire() == Busy("rate", 0.5, 1)
    clock.now += 0.5
    assert isinstance(pacer.try_acquire(), Slot)
    clock.now += 10  # idle time is not saved up into a burst
    assert isinstance(pacer.try_acquire(), Slot)
    assert pacer.try_acquire() == Busy("rate", 0.5, 3)


def test_pacer_holds_a_slot_until_the_callback_releases_it() -> None:
    clock = FakeClock(NOON)
    pacer = make_pacer(MemoryStore(), clock, calls_per_second=None, slot_timeout=600)
    first = pacer.try_acquire("09876543210")
    second = pacer.try_acquire()
    assert isinstance(first, Slot)
    assert isinstance(second, Slot)
    pacer.bind(first, "111")
    assert pacer.try_acquire() == Busy("concurrency", 600, 2)
    assert [(s.sid, s.phone_no) for s in pacer.slots()] == [("111", "09876543210"), (None, None)]
    assert pacer.release("111") is True
    assert pacer.release("111") is False
    assert isinstance(pacer.try_acquire(), Slot)


def test_pacer_reclaims_slots_whose_callback_never_came() -> None:
    clock = FakeClock(NOON)
    pacer = make_pacer(MemoryStore(), clock, calls_per_second=None, slot_timeout=600)
    for sid in ("1", "2"):
        slot = pacer.try_acquire()
        assert isinstance(slot, Slot)
        pacer.bind(slot, sid)
    clock.now += 599
    assert pacer.try_acquire() == Busy("concurrency", 1, 2)
    clock.now += 1
    assert isinstance(pacer.try_acquire(), Slot)
    assert len(pacer.slots()) == 1


def test_pacer_never_dials_outside_the_window() -> None:
    clock = FakeClock(ist(2026, 12, 2, 21, 0))
    pacer = make_pacer(MemoryStore(), clock)
    assert pacer.try_acquire() == Busy("calling_hours", 12 * 3600, 0)
    with pytest.raises(PacerTimeout, match="calling_hours"):
        pacer.acquire(timeout=3600)
    assert clock.slept == []  # it did not sleep in vain
    slot = pacer.acquire(timeout=13 * 3600)
    assert slot.taken_at == ist(2026, 12, 3, 9, 0)
    assert clock.slept == [12 * 3600]
    assert isinstance(Pacer(MemoryStore(), window=None, clock=clock).try_acquire(), Slot)


def test_acquire_waits_for_the_rate_and_polls_for_concurrency() -> None:
    clock = FakeClock(NOON)
    pacer = make_pacer(MemoryStore(), clock, calls_per_second=0.5, max_concurrent=1,
                       slot_timeout=100, poll_interval=5)  # fmt: skip
    first = pacer.acquire()
    pacer.bind(first, "9")
    with pytest.raises(PacerTimeout, match="concurrency"):
        pacer.acquire(timeout=12)
    assert clock.slept == [5, 5]
    pacer.release("9")
    assert pacer.acquire().taken_at == NOON + 10


def test_release_before_bind_frees_the_slot_at_bind() -> None:
    clock = FakeClock(NOON)
    pacer = make_pacer(MemoryStore(), clock, calls_per_second=None, max_concurrent=1)
    slot = pacer.try_acquire()
    assert isinstance(slot, Slot)
    assert pacer.release("42") is False  # the callback outran place_call's return
    assert pacer.bind(slot, "42").sid == "42"
    assert pacer.slots() == []


def test_pacers_share_slots_by_name_and_store() -> None:
    clock = FakeClock(NOON)
    store = MemoryStore()
    one = make_pacer(store, clock, calls_per_second=None, max_concurrent=1)
    other_worker = make_pacer(store, clock, calls_per_second=None, max_concurrent=1)
    other_campaign = make_pacer(store, clock, calls_per_second=None, max_concurrent=1, name="b")
    assert isinstance(one.try_acquire(), Slot)
    assert isinstance(other_worker.try_acquire(), Busy)
    assert isinstance(other_campaign.try_acquire(), Slot)
    assert len(store.get(SLOTS_NAMESPACE, "default")["slots"]) == 1
    assert len(store.get(SLOTS_NAMESPACE, "b")["slots"]) == 1
    assert len(store) == 0  # no call records: the slots are store values


def test_a_busy_pacer_and_a_read_write_nothing() -> None:
    clock = FakeClock(NOON)
    store = MemoryStore()
    pacer = make_pacer(store, clock, calls_per_second=None, max_concurrent=1)
    assert isinstance(pacer.try_acquire(), Slot)
    writes = record_writes(store)
    for _ in range(3):
        assert isinstance(pacer.try_acquire(), Busy)
    assert len(pacer.slots()) == 1
    assert writes == []
    assert isinstance(Pacer(store, name="idle", window=None).slots(), list)
    assert writes == []


def test_pacer_arguments_are_checked() -> None:
    store = MemoryStore(ttl_seconds=600)
    with pytest.raises(ValueError, match=r"slot_timeout \(1800 s\) exceeds the store's ttl"):
        Pacer(store)
    with pytest.raises(ValueError, match="calls_per_second must be positive"):
        Pacer(store, calls_per_second=0, slot_timeout=60)
    with pytest.raises(ValueError, match="max_concurrent must be at least 1"):
        Pacer(store, max_concurrent=0, slot_timeout=60)


STORES = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.mark.parametrize("kind", STORES)
def test_racing_threads_never_exceed_the_ceiling(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: CallStore
    if kind == "memory":
        store = MemoryStore()
    elif kind == "sqlite":
        store = SQLiteStore(tmp_path / "calls.sqlite3")
    else:
        store = RedisStore(
            request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix")
        )
    clock = FakeClock(NOON)
    pacer = Pacer(store, calls_per_second=None, max_concurrent=5, clock=clock, max_conflicts=1000)
    barrier = threading.Barrier(8)
    granted: list[Slot] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait(timeout=10)
        for _ in range(5):
            got = pacer.try_acquire()
            if isinstance(got, Slot):
                with lock:
                    granted.append(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(granted) == 5
    assert sorted(s.token for s in pacer.slots()) == sorted(s.token for s in granted)
    store.close()


def test_two_processes_share_the_slots_through_sqlite(tmp_path: Path) -> None:
    database = tmp_path / "calls.sqlite3"
    go = tmp_path / "go"
    script = textwrap.dedent(
        f"""
        import os, time
        from kookoo.outbound import Pacer, Slot
        from kookoo.state.stores import SQLiteStore
        pacer = Pacer(SQLiteStore({str(database)!r}), calls_per_second=None, max_concurrent=6,
                      window=None, max_conflicts=1000)
        deadline = time.monotonic() + 20
        while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:
            time.sleep(0.005)
        print(sum(isinstance(pacer.try_acquire(), Slot) for _ in range(10)))
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    go.touch()
    counts = [int(proc.communicate(timeout=60)[0]) for proc in procs]
    assert sum(counts) == 6
    pacer = Pacer(SQLiteStore(database), window=None)
    assert len(pacer.slots()) == 6


def test_pacer_place_call_binds_and_frees(fake: FakeOutbound, client: Client) -> None:
    clock = FakeClock(NOON)
    pacer = make_pacer(MemoryStore(), clock, calls_per_second=None, max_concurrent=3)
    queued = pacer.place_call(client, "9876543210", url="https://a.in/x")
    assert [s.sid for s in pacer.slots()] == [queued.sid]
    fake.on_number("9000000001", "dnd")
    with pytest.raises(DNDError):
        pacer.place_call(client, "9000000001")
    assert len(pacer.slots()) == 1  # a refused call frees its slot at once
    fake.on_number("9000000002", "drop")
    with pytest.raises(OutcomeUnknownError):
        pacer.place_call(client, "9000000002")
    # A call that may be ringing keeps its slot until the timeout.
    assert [(s.sid, s.phone_no) for s in pacer.slots()] == [
        (queued.sid, "09876543210"),
        (None, "09000000002"),
    ]
    with pytest.raises(ValueError, match="not a number KooKoo can dial"):
        pacer.place_call(client, "123")
    assert len(pacer.slots()) == 2
    assert pacer.release(queued.sid) is True
    assert [s.phone_no for s in pacer.slots()] == ["09000000002"]


@pytest.mark.parametrize(
    "error",
    [
        DNDError("Phone number in DND list", api="call", phone_no="09876543210", raw=b"<r/>"),
        ConnectError("down", api="sms", cause="refused", attempts=4, timed_out=True),
        ReplyTimeoutError("late", api="call", phone_no="0", cause="ReadTimeoutError"),
        BadReplyError("odd", api="call", http_status=502, raw=b"x"),
    ],
)
def test_errors_survive_pickling_for_task_queues(error: OutboundError) -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)


@pytest.mark.parametrize("base", [MemoryStore, SQLiteStore])
def test_a_lost_compare_and_set_race_is_retried_on_fresh_state(
    base: type[MemoryStore] | type[SQLiteStore], tmp_path: Path
) -> None:
    """Another worker takes the last slot between this pacer's load and its save: the save
    conflicts, the pacer reloads, sees the slot taken and answers Busy instead of overbooking."""

    class Interfering(base):  # type: ignore[valid-type,misc]
        hook: object = None
        conflicts = 0

        def write_value(self, *args: Any) -> bool:
            hook, self.hook = self.hook, None
            if callable(hook):
                hook()
            won: bool = super().write_value(*args)
            self.conflicts += not won
            return won

    store = Interfering() if base is MemoryStore else Interfering(tmp_path / "calls.sqlite3")
    clock = FakeClock(NOON)
    mine = make_pacer(store, clock, calls_per_second=None, max_concurrent=1)
    theirs = make_pacer(store, clock, calls_per_second=None, max_concurrent=1)
    taken: list[Slot | Busy] = []
    store.hook = lambda: taken.append(theirs.try_acquire())
    got = mine.try_acquire()
    assert isinstance(taken[0], Slot)
    assert got == Busy("concurrency", 1800, 1)
    assert store.conflicts == 1
    assert [s.token for s in mine.slots()] == [taken[0].token]


def test_pacer_gives_up_after_max_conflicts() -> None:
    class AlwaysLosing(MemoryStore):
        writes = 0

        def write_value(self, *args: Any) -> bool:
            self.writes += 1
            return False

    store = AlwaysLosing()
    pacer = Pacer(store, window=None, max_conflicts=3)
    with pytest.raises(PacerConflictError, match="after 3 lost compare-and-set races") as caught:
        pacer.try_acquire()
    assert store.writes == 3
    assert isinstance(caught.value.__cause__, ConflictError)


def test_bind_after_the_slot_timed_out_does_not_resurrect_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(NOON)
    pacer = make_pacer(MemoryStore(), clock, slot_timeout=60)
    slot = pacer.try_acquire()
    assert isinstance(slot, Slot)
    clock.now += 61
    with caplog.at_level(logging.INFO, logger="kookoo.outbound"):
        assert pacer.bind(slot, "77").sid == "77"
    assert pacer.slots() == []
    assert [r.getMessage() for r in caplog.records] == [
        "outbound slot of call (not dialled) reclaimed after its timeout (no callback came)",
        "outbound slot for call 77 timed out before its sid was bound; the call holds no slot",
    ]
