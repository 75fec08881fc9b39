from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from kookoo.protocol.events import (
    EVENT_TYPES,
    IST,
    Conference,
    Continue,
    Dial,
    Disconnect,
    Event,
    EventParseError,
    GotDTMF,
    Hangup,
    NewCall,
    NewSms,
    Recognize,
    Record,
    Stream,
    UnknownEvent,
    parse_event,
)
from kookoo.protocol.phone import PhoneNumber

VECTORS = Path(__file__).parent / "data" / "requests.txt"


def _read_vectors() -> dict[str, dict[str, str]]:
    blocks: dict[str, dict[str, str]] = {}
    for chunk in VECTORS.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in chunk.splitlines() if line and not line.startswith("#")]
        if not lines:
            continue
        block = dict(line.split(": ", 1) for line in lines)
        blocks[block["id"]] = block
    return blocks


ALL_VECTORS = _read_vectors()
IVR_VECTORS = {
    vid: block for vid, block in ALL_VECTORS.items() if block["dir"].startswith("KK->APP")
}

# Outbound-call completion callbacks go to the app's callback_url as a form POST with no `event`;
# parse_event reads them as CallStatus (tests/test_events_lenient.py reads these two vectors).
NOT_IVR_EVENTS = {
    "R10": "completion callback POST to callback_url (sid, status, duration)",
    "R11": "completion callback POST to callback_url (status=ring, status_details)",
}

# DOC/SIM templates instantiated with realistic values (placeholders exactly as in the file).
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "R05": {
        "{caller id}": "09704665032",
        "{the number which was called}": "918065740671",
        "{unique id of the call}": "9465281780016373",
        "{telecom circle of the caller}": "ANDHRA+PRADESH",
        "{the telecom operator of the caller}": "Airtel",
    },
    "R06": {"{the digits entered by the caller}": "1234", "{call id}": "9465281780016373"},
    "R08": {"<outbound API message>": "21275806501458167"},
    "R09": {"<sid>": "21275806501458167"},
    "R19": {
        "<sid>": "9465281780016373",
        "<answered|not_answered>": "answered",
        "<dial recording url | -1 | empty>": "http://recordings.kookoo.in/demo/dial_123.mp3",
        "<seconds>": "37",
        "<reason>": "NormalCallClearing",
    },
    "R28": {
        "sid=..": "sid=9465281780016373",
        "<recording url>": "http://recordings.kookoo.in/demo/rec_123.wav",
        "<s>": "12",
    },
}

EXPECTED: dict[str, tuple[type[Event], dict[str, Any]]] = {
    "R02": (NewCall, {"sid": "", "caller": None, "is_test_ping": True}),
    "R03": (
        NewCall,
        {
            "sid": "1104528084461170",
            "caller": PhoneNumber(raw="8041169706", national="8041169706"),
            "called_number": PhoneNumber(raw="911130803946", national="1130803946"),
            "cid_type": "FIXED_LINE",
            "operator": "Airtel",
            "circle": "KARNATAKA",
            "outbound_sid": None,
            "is_outbound": False,
            "is_test_ping": False,
        },
    ),
    "R05": (
        NewCall,
        {
            "sid": "9465281780016373",
            "caller": PhoneNumber(raw="09704665032", national="9704665032"),
            "called_number": PhoneNumber(raw="918065740671", national="8065740671"),
            "circle": "ANDHRA PRADESH",
            "operator": "Airtel",
        },
    ),
    "R06": (GotDTMF, {"sid": "9465281780016373", "digits": "1234", "no_input": False}),
    "R07": (
        NewCall,
        {"sid": "xyz", "caller": PhoneNumber(raw="000000000", national=None), "circle": None},
    ),
    "R08": (
        NewCall,
        {"sid": "21275806501458167", "caller": PhoneNumber(raw="0000", national=None)},
    ),
    "R09": (GotDTMF, {"sid": "21275806501458167", "digits": "1"}),
    "R13": (
        Hangup,
        {
            "sid": "noTransition",
            "process": None,
            "total_call_seconds": None,
            "digits": None,
            "recording_url": None,
        },
    ),
    "R15": (
        NewCall,
        {"sid": "0000000000", "caller": PhoneNumber(raw="1234567899", national="1234567899")},
    ),
    "R17": (Continue, {"sid": "0000000000"}),
    "R19": (
        Dial,
        {
            "sid": "9465281780016373",
            "status": "answered",
            "answered": True,
            "recording_url": "http://recordings.kookoo.in/demo/dial_123.mp3",
            "talk_seconds": 37,
            "message": "NormalCallClearing",
        },
    ),
    "R28": (
        Hangup,
        {
            "sid": "9465281780016373",
            "process": "record",
            "recording_url": "http://recordings.kookoo.in/demo/rec_123.wav",
            "record_duration_seconds": 12,
            "digits": None,
            "dial_status": None,
        },
    ),
}


