"""Call.to_json reuses what it converted and checked for the previous save of the same call
(history rows, a flow's journal steps): the result is always what a fresh call would give."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from kookoo.protocol.phone import PhoneNumber
from kookoo.state.calls import Call, CallStateError, HistoryEntry


def _fresh_json(call: Call) -> str:
    """What to_json gives for an equal call that never saved before (nothing to reuse)."""
    copy = Call.from_json(call.to_json(), version=call.version)
    return Call(
        sid=copy.sid,
        caller=copy.caller,
        called_number=copy.called_number,
        state=call.state,
        step=call.step,
        history=list(call.history),
        journal=call.journal,
        created_at=call.created_at,
        updated_at=call.updated_at,
        ended_at=call.ended_at,
        last_reply=call.last_reply,
    ).to_json()


def test_history_rows_follow_appends_trims_and_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Call, "history_limit", 5)
    call = Call("1")
    seen: list[str] = []
    for i in range(12):
        call.record_event(f"E{i}", at=float(i))
        if i % 3 == 0:
            call.record_event(f"X{i}", at=i + 0.5)  # two events between saves
        seen.append(call.to_json())
        assert seen[-1] == _fresh_json(call)
    assert [row[0] for row in json.loads(seen[-1])["history"]] == ["E8", "E9", "X9", "E10", "E11"]
    history = json.loads(call.to_json())["history"]
    assert history == [[e.event, e.at] for e in call.history]
    # Edits that keep the length are seen too: replacing, reordering, clearing.
    call.history[2] = HistoryEntry("Replaced", 99.0)
    assert json.loads(call.to_json())["history"][2] == ["Replaced", 99.0]
    call.history.reverse()
    assert call.to_json() == _fresh_json(call)
    call.history.clear()
    assert json.loads(call.to_json())["history"] == []


def test_a_loaded_call_holds_the_same_entries_and_numbers() -> None:
    # from_json builds them without their dataclass __init__: they must not be told apart.
    # Call parses numbers given as text (documented); its fields are typed PhoneNumber only.
    call = Call("3", caller="09876543210", called_number="911130803946")  # type: ignore[arg-type]
    for i in range(6):
        call.record_event("GotDTMF", at=1000.0 + i)
    loaded = Call.from_json(call.to_json(), version=4)
    assert loaded.history == call.history
    assert {type(entry) for entry in loaded.history} == {HistoryEntry}
    assert hash(loaded.history[0]) == hash(HistoryEntry("GotDTMF", 1000.0))
    assert repr(loaded.history[0]) == "HistoryEntry(event='GotDTMF', at=1000.0)"
    assert (loaded.caller, loaded.called_number) == (call.caller, call.called_number)
    assert type(loaded.caller) is PhoneNumber
    assert loaded.caller == PhoneNumber.parse("09876543210")
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.history[0].event = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.caller.raw = "changed"  # type: ignore[misc]


def test_a_loaded_call_saves_what_a_fresh_call_would(monkeypatch: pytest.MonkeyPatch) -> None:
    # A loaded call reuses its stored history rows for its next save.
    monkeypatch.setattr(Call, "history_limit", 5)
    call = Call("4")
    for i in range(4):
        call.record_event(f"E{i}", at=float(i))
    for i in range(4, 10):
        call = Call.from_json(call.to_json(), version=i)
        call.record_event(f"E{i}", at=float(i))
        if i % 2:
            call.record_event(f"X{i}", at=i + 0.5)  # two events between saves, at the limit
        assert call.to_json() == _fresh_json(call)
    assert [e.event for e in call.history] == ["E7", "X7", "E8", "E9", "X9"]
    loaded = Call.from_json(call.to_json(), version=11)
    loaded.history[0] = HistoryEntry("Replaced", 99.0)
    assert json.loads(loaded.to_json())["history"][0] == ["Replaced", 99.0]
    # More events stored than the limit allows now: trimmed on load, rows not reused.
    monkeypatch.setattr(Call, "history_limit", 3)
    again = Call.from_json(call.to_json(), version=12)
    assert len(again.history) == 3
    assert again.to_json() == _fresh_json(again)
    assert json.loads(again.to_json())["history"] == [[e.event, e.at] for e in call.history[-3:]]


@pytest.mark.parametrize("rows", [[["GotDTMF", 1.0, "extra"]], [["GotDTMF"]], [5]])
def test_malformed_history_rows_are_refused(rows: list[Any]) -> None:
    record = json.loads(Call("5").to_json())
    with pytest.raises(ValueError, match="malformed"):
        Call.from_json(json.dumps(dict(record, history=rows)), version=1)


def _flow_call(steps: list[Any]) -> Call:
    return Call("2", journal=[{"route": "/", "steps": steps, "once": [], "pending": "x"}])


def test_journal_steps_added_since_the_last_save_are_checked() -> None:
    steps: list[Any] = [["GotDTMF:1", "1"]]
    call = _flow_call(steps)
    call.to_json()
    for i in range(5):
        steps.append([f"GotDTMF:{i}", str(i)])
        assert call.to_json() == _fresh_json(call)
    steps.append(["Record:1", {"bad": {1, 2}}])
    with pytest.raises(
        CallStateError, match=r"journal\[0\]\['steps'\]\[6\]\[1\]\['bad'\] is a set"
    ):
        call.to_json()


def test_a_replaced_journal_step_is_checked_again() -> None:
    steps: list[Any] = [["GotDTMF:1", "1"], ["GotDTMF:2", "2"]]
    call = _flow_call(steps)
    call.to_json()
    steps[0] = ["GotDTMF:1", float("nan")]
    with pytest.raises(CallStateError, match="not valid JSON"):
        call.to_json()
    steps[0] = ["GotDTMF:1", "1"]
    call.journal[0]["once"].append({1: "int key"})
    with pytest.raises(CallStateError, match="int key"):
        call.to_json()
