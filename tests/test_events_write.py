"""Writing requests from typed values (issue 24): each event field is declared once, with its
KooKoo parameters and its reader, and ``request_params`` is ``parse_event``'s inverse."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kookoo.protocol import fields
from kookoo.protocol.events import (
    CALL_STATUS_FIELDS,
    EVENT_TYPES,
    IST,
    CallStatus,
    Continue,
    Dial,
    Disconnect,
    Event,
    GotDTMF,
    Hangup,
    NewCall,
    NewSms,
    Recognize,
    Record,
    Stream,
    UnknownEvent,
    parse_event,
    parse_query,
    request_params,
)
from kookoo.protocol.phone import PhoneNumber

CLASSES: list[type[Event]] = [*EVENT_TYPES.values(), CallStatus, UnknownEvent]
SID = "1104528084461170"

# -- the declarations ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_field_is_declared_with_its_kookoo_parameters(cls: type[Event]) -> None:
    specs = fields.params_of(cls)
    for each in dataclasses.fields(cls):
        if each.name in ("sid", "params") or (cls is UnknownEvent and each.name == "name"):
            assert each.name not in specs
            continue
        spec = each.metadata[fields.METADATA_KEY]
        assert isinstance(spec, fields.Param)
        assert specs[each.name] is spec
        assert spec.names, each.name
        assert each.default is None


def test_values_read_on_access_are_declared_too() -> None:
    for cls in (GotDTMF, Record):
        assert set(fields.params_of(cls)) - {f.name for f in dataclasses.fields(cls)} == {"caller"}
    for end in (Hangup, Disconnect):
        extra = set(fields.params_of(end)) - {f.name for f in dataclasses.fields(end)}
        assert extra == {"caller", "called_number"}
    assert fields.params_of(Hangup)["caller"].names == ("cid", "cid_e164")
    assert isinstance(Hangup.caller, fields.Repeated)


def test_call_status_fields_come_from_the_declaration() -> None:
    assert set(CALL_STATUS_FIELDS) == {
        "status_details", "phone_no", "duration", "ringing_time", "start_time", "caller_id"
    }  # fmt: skip


def test_one_ist() -> None:
    from kookoo.outbound import window
    from kookoo.protocol import times

    assert window.IST is times.IST is IST
    assert IST.utcoffset(None) == timedelta(hours=5, minutes=30)


# -- round trips ---------------------------------------------------------------------------------

stripped = st.text(min_size=1).map(str.strip).filter(bool)
indian = st.from_regex(r"(\+91|0|91)?[6-9][0-9]{9}", fullmatch=True)
numbers = st.one_of(indian, stripped).map(PhoneNumber.parse)
# A cid KooKoo could not make national, with the national number cid_e164 gave.
merged = st.builds(
    lambda raw, national: PhoneNumber(raw=raw, national=national),
    st.sampled_from(["0000", "000000000", "12345", "+14155550100"]),
    st.from_regex(r"[6-9][0-9]{9}", fullmatch=True),
)
READERS: dict[fields.Reader[Any], st.SearchStrategy[Any]] = {
    fields.text: stripped,
    fields.decoded: st.text().map(str.strip),
    fields.url: st.builds(
        "{}://{}".format,
        st.sampled_from(["http", "https"]),
        st.text(alphabet="abcdefghij.-/%:?=&+0123456789", max_size=30),
    ),
    fields.digits: st.text(alphabet="0123456789*#", max_size=12).map(lambda s: s.rstrip("#")),
    fields.process: stripped.filter(lambda s: s.casefold() != "none"),
    fields.seconds: st.integers(0, 10**12 - 1),
    fields.phone: numbers,
    fields.caller: numbers | merged,
    fields.repeated_caller: numbers | merged,
    fields.ist_time: st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([IST, UTC, timezone(timedelta(hours=-8))]),
    ),
}
PROCESSES = ["collectdtmf", "record", "dial", "stream"]


@st.composite
def typed_values(draw: st.DrawFn, cls: type[Event]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values to write for ``cls``, and the values the parsed event should have."""
    specs = fields.params_of(cls)
    kind = draw(st.sampled_from(PROCESSES)) if cls is Hangup else None
    optional = {
        name: READERS[spec.reader]
        for name, spec in specs.items()
        if spec.when is None or spec.when == kind
    }
    if cls is CallStatus:  # the callback's shape: a status and one more of its fields
        del optional["status"]
        values = draw(
            st.fixed_dictionaries({"status": stripped}, optional=optional).filter(
                lambda v: len(v) > 1
            )
        )
    else:
        values = draw(st.fixed_dictionaries({}, optional=optional))
    expected = dict(values)
    if kind is not None:
        if "process" in values:
            values["process"] = draw(st.sampled_from([kind, kind.upper(), f" {kind} "]))
            expected["process"] = values["process"].strip()
        elif any(specs[name].when for name in values):
            expected["process"] = kind  # implied by the leftovers
    if cls is UnknownEvent:
        values["name"] = draw(
            stripped.filter(lambda s: s.casefold() not in {k.casefold() for k in EVENT_TYPES})
        )
    return values, expected