def _vector_params(vid: str) -> dict[str, str]:
    target = ALL_VECTORS[vid]["target"]
    for placeholder, value in PLACEHOLDERS.get(vid, {}).items():
        assert placeholder in target, f"{vid}: placeholder {placeholder!r} no longer in vector"
        target = target.replace(placeholder, value)
    # Some templates are a bare query, one is prefixed with a prose label.
    query = target.split("?", 1)[1] if "?" in target else target.split()[-1]
    return dict(parse_qsl(query, keep_blank_values=True, strict_parsing=True))


def test_every_ivr_vector_is_covered() -> None:
    assert set(IVR_VECTORS) == set(EXPECTED) | set(NOT_IVR_EVENTS)
    assert not set(EXPECTED) & set(NOT_IVR_EVENTS)
    for vid in NOT_IVR_EVENTS:
        assert IVR_VECTORS[vid]["method"] == "POST"
        assert "callback_url" in IVR_VECTORS[vid]["dir"]


@pytest.mark.parametrize("vid", sorted(EXPECTED))
def test_ivr_vector_parses(vid: str) -> None:
    params = _vector_params(vid)
    event_type, fields = EXPECTED[vid]
    event = parse_event(params)
    assert type(event) is event_type
    for name, value in fields.items():
        assert getattr(event, name) == value, name
    assert event.params == params


def test_vector_app_params_are_kept() -> None:
    event = parse_event(_vector_params("R13"))
    assert event.params["tree"] == "someTree"
    assert event.params["trP"] == "aGFuZ3Vw"
    assert event.params["ln"] == "en"


# --- NewCall -------------------------------------------------------------------------------

LIVE_2026 = {
    "event": "NewCall",
    "sid": "21275806501458167",
    "cid": "919704665032",
    "cid_e164": "+919704665032",
    "cid_type": "MOBILE",
    "cid_country": "91",
    "cid_countryname": "India",
    "called_number": "918065740671",
    "circle": "ANDHRA PRADESH",
    "operator": "Airtel",
    "request_time": "2026-02-03 14:05:09",
}


def test_newcall_full() -> None:
    event = parse_event(LIVE_2026)
    assert event == NewCall(
        sid="21275806501458167",
        params=LIVE_2026,
        caller=PhoneNumber(raw="919704665032", national="9704665032"),
        called_number=PhoneNumber(raw="918065740671", national="8065740671"),
        circle="ANDHRA PRADESH",
        operator="Airtel",
        cid_type="MOBILE",
        country_code="91",
        country_name="India",
        request_time=datetime(2026, 2, 3, 14, 5, 9, tzinfo=IST),
        outbound_sid=None,
    )


def test_request_time_is_ist_aware() -> None:
    event = parse_event(LIVE_2026)
    assert isinstance(event, NewCall)
    assert event.request_time is not None
    assert event.request_time.utcoffset() == timedelta(hours=5, minutes=30)
    assert event.request_time.isoformat() == "2026-02-03T14:05:09+05:30"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-02-03T14:05:09", datetime(2026, 2, 3, 14, 5, 9, tzinfo=IST)),
        ("2026-02-03 08:35:09+00:00", datetime(2026, 2, 3, 14, 5, 9, tzinfo=IST)),
        ("yesterday", None),
        ("2026-02-30 10:00:00", None),
        ("", None),
    ],
)
def test_request_time_lenient(raw: str, expected: datetime | None) -> None:
    event = parse_event({"event": "NewCall", "sid": "1", "request_time": raw})
    assert isinstance(event, NewCall)
    assert event.request_time == expected
    assert event.params["request_time"] == raw


