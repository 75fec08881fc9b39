"""The per-process cache of recently saved calls (CallStore.remember / recall): a request of a
call this process served last skips the load, and gives exactly what a load would give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from kookoo import Call, Event, GotDTMF, KooKoo, NewCall, Response
from kookoo.state import calls as calls_module
from kookoo.state.stores import CallStore, MemoryStore, RedisStore, SQLiteStore


def _counting(store: CallStore) -> list[str]:
    """Record every load of ``store`` (by sid)."""
    loads: list[str] = []
    load = store.load

    def counted(sid: str) -> Call | None:
        loads.append(sid)
        return load(sid)

    store.load = counted  # type: ignore[method-assign]
    return loads


def _counter_app(store: CallStore, conflict_retries: int = 2) -> KooKoo:
    app = KooKoo(store=store, conflict_retries=conflict_retries)

    @app.on_new_call
    def start(event: NewCall, call: Call) -> Response:
        call.state["n"] = 0
        return Response().play_text("hello")

    @app.on_dtmf
    def press(event: GotDTMF, call: Call) -> Response:
        call.state["n"] += 1
        call.state.setdefault("keys", []).append(event.digits)
        return Response().play_text(f"n is {call.state['n']}")

    return app


def _drive(app: KooKoo, sid: str, presses: int) -> list[bytes]:
    client = Client(app)
    bodies = [client.get(f"/?event=NewCall&sid={sid}&cid=09876543210").data]
    for i in range(presses):
        bodies.append(client.get(f"/?event=GotDTMF&sid={sid}&data={i % 10}").data)
    return bodies


def _record(store: CallStore, sid: str) -> dict[str, Any]:
    loaded = store.load(sid)
    assert loaded is not None
    record: dict[str, Any] = json.loads(loaded.to_json())
    # Timestamps differ between two runs; everything else must be identical.
    for key in ("created_at", "updated_at"):
        record.pop(key)
    record["history"] = [event for event, _ in record["history"]]
    record["version"] = loaded.version
    return record


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_warm_call_is_not_loaded_and_ends_as_an_uncached_one(kind: str, tmp_path: Path) -> None:
    def make(name: str, limit: int) -> CallStore:
        store: CallStore = (
            MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / f"{name}.sqlite3")
        )
        store.recent_limit = limit
        return store

    cached, uncached = make("cached", 4096), make("uncached", 0)
    cached_loads, uncached_loads = _counting(cached), _counting(uncached)
    assert _drive(_counter_app(cached), "41", 5) == _drive(_counter_app(uncached), "41", 5)
    # every GotDTMF found the call this process saved last (the worker's first request also
    # probes the store with its reserved health record, kookoo.web.health)
    assert [sid for sid in cached_loads if not sid.startswith("kookoo:")] == []
    assert [sid for sid in uncached_loads if not sid.startswith("kookoo:")] == ["41"] * 5
    assert _record(cached, "41") == _record(uncached, "41")
    assert _record(cached, "41")["state"] == {"n": 5, "keys": ["0", "1", "2", "3", "4"]}


def test_a_stale_cached_call_reruns_on_the_stored_one_without_using_a_retry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "calls.sqlite3"
    mine, other = SQLiteStore(path), SQLiteStore(path)  # two worker processes, one file
    app, elsewhere = _counter_app(mine, conflict_retries=0), _counter_app(other)
    _drive(app, "42", 1)  # n = 1, cached here
    Client(elsewhere).get("/?event=GotDTMF&sid=42&data=7")  # n = 2, saved by the other worker
    # SQLite tells a stale entry by its version: the load runs, nothing is run twice.
    loads = _counting(mine)
    body = Client(app).get("/?event=GotDTMF&sid=42&data=8").data
    assert b"n is 3" in body
    assert loads == ["42"]
    assert _record(mine, "42")["state"] == {"n": 3, "keys": ["0", "7", "8"]}


def test_a_stale_call_that_only_the_save_can_tell_is_a_free_conflict() -> None:
    store = MemoryStore()
    store._is_current = lambda call: True  # type: ignore[method-assign]  # as RedisStore does
    app = _counter_app(store, conflict_retries=0)
    _drive(app, "43", 1)
    stored = store.load("43")
    assert stored is not None
    stored.state["n"] = 10
    store.save(stored)  # another process's save, unseen by the cache
    body = Client(app).get("/?event=GotDTMF&sid=43&data=5").data
    assert b"n is 11" in body  # re-run on the stored call, though conflict_retries=0
    assert _record(store, "43")["state"]["n"] == 11


def test_a_failed_request_drops_the_cached_call_and_the_error_handler_sees_the_stored_one() -> None:
    store = MemoryStore()
    app = KooKoo(store=store)

    @app.on_new_call
    def start(event: NewCall, call: Call) -> Response:
        call.state["balance"] = 500
        return Response().play_text("hi")

    @app.on_dtmf
    def withdraw(event: GotDTMF, call: Call) -> Response:
        call.state["balance"] -= 100
        if event.digits == "9":
            raise ConnectionError("down")
        return Response().play_text(f"left {call.state['balance']}")

    @app.errorhandler(ConnectionError)
    def down(error: ConnectionError, event: Event, call: Call) -> Response:
        return Response().play_text(f"still {call.state['balance']}").hangup()

    client = Client(app)
    client.get("/?event=NewCall&sid=44")
    assert b"left 400" in client.get("/?event=GotDTMF&sid=44&data=1").data
    assert b"still 400" in client.get("/?event=GotDTMF&sid=44&data=9").data
    assert b"left 300" in client.get("/?event=GotDTMF&sid=44&data=1").data


def test_delete_and_expiry_forget_the_cached_call() -> None:
    now = [1000.0]
    store = MemoryStore(ttl_seconds=60, clock=lambda: now[0])
    app = _counter_app(store)
    _drive(app, "45", 1)
    store.delete("45")
    assert store.recall("45") is None
    _drive(app, "46", 1)
    now[0] += 61
    assert store.recall("46") is None


def test_the_cache_is_bounded() -> None:
    store = MemoryStore()
    store.recent_limit = 3
    for sid in "abcde":
        call = Call(sid)
        store.save(call)
        store.remember(call)
    assert [store.recall(sid) is not None for sid in "abcde"] == [False, False, True, True, True]
    assert store.recall("e") is None  # handed out once


def test_redis_warm_request_is_one_command(redis_url: str, redis_prefix: str) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        app = _counter_app(store)
        _drive(app, "47", 1)
        sent: list[Any] = []
        execute = store.client.execute_command

        def counting(*args: Any, **kwargs: Any) -> Any:
            sent.append(args[0])
            return execute(*args, **kwargs)

        store.client.execute_command = counting
        assert b"n is 2" in Client(app).get("/?event=GotDTMF&sid=47&data=1").data
        assert sent == ["EVALSHA"]
        sent.clear()
        store.forget()
        assert b"n is 3" in Client(app).get("/?event=GotDTMF&sid=47&data=1").data
        assert sent == ["HMGET", "EVALSHA"]
    finally:
        store.close()


@pytest.mark.parametrize(
    "state",
    [
        {"a": 1.5, "b": [1, 2.25, None, True], "c": {"d": "ü ✓ \u2028"}},
        {"big": 2**70, "neg": -(2**65)},  # beyond orjson's 64 bits: the standard library
        {"f": 1e16, "g": 5e-324, "h": -0.0},
    ],
)
def test_orjson_and_the_standard_library_store_the_same_values(
    state: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Call parses numbers given as text (documented); its fields are typed PhoneNumber only.
    call = Call("48", caller="09876543210", state=state, journal=[{"x": (1, 2)}])  # type: ignore[arg-type]
    call.record_event("NewCall", at=1764653766.1234567)
    fast = call.to_json()
    monkeypatch.setattr(calls_module, "_orjson", None)
    slow = call.to_json()
    assert json.loads(fast) == json.loads(slow)
    from_slow = Call.from_json(slow, version=1)
    monkeypatch.undo()
    from_fast = Call.from_json(fast, version=1)
    assert from_fast == from_slow
    assert from_fast.state == state


def test_a_record_orjson_cannot_read_is_read_by_the_standard_library() -> None:
    call = Call("49", state={"big": 2**80})
    assert Call.from_json(call.to_json(), version=3).state == {"big": 2**80}
    with pytest.raises(ValueError, match="not JSON"):
        Call.from_json("{not json", version=1)