sids = st.one_of(st.just(SID), stripped.filter(str.isprintable))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_parse_event_reads_back_what_request_params_wrote(cls: type[Event], data: Any) -> None:
    sid = data.draw(sids)
    values, expected = data.draw(typed_values(cls))
    params = request_params(cls, sid=sid, **values)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    event = parse_event(params)
    assert type(event) is cls
    assert event.sid == sid
    for name in fields.params_of(cls):
        assert getattr(event, name) == expected.get(name), name
    if cls is UnknownEvent:
        assert event.name == values["name"]
    # The same over the wire: a query string, read back as the web layer reads it.
    assert parse_event(dict(parse_query(urlencode(params)))) == event


@given(numbers | merged)
def test_a_phone_number_survives_every_event_that_repeats_the_caller(number: PhoneNumber) -> None:
    for cls in (NewCall, GotDTMF, Record, Hangup, Disconnect):
        assert parse_event(request_params(cls, sid="1", caller=number)).caller == number  # type: ignore[attr-defined]


# -- what is written, exactly --------------------------------------------------------------------


def test_the_event_and_sid_come_first_then_the_values_in_order() -> None:
    params = request_params(
        NewCall, sid=SID, caller="09876543210", called_number="918065740671", circle="KARNATAKA"
    )
    assert list(params.items()) == [
        ("event", "NewCall"),
        ("sid", SID),
        ("cid", "09876543210"),
        ("cid_e164", "+919876543210"),
        ("called_number", "918065740671"),
        ("circle", "KARNATAKA"),
    ]


def test_the_caller_as_kookoo_writes_it() -> None:
    # NewCall: cid and, for an Indian number, cid_e164; later events repeat cid alone.
    assert "cid_e164" not in request_params(NewCall, sid="1", caller="+14155550100")
    assert request_params(Hangup, sid="1", caller="09876543210") == {
        "event": "Hangup", "sid": "1", "cid": "09876543210"
    }  # fmt: skip
    # ...unless cid cannot carry the national number.
    odd = PhoneNumber(raw="0000", national="8041169706")
    assert request_params(GotDTMF, sid="1", caller=odd)["cid_e164"] == "+918041169706"


def test_none_writes_kookoos_markers_or_nothing() -> None:
    assert request_params(Dial, sid="1", recording_url=None, message=None) == {
        "event": "Dial", "sid": "1", "data": "-1"
    }  # fmt: skip
    assert request_params(Disconnect, sid="1", process=None)["process"] == "none"
    assert request_params(Record, sid="1", duration_seconds=None) == {"event": "Record", "sid": "1"}


def test_strings_are_sent_as_given() -> None:
    assert request_params(GotDTMF, sid="1", digits="42#")["data"] == "42#"
    params = request_params(Dial, sid="1", talk_seconds="20s")
    assert params["callduration"] == "20s"
    dial = parse_event(params)
    assert isinstance(dial, Dial)
    assert dial.talk_seconds == 20