def test_newcall_caller_national_from_cid_e164_when_cid_is_odd() -> None:
    event = parse_event(
        {"event": "NewCall", "sid": "1", "cid": "0000", "cid_e164": "+918041169706"}
    )
    assert isinstance(event, NewCall)
    assert event.caller == PhoneNumber(raw="0000", national="8041169706")
    assert str(event.caller) == "+918041169706"


def test_newcall_caller_from_cid_e164_alone() -> None:
    event = parse_event({"event": "NewCall", "sid": "1", "cid_e164": "+918041169706"})
    assert isinstance(event, NewCall)
    assert event.caller == PhoneNumber(raw="+918041169706", national="8041169706")


def test_newcall_outbound() -> None:
    event = parse_event(
        {"event": "NewCall", "sid": "77", "cid": "09876543210", "outbound_sid": "77"}
    )
    assert isinstance(event, NewCall)
    assert event.is_outbound
    assert event.outbound_sid == "77"
    assert not event.is_test_ping


def test_newcall_empty_values_are_absent() -> None:
    event = parse_event(
        {"event": "NewCall", "sid": "1", "cid": "", "circle": " ", "operator": "", "cid_type": ""}
    )
    assert event == NewCall(sid="1", params=event.params)


def test_test_ping() -> None:
    event = parse_event({"event": "NewCall"})
    assert isinstance(event, NewCall)
    assert event.is_test_ping
    assert event.sid == ""


# --- GotDTMF -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "digits"),
    [
        ("1234", "1234"),
        ("1234#", "1234"),
        ("1234%23", "1234"),
        (" 12 # ", "12"),
        ("*9#", "*9"),
        ("#", ""),
        ("", ""),
    ],
)
def test_gotdtmf_digits(data: str, digits: str) -> None:
    event = parse_event({"event": "GotDTMF", "sid": "1", "data": data})
    assert event == GotDTMF(
        sid="1", params={"event": "GotDTMF", "sid": "1", "data": data}, digits=digits
    )
    assert isinstance(event, GotDTMF)
    assert event.no_input is (digits == "")
    assert event.params["data"] == data


def test_gotdtmf_without_data_is_unknown_not_an_empty_answer() -> None:
    event = parse_event({"event": "GotDTMF", "sid": "1"})
    assert isinstance(event, GotDTMF)
    assert event.digits is None
    assert not event.no_input


# --- Record / Dial -------------------------------------------------------------------------


def test_record() -> None:
    event = parse_event(
        {
            "event": "Record",
            "sid": "1",
            "data": "http://recordings.kookoo.in/demo/abc.wav",
            "status": "silence",
            "record_duration": "7",
        }
    )
    assert isinstance(event, Record)
    assert event.url == "http://recordings.kookoo.in/demo/abc.wav"
    assert event.status == "silence"
    assert event.duration_seconds == 7


def test_record_duration_fallback_and_empty_url() -> None:
    event = parse_event({"event": "Record", "sid": "1", "data": "", "duration": "3"})
    assert isinstance(event, Record)
    assert event.url is None
    assert event.status is None
    assert event.duration_seconds == 3


def test_record_url_encoded_twice_is_decoded() -> None:
    event = parse_event(
        {"event": "Record", "sid": "1", "data": "http%3A%2F%2Frecordings.kookoo.in%2Fd%2Fa.mp3"}
    )
    assert isinstance(event, Record)
    assert event.url == "http://recordings.kookoo.in/d/a.mp3"


@pytest.mark.parametrize("data", ["-1", "", " "])
def test_dial_without_recording(data: str) -> None:
    event = parse_event(
        {
            "event": "Dial",
            "sid": "1",
            "status": "not_answered",
            "data": data,
            "message": "NoAnswer",
            "callduration": "0",
        }
    )
    assert isinstance(event, Dial)
    assert event.recording_url is None
    assert not event.answered
    assert event.status == "not_answered"
    assert event.message == "NoAnswer"
    assert event.talk_seconds == 0


def test_dial_duration_fallback() -> None:
    event = parse_event({"event": "Dial", "sid": "1", "status": "Answered", "duration": "15"})
    assert isinstance(event, Dial)
    assert event.answered
    assert event.talk_seconds == 15


# --- Hangup / Disconnect -------------------------------------------------------------------


