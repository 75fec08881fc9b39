"""Tests for kookoo.state.calls: the per-call object and its JSON form."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest

from kookoo.protocol.phone import PhoneNumber
from kookoo.state.calls import HISTORY_LIMIT, Call, CallStateError, HistoryEntry


def make_call() -> Call:
    # Call parses numbers given as text (documented); its fields are typed PhoneNumber only.
    call = Call("3341", caller="09876543210", called_number="04066778899", created_at=1000.0)  # type: ignore[arg-type]
    call.record_event("NewCall", at=1000.0)
    call.record_event("GotDTMF", at=1003.5)
    call.state.update(
        {"lang": "hi", "tries": 2, "basket": [1, 2.5, None, True], "nested": {"a": {"b": "ऑ"}}}
    )
    call.step = "menu"
    call.journal = [{"kind": "dtmf", "value": "1"}, "two"]
    return call


def test_defaults() -> None:
    call = Call("1", created_at=5.0)
    assert call.caller is None
    assert call.called_number is None
    assert call.state == {}
    assert call.step is None
    assert call.history == []
    assert call.journal == []
    assert call.updated_at == 5.0
    assert call.ended_at is None
    assert not call.ended
    assert call.version == 0


def test_defaults_do_not_share_mutable_state() -> None:
    first, second = Call("1"), Call("2")
    first.state["x"] = 1
    first.record_event("NewCall")
    assert second.state == {}
    assert second.history == []


def test_json_round_trip_keeps_every_field() -> None:
    call = make_call()
    call.mark_ended(at=1010.0)
    data = call.to_json()
    again = Call.from_json(data, version=7)
    assert again.version == 7
    again.version = call.version
    assert again == call
    assert again.history == [HistoryEntry("NewCall", 1000.0), HistoryEntry("GotDTMF", 1003.5)]
    assert again.caller == PhoneNumber.parse("09876543210")
    assert again.ended_at == 1010.0


def test_from_json_accepts_bytes() -> None:
    call = make_call()
    assert Call.from_json(call.to_json().encode(), version=1).state == call.state


def test_version_is_not_in_the_json() -> None:
    call = make_call()
    call.version = 42
    assert "version" not in json.loads(call.to_json())


def test_tuples_come_back_as_lists() -> None:
    call = Call("1")
    call.state["pair"] = (1, "a")
    assert Call.from_json(call.to_json(), version=1).state == {"pair": [1, "a"]}


def test_round_trip_does_not_share_objects() -> None:
    call = make_call()
    again = Call.from_json(call.to_json(), version=1)
    again.state["basket"].append(99)
    assert call.state["basket"] == [1, 2.5, None, True]


def test_record_event_updates_history_and_updated_at() -> None:
    call = Call("1", created_at=10.0)
    call.record_event("NewCall", at=11.0)
    call.record_event("GotDTMF", at=12.0)
    assert [entry.event for entry in call.history] == ["NewCall", "GotDTMF"]
    assert call.updated_at == 12.0
    assert call.created_at == 10.0


def test_record_event_defaults_to_now() -> None:
    call = Call("1", created_at=0.0)
    call.record_event("NewCall")
    assert call.history[0].at == pytest.approx(datetime.datetime.now().timestamp(), abs=5)


def test_history_is_bounded() -> None:
    call = Call("1", created_at=0.0)
    for i in range(HISTORY_LIMIT + 50):
        call.record_event(f"E{i}", at=float(i))
    assert len(call.history) == HISTORY_LIMIT == 200
    assert call.history[0] == HistoryEntry("E50", 50.0)
    assert call.history[-1] == HistoryEntry(f"E{HISTORY_LIMIT + 49}", float(HISTORY_LIMIT + 49))


def test_history_is_bounded_when_constructed_or_loaded() -> None:
    long = [HistoryEntry("GotDTMF", float(i)) for i in range(HISTORY_LIMIT + 5)]
    call = Call("1", history=list(long))
    assert call.history == long[5:]
    raw = json.loads(call.to_json())
    raw["history"] = [["GotDTMF", float(i)] for i in range(HISTORY_LIMIT + 5)]
    assert len(Call.from_json(json.dumps(raw), version=1).history) == HISTORY_LIMIT


def test_mark_ended() -> None:
    call = Call("1", created_at=0.0)
    call.mark_ended(at=30.0)
    assert call.ended
    assert call.ended_at == 30.0
    assert call.updated_at == 30.0


def test_mark_ended_keeps_the_first_end_time() -> None:
    call = Call("1", created_at=0.0)
    call.mark_ended(at=30.0)  # Hangup
    call.mark_ended(at=31.0)  # then Disconnect
    assert call.ended_at == 30.0
    assert call.updated_at == 31.0


class Thing:
    pass


@pytest.mark.parametrize(
    ("state", "path", "type_name", "hint"),
    [
        ({"basket": ["a", "b", {1, 2}]}, "state['basket'][2]", "set", "list"),
        ({"who": Thing()}, "state['who']", "Thing", "convert it"),
        ({"a": {"raw": b"\x00"}}, "state['a']['raw']", "bytes", "decode"),
        ({"when": datetime.datetime(2024, 1, 1)}, "state['when']", "datetime", "isoformat"),
        ({"amount": [Decimal("1.5")]}, "state['amount'][0]", "Decimal", "str(value)"),
        ({"score": float("nan")}, "state['score']", "float", "nan"),
        ({"score": {"x": float("inf")}}, "state['score']['x']", "float", "inf"),
        ({"m": {1: "one"}}, "state['m'][1]", "int", "key"),
        ({"f": frozenset()}, "state['f']", "frozenset", "list"),
    ],
)
def test_non_json_state_names_path_and_type(
    state: dict[str, Any], path: str, type_name: str, hint: str
) -> None:
    call = Call("1", state=state)
    with pytest.raises(CallStateError) as info:
        call.to_json()
    assert info.value.path == path
    assert info.value.type_name == type_name
    message = str(info.value)
    assert message.startswith(path + " ")
    assert type_name in message
    assert hint in message
    assert isinstance(info.value, TypeError)


def test_non_json_journal_names_path() -> None:
    call = Call("1", journal=["ok", {"at": datetime.date(2024, 1, 1)}])
    with pytest.raises(CallStateError, match=r"^journal\[1\]\['at'\] is a date"):
        call.to_json()


def test_cycle_is_reported_not_recursed_forever() -> None:
    loop: list[Any] = []
    loop.append(loop)
    call = Call("1", state={"loop": loop})
    with pytest.raises(CallStateError, match=r"state\['loop'\]\[0\] refers back to itself"):
        call.to_json()


def test_same_object_twice_is_not_a_cycle() -> None:
    shared = [1, 2]
    call = Call("1", state={"a": shared, "b": shared})
    assert Call.from_json(call.to_json(), version=1).state == {"a": [1, 2], "b": [1, 2]}


def test_state_must_be_a_dict() -> None:
    call = Call("1")
    call.state = [1, 2]  # type: ignore[assignment]
    with pytest.raises(CallStateError, match=r"^state must be a dict"):
        call.to_json()


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[]",
        '{"format": 99}',
        '{"format": 1, "sid": "1"}',
        b"\xff\xfe",
        '{"format": 1, "state": [], "journal": []}',
    ],
)
def test_from_json_rejects_garbage_with_value_error(data: str | bytes) -> None:
    with pytest.raises(ValueError, match="stored call record"):
        Call.from_json(data, version=1)