def test_decoded_texts_are_encoded_once_more_only_when_it_matters() -> None:
    assert request_params(Recognize, sid="1", text="my balance")["data"] == "my balance"
    for text in ("50% off", "a+b", "100%25", "ok"):
        params = request_params(NewSms, sid="1", message=text)
        sms = parse_event(params)
        assert isinstance(sms, NewSms)
        assert sms.message == text


def test_leftovers_imply_their_process() -> None:
    assert request_params(Hangup, sid="1", recording_url="http://r/a.wav") == {
        "event": "Hangup", "sid": "1", "process": "record", "data": "http://r/a.wav"
    }  # fmt: skip
    given_later = request_params(Hangup, sid="1", digits="1", process="CollectDTMF")
    assert list(given_later) == ["event", "sid", "data", "process"]


def test_times_are_written_in_ist() -> None:
    utc = datetime(2026, 2, 3, 8, 35, 9, tzinfo=UTC)
    assert request_params(NewCall, sid="1", request_time=utc)["request_time"] == (
        "2026-02-03 14:05:09"
    )
    naive = request_params(NewCall, sid="1", request_time=datetime(2026, 2, 3, 14, 5, 9))
    event = parse_event(naive)
    assert isinstance(event, NewCall)
    assert event.request_time == datetime(2026, 2, 3, 14, 5, 9, tzinfo=IST)


def test_continue_call_status_and_unknown_events() -> None:
    assert request_params(Continue, sid="5") == {"event": "", "sid": "5"}
    assert request_params(NewCall, sid="") == {"event": "NewCall", "sid": ""}
    status = request_params(CallStatus, sid="5", status="ring", status_details="NoAnswer")
    assert status == {"sid": "5", "status": "ring", "status_details": "NoAnswer"}
    assert request_params(UnknownEvent, sid="5", name="CallTransfer") == {
        "event": "CallTransfer", "sid": "5"
    }  # fmt: skip


# -- what cannot be written ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "values", "error", "message"),
    [
        (GotDTMF, {"data": "1"}, TypeError, "GotDTMF has no typed value 'data'"),
        (Stream, {"duration_seconds": 1.5}, TypeError, r"Stream.duration_seconds: expected"),
        (Stream, {"duration_seconds": True}, TypeError, "Stream.duration_seconds"),
        (Dial, {"talk_seconds": -1}, ValueError, "Dial.talk_seconds: seconds must be 0"),
        (Record, {"url": 7}, TypeError, "Record.url"),
        (Hangup, {"digits": "1", "dial_status": "answered"}, ValueError, "process is 'dial'"),
        (Hangup, {"process": "record", "digits": "1"}, ValueError, "only when process"),
        (Hangup, {"process": None, "recording_url": None}, ValueError, "only when process"),
        (CallStatus, {"status": "answered"}, ValueError, "reads as Continue"),
        (CallStatus, {"phone_no": "0987"}, ValueError, "reads as Continue"),
        (UnknownEvent, {"name": "gotdtmf"}, ValueError, "is a known event"),
        (UnknownEvent, {}, ValueError, "needs its event name"),
        (
            NewCall,
            {"called_number": PhoneNumber(raw="09876543210", national="8041169706")},
            ValueError,
            "reads as '9876543210'",
        ),
        (NewCall, {"caller": PhoneNumber(raw=" 1", national=None)}, ValueError, "padded"),
    ],
)  # fmt: skip
def test_values_no_request_could_carry_are_refused(
    cls: type[Event], values: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        request_params(cls, sid="1", **values)


@pytest.mark.parametrize("sid", ["", " 1", "1\n"])
def test_a_sid_parse_event_would_refuse_or_change_is_refused(sid: str) -> None:
    with pytest.raises(ValueError, match="sid"):
        request_params(GotDTMF, sid=sid)


def test_an_abstract_class_is_refused() -> None:
    with pytest.raises(TypeError, match="not an event class"):
        request_params(Event, sid="1")