def test_hangup_during_collectdtmf() -> None:
    event = parse_event(
        {
            "event": "Hangup",
            "sid": "1",
            "cid": "8041169706",
            "called_number": "911130803946",
            "process": "collectdtmf",
            "data": "12#",
            "total_call_duration": "20",
        }
    )
    assert isinstance(event, Hangup)
    assert event.process == "collectdtmf"
    assert event.digits == "12"
    assert event.total_call_seconds == 20
    assert event.recording_url is None
    assert event.dial_status is None
    assert event.params["cid"] == "8041169706"


def test_hangup_during_dial() -> None:
    event = parse_event(
        {
            "event": "Hangup",
            "sid": "1",
            "process": "dial",
            "status": "answered",
            "data": "http://recordings.kookoo.in/d/dial.mp3",
            "callduration": "30",
            "total_call_duration": "45",
            "call_recording_url": "http://recordings.kookoo.in/d/call.mp3",
        }
    )
    assert isinstance(event, Hangup)
    assert event.dial_status == "answered"
    assert event.dial_answered
    assert event.dial_recording_url == "http://recordings.kookoo.in/d/dial.mp3"
    assert event.dial_talk_seconds == 30
    assert event.total_call_seconds == 45
    assert event.call_recording_url == "http://recordings.kookoo.in/d/call.mp3"
    assert event.digits is None
    assert event.recording_url is None


def test_hangup_process_none_means_nothing_running() -> None:
    event = parse_event({"event": "Hangup", "sid": "1", "process": "none", "data": "x"})
    assert isinstance(event, Hangup)
    assert event.process is None
    assert event.digits is None
    assert event.recording_url is None
    assert not event.dial_answered


def test_hangup_outbound_duration_fallback() -> None:
    event = parse_event({"event": "Hangup", "sid": "1", "duration": "9"})
    assert isinstance(event, Hangup)
    assert event.total_call_seconds == 9


def test_disconnect() -> None:
    event = parse_event(
        {
            "event": "Disconnect",
            "sid": "1",
            "message": "NormalCallClearing",
            "total_call_duration": "61",
            "process": "none",
        }
    )
    assert event == Disconnect(
        sid="1",
        params=event.params,
        message="NormalCallClearing",
        total_call_seconds=61,
        process=None,
    )


# --- Other events --------------------------------------------------------------------------


def test_conference() -> None:
    event = parse_event({"event": "Conference", "sid": "1", "data": "room%201"})
    assert event == Conference(sid="1", params=event.params, data="room%201")


def test_recognize_decodes_text_once_more() -> None:
    event = parse_event({"event": "Recognize", "sid": "1", "data": "book+a%20ticket"})
    assert isinstance(event, Recognize)
    assert event.text == "book a ticket"
    assert event.params["data"] == "book+a%20ticket"


def test_recognize_nothing() -> None:
    event = parse_event({"event": "Recognize", "sid": "1", "data": ""})
    assert isinstance(event, Recognize)
    assert event.text == ""
    absent = parse_event({"event": "Recognize", "sid": "1"})
    assert isinstance(absent, Recognize)
    assert absent.text is None


def test_stream() -> None:
    event = parse_event({"event": "Stream", "sid": "1", "status": "answered", "callduration": "12"})
    assert event == Stream(sid="1", params=event.params, status="answered", duration_seconds=12)


def test_new_sms() -> None:
    event = parse_event(
        {"event": "NewSms", "sid": "1", "cid": "9876543210", "message": "KEY+hello%21"}
    )
    assert isinstance(event, NewSms)
    assert event.sender == PhoneNumber(raw="9876543210", national="9876543210")
    assert event.message == "KEY hello!"


@pytest.mark.parametrize(
    "params", [{"sid": "5"}, {"event": "", "sid": "5"}, {"event": " ", "sid": "5"}]
)
def test_missing_or_empty_event_is_continue(params: dict[str, str]) -> None:
    event = parse_event(params)
    assert type(event) is Continue
    assert event.sid == "5"
    assert event.name == ""


def test_unknown_event_is_kept() -> None:
    params = {"event": "CallTransfer", "sid": "1", "data": "x"}
    event = parse_event(params)
    assert isinstance(event, UnknownEvent)
    assert event.name == "CallTransfer"
    assert event.params == params


@pytest.mark.parametrize("spelling", ["gotdtmf", "GOTDTMF", " GotDtmf "])
def test_event_name_is_case_insensitive(spelling: str) -> None:
    event = parse_event({"event": spelling, "sid": "1", "data": "5"})
    assert isinstance(event, GotDTMF)
    assert event.digits == "5"
    assert event.name == "GotDTMF"


