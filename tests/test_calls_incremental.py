"""Call.to_json reuses what it converted and checked for the previous save of the same call
(history rows, a flow's journal steps): the result is always what a fresh call would give."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kookoo.calls import Call, CallStateError, HistoryEntry


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
