"""Kept (sticky) flows give exactly what replayed flows give: the same replies, journals,
side effects and hooks, in every script, including resyncs, at_most_once and failures."""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from kookoo import KooKoo
from kookoo.flow import FlowCall, FlowRunner, Skipped, Step
from kookoo.state.stores import CallStore, MemoryStore, SQLiteStore

Script = list[dict[str, str]]


class World:
    """What the flow touches outside the call: side effects, cleanups, hooks, starts."""

    def __init__(self) -> None:
        self.effects: list[str] = []
        self.starts = 0
        self.fail_charge = 0

    def charge(self, amount: int, *, key: str) -> str:
        self.effects.append(f"charge {amount} {key}")
        if self.fail_charge:
            self.fail_charge -= 1
            raise ConnectionResetError("the gateway broke after charging")
        return f"r{amount}"


def _app(world: World, store: CallStore) -> KooKoo:
    app = KooKoo(store=store)

    def hung_up(call: FlowCall, answers: dict[str, Any]) -> None:
        world.effects.append(f"hook {sorted(answers.items())}")

    @app.flow(on_hangup=hung_up)
    def shop(call: FlowCall) -> Generator[Step, Any, None]:
        world.starts += 1
        local_state = call.state  # generator locals hold the call's state dict
        try:
            item = yield from call.ask("Item?", max_digits=2, valid={"10", "20"}, name="item")
            local_state["item"] = item
            stamp = call.once(lambda: len(world.effects))
            note = yield call.record("Say a note", max_seconds=5, name="note")
            amount = yield call.ask_digits("Amount?", max_digits=3, name="amount")
            receipt = call.at_most_once(world.charge, int(amount or 0), key_param="key")
            if isinstance(receipt, Skipped):
                yield call.hangup(f"Not sure about {receipt.key}")
                return
            local_state["receipt"] = receipt
            ok = yield from call.confirm(f"Paid {receipt} at {stamp}, {note.url}. Again?")
            if ok:
                yield call.say(f"Item {local_state['item']} again").hangup()
            else:
                yield call.hangup("Bye")
        finally:
            call.once(world.effects.append, "cleanup")

    return app


def _run(script: Script, store: CallStore) -> tuple[list[str], list[Any], World]:
    world = World()
    client = Client(_app(world, store))
    replies: list[str] = []
    for params in script:
        params = dict(params)
        if params.pop("fail", None):
            world.fail_charge = 1
        replies.append(client.get("/", query_string={"sid": "77", **params}).data.decode())
    stored = store.load("77")
    record: Any = None
    if stored is not None:
        record = json.loads(stored.to_json())
        for key in ("created_at", "updated_at", "ended_at"):
            record.pop(key)
        record["history"] = [name for name, _ in record["history"]]
        record["version"] = stored.version
    return replies, [record], world


def dtmf(digits: str) -> dict[str, str]:
    return {"event": "GotDTMF", "data": digits}


RECORD = {"event": "Record", "data": "http://rec/1.wav", "record_duration": "3"}
SCRIPTS: dict[str, Script] = {
    "straight through": [
        {"event": "NewCall", "cid": "09876543210"},
        dtmf("10"),
        RECORD,
        dtmf("250"),
        dtmf("1"),
        {"event": "Disconnect"},
    ],
    "re-prompts, a resync and a repeated NewCall": [
        {"event": "NewCall"},
        dtmf(""),
        dtmf("99"),
        RECORD,  # the step waits for digits: the step is said again
        dtmf("20"),
        {"event": "NewCall"},  # a repeated NewCall of the live flow
        dtmf("5"),  # the record step waits for a recording
        RECORD,
        dtmf("7"),
        dtmf("2"),
        {"event": "Hangup"},
    ],
    "hangup in the middle": [{"event": "NewCall"}, dtmf("10"), {"event": "Hangup"}],
    "at_most_once after a crash, then a retry": [
        {"event": "NewCall"},
        dtmf("10"),
        RECORD,
        {**dtmf("300"), "fail": "1"},
        dtmf("300"),
        {"event": "Disconnect"},
    ],
    "disconnect after a failed step": [
        {"event": "NewCall"},
        dtmf("10"),
        RECORD,
        {**dtmf("400"), "fail": "1"},
        {"event": "Disconnect"},
    ],
}


@pytest.mark.parametrize("name", list(SCRIPTS))
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_kept_and_replayed_flows_answer_and_store_the_same(
    name: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def store(tag: str) -> CallStore:
        if kind == "memory":
            return MemoryStore()
        return SQLiteStore(tmp_path / f"{tag}.sqlite3")

    script = SCRIPTS[name]
    kept = _run(script, store("kept"))
    monkeypatch.setattr(FlowRunner, "keep_limit", 0)
    replayed = _run(script, store("replayed"))
    assert kept[0] == replayed[0]  # replies, byte for byte
    assert kept[1] == replayed[1]  # the stored call: journal, state, history, version
    assert kept[2].effects == replayed[2].effects  # side effects, cleanup, hooks
    # The kept path did resume: it started the generator less often than one per request.
    requests = len(script)
    assert replayed[2].starts >= requests - 1
    assert kept[2].starts < replayed[2].starts


def test_a_flow_saved_by_another_worker_replays(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    world = World()
    mine, other = _app(world, SQLiteStore(path)), _app(world, SQLiteStore(path))

    def get(app: KooKoo, **params: str) -> str:
        return Client(app).get("/", query_string={"sid": "78", **params}).text

    get(mine, event="NewCall")
    assert world.starts == 1
    get(mine, event="GotDTMF", data="10")  # kept: no new start
    assert world.starts == 1
    assert "Amount?" in get(other, event="Record", data="http://rec/2.wav")  # replays there
    assert world.starts == 2
    # Back on the first worker: its kept generator is stale (one step behind); it replays.
    assert "Paid r120" in get(mine, event="GotDTMF", data="120")
    assert world.starts == 3
    assert world.effects.count("charge 120 78:once:1") == 1


def test_the_cache_is_bounded_and_closes_what_it_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FlowRunner, "keep_limit", 2)
    world = World()
    app = _app(world, MemoryStore())
    client = Client(app)
    for sid in ("1", "2", "3"):
        client.get("/", query_string={"sid": sid, "event": "NewCall"})
    # The first call's generator was dropped (closed: its finally block ran, with once inert).
    assert world.effects == []
    assert world.starts == 3
    client.get("/", query_string={"sid": "1", "event": "GotDTMF", "data": "10"})
    assert world.starts == 4  # replayed
    client.get("/", query_string={"sid": "3", "event": "GotDTMF", "data": "10"})
    assert world.starts == 4  # resumed