def test_event_types_table() -> None:
    assert EVENT_TYPES["GotDTMF"] is GotDTMF
    assert EVENT_TYPES[""] is Continue
    assert all(cls.name == key for key, cls in EVENT_TYPES.items())
    assert len(EVENT_TYPES) == 11
    with pytest.raises(TypeError):
        EVENT_TYPES["X"] = Event  # type: ignore[index]


# --- Errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"event": "GotDTMF", "data": "1"},
            "GotDTMF request is missing the required 'sid' parameter",
        ),
        (
            {"event": "hangup", "sid": "  "},
            "Hangup request is missing the required 'sid' parameter",
        ),
        ({"event": ""}, "Continue request is missing the required 'sid' parameter"),
        ({"event": "Foo"}, "Foo request is missing the required 'sid' parameter"),
    ],
)
def test_missing_sid(params: dict[str, str], message: str) -> None:
    with pytest.raises(EventParseError) as info:
        parse_event(params)
    assert str(info.value) == message
    assert info.value.parameter == "sid"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("params", "field", "parameter"),
    [
        ({"event": "Hangup", "sid": "1", "total_call_duration": "abc"}, "total_call_seconds",
         "total_call_duration"),
        ({"event": "Dial", "sid": "1", "callduration": "-x"}, "talk_seconds", "callduration"),
        ({"event": "Stream", "sid": "1", "callduration": "-5"}, "duration_seconds",
         "callduration"),
        ({"event": "Disconnect", "sid": "1", "total_call_duration": "١٢"},
         "total_call_seconds", "total_call_duration"),
    ],
)  # fmt: skip
def test_an_untypeable_duration_is_unknown_and_logged(
    params: dict[str, str], field: str, parameter: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="kookoo.events"):
        event = parse_event(params)
    assert getattr(event, field) is None
    assert event.params == params
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    assert repr(parameter) in record.getMessage()


def test_long_bad_value_is_shortened_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="kookoo.events"):
        parse_event({"event": "Hangup", "sid": "1", "total_call_duration": "9" * 50 + "x" * 200})
    (record,) = caplog.records
    assert len(record.getMessage()) < 250
    assert "...'" in record.getMessage()


def test_minus_one_duration_means_absent() -> None:
    event = parse_event({"event": "Dial", "sid": "1", "callduration": "-1"})
    assert isinstance(event, Dial)
    assert event.talk_seconds is None


def test_durations_ignored_by_an_event_are_not_checked() -> None:
    event = parse_event({"event": "GotDTMF", "sid": "1", "data": "1", "callduration": "abc"})
    assert isinstance(event, GotDTMF)
    assert event.params["callduration"] == "abc"


def test_whitespace_around_duration_and_sid() -> None:
    event = parse_event({"event": "Stream", "sid": " 42 ", "callduration": " 8 "})
    assert event == Stream(sid="42", params=event.params, duration_seconds=8)


# --- Params, immutability, equality --------------------------------------------------------


def test_multidict_first_value_is_used() -> None:
    params = MultiDict([("event", "GotDTMF"), ("sid", "1"), ("data", "7"), ("data", "8")])
    event = parse_event(params)
    assert isinstance(event, GotDTMF)
    assert event.digits == "7"
    assert event.params == {"event": "GotDTMF", "sid": "1", "data": "7"}


def test_params_are_a_read_only_snapshot() -> None:
    params = {"event": "GotDTMF", "sid": "1", "data": "7", "tree": "someTree"}
    event = parse_event(params)
    params["data"] = "9"
    assert event.params["data"] == "7"
    assert event.params["tree"] == "someTree"
    with pytest.raises(TypeError):
        event.params["data"] = "9"  # type: ignore[index]


def test_constructed_event_params_are_read_only() -> None:
    source = {"x": "1"}
    event = GotDTMF(sid="1", params=source, digits="1")
    source["x"] = "2"
    assert event.params == {"x": "1"}
    assert isinstance(event.params, Mapping)
    with pytest.raises(TypeError):
        event.params["x"] = "3"  # type: ignore[index]


def test_events_are_frozen() -> None:
    event = parse_event({"event": "GotDTMF", "sid": "1", "data": "7"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.sid = "2"  # type: ignore[misc]
    assert isinstance(event, GotDTMF)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.digits = "8"  # type: ignore[misc]


def test_params_in_equality_and_hash_but_not_repr() -> None:
    first = parse_event({"event": "GotDTMF", "sid": "1", "data": "7", "tree": "a"})
    second = parse_event({"event": "GotDTMF", "sid": "1", "data": "7", "tree": "b"})
    assert first != second
    assert hash(first) == hash(second)
    assert first == parse_event({"event": "GotDTMF", "sid": "1", "data": "7", "tree": "a"})
    assert repr(first) == "GotDTMF(sid='1', digits='7')"


def test_unknown_event_requires_its_name() -> None:
    with pytest.raises(TypeError):
        UnknownEvent(sid="1")  # type: ignore[call-arg]
    assert UnknownEvent(sid="1", name="X").name == "X"
    assert Event.name == ""


# --- Property ------------------------------------------------------------------------------

KNOWN_KEYS = [
    "event",
    "sid",
    "cid",
    "cid_e164",
    "called_number",
    "data",
    "status",
    "message",
    "process",
    "callduration",
    "duration",
    "record_duration",
    "total_call_duration",
    "request_time",
    "outbound_sid",
    "call_recording_url",
    # the outbound completion callback's fields
    "status_details",
    "phone_no",
    "caller_id",
    "start_time",
    "ringing_time",
]
EVENT_NAMES = [*EVENT_TYPES, "gotdtmf", "HANGUP", "Other"]


@given(
    st.dictionaries(
        st.sampled_from(KNOWN_KEYS) | st.text(max_size=8),
        st.sampled_from(EVENT_NAMES)
        | st.from_regex(r"-?[0-9]{0,3}(\.[0-9])?s?", fullmatch=True)
        | st.text(),
    )
)
def test_parse_event_only_raises_event_parse_error(params: dict[str, str]) -> None:
    error: EventParseError | None = None
    try:
        event = parse_event(params)
    except EventParseError as caught:
        error = caught
    if error is not None:
        # Only the sid can make a request unreadable; every optional field is lenient.
        assert error.parameter == "sid"
        assert str(error)
        return
    assert isinstance(event, Event)
    assert event.params == params
    hash(event)
    repr(event)


def test_a_sid_with_control_characters_is_refused() -> None:
    with pytest.raises(EventParseError, match="has a 'sid' with control characters") as err:
        parse_event({"event": "NewCall", "sid": "\x01abc"})
    assert err.value.parameter == "sid"


def test_an_absurdly_long_duration_is_unknown() -> None:
    event = parse_event({"event": "Hangup", "sid": "1", "total_call_duration": "0" * 5000})
    assert isinstance(event, Hangup)
    assert event.total_call_seconds is None


@settings(max_examples=500)
@given(
    st.lists(st.text(alphabet=st.sampled_from("ab=&%+2B41C3 xé9;"), max_size=12), max_size=6).map(
        "&".join
    )
)
def test_parse_query_is_parse_qsl(query: str) -> None:
    from urllib.parse import parse_qsl

    from kookoo.protocol.events import parse_query

    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)


def test_parse_query_on_kookoo_queries() -> None:
    from urllib.parse import parse_qsl

    from kookoo.protocol.events import parse_query

    for query in (
        "",
        "&",
        "=",
        "a==b",
        "event=NewCall&sid=1&cid=%2B918041169706&called_number=911130803946",
        "event=GotDTMF&sid=1&data=&x",
        "data=%E0%A4%A8%E0%A4%AE&bad=%zz%&plus=a+b%2Bc",
    ):
        assert parse_query(query) == parse_qsl(query, keep_blank_values=True)


def test_numbers_parsed_once_are_the_same_as_parsed_fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    from kookoo.protocol import fields
    from kookoo.protocol.phone import PhoneNumber

    monkeypatch.setattr(fields, "_PHONES_MAX", 3)
    monkeypatch.setattr(fields, "_PHONES", {})
    values = ["09876543210", "+918041169706", "8041169706", "12345", "09876543210", "x1"]
    for _ in range(2):
        for value in values:
            event = parse_event({"event": "NewCall", "sid": "1", "called_number": value})
            assert isinstance(event, NewCall)
            assert event.called_number == PhoneNumber.parse(value)
    assert len(fields._PHONES) <= 3
