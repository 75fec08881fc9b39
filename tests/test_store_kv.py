"""The values every call store keeps beside its calls (CallStore.update / get / pop): one
contract, run against MemoryStore, SQLiteStore and RedisStore (on a real redis-server), plus
what is particular to each backend."""

from __future__ import annotations

import datetime
import math
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from spies import record_writes, redis_advance
from test_store_faults import seal, unseal

from kookoo.state.calls import Call
from kookoo.state.stores import (
    DEFAULT_VALUE_ATTEMPTS,
    CallStore,
    ConflictError,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    StoreUnavailableError,
    ValueConflictError,
)
from kookoo.testing.servers import free_port

NS = "test.values"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    kind: str
    store: CallStore
    advance: Callable[[float], None]


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    kind: str = request.param
    clock = FakeClock()

    def advance_clock(seconds: float) -> None:
        clock.now += seconds

    store: CallStore
    advance: Callable[[float], None] = advance_clock
    if kind == "memory":
        store = MemoryStore(clock=clock)
    elif kind == "sqlite":
        store = SQLiteStore(tmp_path / "calls.db", clock=clock)
    else:
        prefix = request.getfixturevalue("redis_prefix")
        # calls at <prefix>call:..., so the values are at <prefix>kv:...
        store = RedisStore(request.getfixturevalue("redis_url"), prefix=prefix + "call:")
        advance = redis_advance(request.getfixturevalue("redis_client"), prefix)
    try:
        yield Harness(kind, store, advance)
    finally:
        store.close()


def increment(value: Any) -> int:
    return int(value or 0) + 1


def always(value: object) -> Callable[[object], object]:
    """A change to ``value`` whatever was there, bound now (as a lambda in a loop is not)."""
    return lambda _: value


# -- the contract ------------------------------------------------------------------------------


def test_create_read_update(harness: Harness) -> None:
    store = harness.store
    assert store.get(NS, "a") is None
    seen: list[Any] = []

    def change(current: Any) -> dict[str, Any]:
        seen.append(current)
        return {"n": (current or {"n": 0})["n"] + 1, "who": ["ऑ", None, True, 1.5]}

    assert store.update(NS, "a", change, ttl_seconds=60) == {"n": 1, "who": ["ऑ", None, True, 1.5]}
    assert store.update(NS, "a", change, ttl_seconds=60)["n"] == 2
    assert seen == [None, {"n": 1, "who": ["ऑ", None, True, 1.5]}]
    assert store.get(NS, "a") == {"n": 2, "who": ["ऑ", None, True, 1.5]}


def test_returning_none_deletes(harness: Harness) -> None:
    store = harness.store
    store.update(NS, "a", lambda _: 5, ttl_seconds=60)
    assert store.update(NS, "a", lambda current: None, ttl_seconds=60) is None
    assert store.get(NS, "a") is None
    assert store.update(NS, "a", lambda current: None, ttl_seconds=60) is None  # absent stays
    assert store.update(NS, "a", increment, ttl_seconds=60) == 1  # and may be created again


def test_pop_takes_the_value_out(harness: Harness) -> None:
    store = harness.store
    assert store.pop(NS, "a") is None
    store.update(NS, "a", lambda _: ["x", 1], ttl_seconds=60)
    assert store.pop(NS, "a") == ["x", 1]
    assert store.pop(NS, "a") is None
    assert store.get(NS, "a") is None


def test_values_are_copies_and_tuples_come_back_as_lists(harness: Harness) -> None:
    store = harness.store
    given = {"items": (1, 2)}
    assert store.update(NS, "a", lambda _: given, ttl_seconds=60) is given
    got = store.get(NS, "a")
    assert got == {"items": [1, 2]}
    got["items"].append(3)
    assert store.get(NS, "a") == {"items": [1, 2]}
    odd = "lone \udc80 surrogate, \x00 and \u2028"
    store.update(NS, "b", lambda _: odd, ttl_seconds=60)
    assert store.get(NS, "b") == odd


def test_namespaces_keys_and_calls_are_kept_apart(harness: Harness) -> None:
    store = harness.store
    store.update(NS, "k", lambda _: "one", ttl_seconds=60)
    store.update("test.other", "k", lambda _: "two", ttl_seconds=60)
    store.update(NS, "k2", lambda _: "three", ttl_seconds=60)
    for sid in ("k", f"{NS}:k", f"kv:{NS}:k", "kookoo:kv:test.values:k"):
        call = Call(sid, state={"call": True})
        store.save(call)
        assert store.load(sid) is not None
    assert (store.get(NS, "k"), store.get("test.other", "k"), store.get(NS, "k2")) == (
        "one",
        "two",
        "three",
    )
    store.delete("k")
    assert store.get(NS, "k") == "one"
    assert store.pop(NS, "k") == "one"
    loaded = store.load(f"{NS}:k")
    assert loaded is not None
    assert loaded.state == {"call": True}


def test_a_value_expires_ttl_seconds_after_its_last_write(harness: Harness) -> None:
    store = harness.store
    store.update(NS, "short", lambda _: 1, ttl_seconds=10)
    store.update(NS, "long", lambda _: 1, ttl_seconds=30)
    harness.advance(8)
    assert store.update(NS, "short", increment, ttl_seconds=10) == 2  # written again: 10 more
    harness.advance(8)
    assert store.get(NS, "short") == 2
    assert store.get(NS, "long") == 1
    harness.advance(3)
    assert store.get(NS, "short") is None
    assert store.update(NS, "short", increment, ttl_seconds=10) == 1  # expired counts as absent
    harness.advance(12)
    assert store.get(NS, "long") is None
    assert store.pop(NS, "long") is None


def test_expire_removes_expired_values(harness: Harness) -> None:
    store = harness.store
    for n in range(3):
        store.update(NS, f"old{n}", always(n), ttl_seconds=10)
    store.update(NS, "live", lambda _: "x", ttl_seconds=100)
    harness.advance(11)
    removed = store.expire()
    assert removed == (0 if harness.kind == "redis" else 3)  # Redis expires keys itself
    assert store.get(NS, "live") == "x"


def test_an_unchanged_value_is_not_written_again(harness: Harness) -> None:
    store = harness.store
    store.update(NS, "a", lambda _: {"slots": [1, 2.5], "at": 1.0}, ttl_seconds=10)
    writes = record_writes(store)
    harness.advance(8)
    assert store.update(NS, "a", lambda current: current, ttl_seconds=10) == {
        "slots": [1, 2.5],
        "at": 1.0,
    }
    assert store.update(NS, "absent", lambda current: None, ttl_seconds=10) is None
    assert writes == []
    harness.advance(3)  # nothing was written, so the expiry stayed where it was
    assert store.get(NS, "a") is None
    store.update(NS, "a", lambda current: 1, ttl_seconds=10)
    assert [w.key for w in writes] == ["a"]


def test_concurrent_threads_never_lose_an_increment(harness: Harness) -> None:
    store = harness.store
    threads, rounds = 8, 25
    barrier = threading.Barrier(threads, timeout=20)
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                got = store.update(NS, "count", increment, ttl_seconds=60, attempts=1000)
                with lock:
                    results.append(got)
        except BaseException as exc:  # reported below
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: more interleaving
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert store.get(NS, "count") == threads * rounds
    # every update saw its own predecessor: no two went through on the same read
    assert sorted(results) == list(range(1, threads * rounds + 1))


def test_concurrent_pops_hand_the_value_out_once(harness: Harness) -> None:
    store = harness.store
    for round_ in range(5):
        xml = f"xml {round_}"
        store.update(NS, "reply", always(xml), ttl_seconds=60)
        barrier = threading.Barrier(4, timeout=20)
        got: list[Any] = []

        def take(barrier: threading.Barrier = barrier, got: list[Any] = got) -> None:
            barrier.wait()
            got.append(store.pop(NS, "reply", attempts=100))

        workers = [threading.Thread(target=take) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert sorted(got, key=str) == [None, None, None, f"xml {round_}"]


def test_a_lost_race_runs_change_again_on_the_fresh_value(harness: Harness) -> None:
    store = harness.store
    store.update(NS, "n", lambda _: 10, ttl_seconds=60)
    seen: list[Any] = []

    def change(current: Any) -> int:
        seen.append(current)
        if len(seen) == 1:
            store.update(NS, "n", increment, ttl_seconds=60)  # another worker, in between
        return int(current) * 2

    assert store.update(NS, "n", change, ttl_seconds=60) == 22
    assert seen == [10, 11]
    assert store.get(NS, "n") == 22


def test_a_value_removed_and_written_again_meanwhile_is_not_overwritten(
    harness: Harness,
) -> None:
    """Versions are never reused, so a value that went away and came back between a read and
    a write does not pass for the one that was read."""
    store = harness.store
    store.update(NS, "n", lambda _: 5, ttl_seconds=60)
    seen: list[Any] = []

    def change(current: Any) -> int:
        seen.append(current)
        if len(seen) == 1:
            store.pop(NS, "n")
            store.update(NS, "n", lambda _: 100, ttl_seconds=60)
        return int(current) + 1

    assert store.update(NS, "n", change, ttl_seconds=60) == 101
    assert seen == [5, 100]


def test_conflict_after_the_retry_budget(harness: Harness) -> None:
    store = harness.store
    rivals: list[int] = []

    def change(current: Any) -> int:
        rivals.append(store.update(NS, "n", increment, ttl_seconds=60))  # always in between
        return 0

    with pytest.raises(ValueConflictError) as caught:
        store.update(NS, "n", change, ttl_seconds=60, attempts=4)
    assert rivals == [1, 2, 3, 4]  # change ran once per attempt
    assert store.get(NS, "n") == 4  # the rivals' updates all stand; ours never landed
    error = caught.value
    assert isinstance(error, ConflictError)
    assert (error.namespace, error.key, error.attempts) == (NS, "n", 4)
    assert str(error) == (
        "value 'n' in test.values kept changing under this update: its compare-and-set "
        "lost 4 races in a row"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.attempts) == (ValueConflictError, str(error), 4)
    rivals.clear()
    with pytest.raises(ValueConflictError, match=f"lost {DEFAULT_VALUE_ATTEMPTS} races"):
        store.update(NS, "n", change, ttl_seconds=60)
    assert len(rivals) == DEFAULT_VALUE_ATTEMPTS


class Unhashable:
    pass


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"ids": {1, 2}}, r"value\['ids'\] is a set, which JSON cannot hold; store a sorted list"),
        (
            [datetime.datetime(2026, 12, 2)],
            r"value\[0\] is a datetime, which JSON cannot hold; store \.isoformat\(\)",
        ),
        ({"x": [math.nan]}, r"value\['x'\]\[0\] is the float nan, which is not JSON"),
        ({"a": {1: "one"}}, r"value\['a'\] has the int key 1; JSON object keys must be str"),
        (Unhashable(), r"value is a Unhashable, which JSON cannot hold; convert it to str"),
    ],
)
def test_a_value_json_cannot_hold_is_refused_and_nothing_is_written(
    harness: Harness, value: Any, message: str
) -> None:
    store = harness.store
    store.update(NS, "a", lambda _: "before", ttl_seconds=60)
    with pytest.raises(TypeError, match=r"^cannot store test\.values 'a': " + message):
        store.update(NS, "a", lambda _: value, ttl_seconds=60)
    assert store.get(NS, "a") == "before"


def test_a_cycle_is_refused(harness: Harness) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(TypeError, match=r"value\[0\] refers back to itself"):
        harness.store.update(NS, "a", lambda _: loop, ttl_seconds=60)


def test_names_ttl_and_attempts_are_checked(harness: Harness) -> None:
    store = harness.store
    for namespace in ("", "a:b", "with space", 5):
        with pytest.raises(ValueError, match="namespace must be letters, digits"):
            store.update(namespace, "k", increment, ttl_seconds=1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="namespace must be letters, digits"):
            store.get(namespace, "k")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be a str, got int"):
        store.get(NS, 5)  # type: ignore[arg-type]
    for ttl in (0, -1, math.inf, math.nan):
        with pytest.raises(ValueError, match="ttl_seconds must be a positive number"):
            store.update(NS, "k", increment, ttl_seconds=ttl)
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        store.update(NS, "k", increment, ttl_seconds=1, attempts=0)
    assert store.get(NS, "k") is None
    assert store.update(NS, "", increment, ttl_seconds=1) == 1  # any str is a key


# -- an unavailable backend --------------------------------------------------------------------


def test_sqlite_locked_past_busy_timeout_is_unavailable_then_heals(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    with SQLiteStore(path, busy_timeout=0.2) as store:
        store.update(NS, "n", increment, ttl_seconds=60)
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another worker holding the write lock
            with pytest.raises(StoreUnavailableError, match="database is locked") as caught:
                store.update(NS, "n", increment, ttl_seconds=60)
            assert caught.value.store == store.name
            with pytest.raises(StoreUnavailableError, match="database is locked"):
                store.pop(NS, "n")
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        assert store.update(NS, "n", increment, ttl_seconds=60) == 2


def test_sqlite_unwritable_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    with SQLiteStore(path) as store:
        store.update(NS, "n", increment, ttl_seconds=60)
    seal(path)
    try:
        with SQLiteStore(path) as store:
            with pytest.raises(StoreUnavailableError, match=str(path)):
                store.update(NS, "n", increment, ttl_seconds=60)
            with pytest.raises(StoreUnavailableError, match="cannot open it for writing"):
                store.get(NS, "n")
    finally:
        unseal(path)
    with SQLiteStore(path) as store:
        assert store.update(NS, "n", increment, ttl_seconds=60) == 2


def test_redis_down_is_unavailable_naming_the_server() -> None:
    port = free_port()
    with RedisStore(f"redis://127.0.0.1:{port}/0") as store:
        attempts: tuple[Callable[[], object], ...] = (
            lambda: store.get(NS, "n"),
            lambda: store.update(NS, "n", increment, ttl_seconds=60),
            lambda: store.pop(NS, "n"),
        )
        for attempt in attempts:
            with pytest.raises(StoreUnavailableError, match=f"Redis at 127.0.0.1:{port}/0"):
                attempt()


@pytest.mark.redis
def test_redis_read_only_replica_refuses_writes_but_reads(tmp_path: Path) -> None:
    from test_store_faults import RedisProcess

    server = RedisProcess(tmp_path)
    server.start()
    admin = redis.Redis(port=server.port, socket_timeout=5)
    try:
        with RedisStore(server.url) as store:
            store.update(NS, "n", increment, ttl_seconds=60)
            admin.replicaof("127.0.0.1", str(free_port()))
            with pytest.raises(StoreUnavailableError, match="read only replica"):
                store.update(NS, "n", increment, ttl_seconds=60)
            admin.replicaof("NO", "ONE")
            assert store.update(NS, "n", increment, ttl_seconds=60) == 2
    finally:
        admin.close()
        server.stop()


# -- SQLite --------------------------------------------------------------------------------------


_WORKER = textwrap.dedent(
    """
    import sys
    from kookoo.state.stores import SQLiteStore

    path, rounds = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()  # all workers begin together, once all are imported
    with SQLiteStore(path) as store:
        for _ in range(rounds):
            store.update("test.values", "n", lambda n: (n or 0) + 1, ttl_seconds=600,
                         attempts=10_000)
    """
)


def test_sqlite_processes_never_lose_an_increment(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")  # a fresh file: they also race to create the schema
    rounds, processes = 200, 3
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, path, str(rounds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline() == "ready\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    with SQLiteStore(path) as store:
        assert store.get(NS, "n") == rounds * processes


def test_sqlite_keeps_values_in_their_own_table(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    with SQLiteStore(path) as store:
        store.update(NS, "k", lambda _: [1], ttl_seconds=60)
        store.save(Call("k"))
    conn = sqlite3.connect(path)
    try:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'kookoo_kv'").fetchone()
        assert sql[0].rstrip().endswith("WITHOUT ROWID")
        assert conn.execute("SELECT namespace, key, data FROM kookoo_kv").fetchall() == [
            (NS, "k", "[1]")
        ]
        assert conn.execute("SELECT sid FROM kookoo_calls").fetchall() == [("k",)]
    finally:
        conn.close()


def test_sqlite_adds_the_values_table_to_an_older_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE kookoo_calls (sid TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL,"
        " data TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID"
    )
    conn.close()
    with SQLiteStore(path) as store:
        assert store.update(NS, "k", increment, ttl_seconds=60) == 1


def test_sqlite_sweeps_expired_values_in_chunks(tmp_path: Path) -> None:
    clock = FakeClock()
    with SQLiteStore(tmp_path / "calls.db", clock=clock, checkpoint_interval=3600) as store:
        store.cleanup_batch, store.expire_chunk = 4, 3
        for n in range(30):
            store.update(NS, f"k{n:02d}", always(n), ttl_seconds=10 if n % 3 else 100)
        clock.now += 11
        assert store.maintain()[1] == 20
        assert store.expire() == 0
        assert [store.get(NS, f"k{n:02d}") for n in range(0, 30, 3)] == list(range(0, 30, 3))


def test_sqlite_without_background_a_write_sweeps_a_bounded_batch(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "calls.db"
    with SQLiteStore(path, clock=clock, cleanup_interval=60, background=False) as store:
        store.cleanup_batch = 3
        for n in range(5):
            store.update(NS, f"k{n}", increment, ttl_seconds=10)
        clock.now += 61
        store.update(NS, "live", increment, ttl_seconds=100)
        store.update(NS, "live2", increment, ttl_seconds=100)  # not again before the interval
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("SELECT count(*) FROM kookoo_kv").fetchone()[0] == 4
        finally:
            conn.close()
        assert store.expire() == 2


# -- Memory --------------------------------------------------------------------------------------


def test_memory_store_sweeps_values_lazily() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock, cleanup_interval=60)
    store.update(NS, "old", increment, ttl_seconds=10)
    clock.now += 61
    assert len(store._values) == 1  # invisible, not yet removed
    store.update(NS, "new", increment, ttl_seconds=10)  # the first write after the interval
    assert list(store._values) == [(NS, "new")]
    assert len(store) == 0  # len counts calls only


# -- Redis ---------------------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_values_have_their_own_keys_and_ttls(redis_url: str, redis_client: Any) -> None:
    with RedisStore(redis_url, prefix="test:kv-keys:call:") as store:
        assert store.kv_prefix == "test:kv-keys:kv:"
        assert store.value_key(NS, "k") == "test:kv-keys:kv:test.values:k"
        store.update(NS, "k", lambda _: {"a": 1}, ttl_seconds=30)
        assert redis_client.hget("test:kv-keys:kv:test.values:k", "d") == b'{"a":1}'
        assert 29_000 < redis_client.pttl("test:kv-keys:kv:test.values:k") <= 30_000
        store.update(NS, "k", lambda _: None, ttl_seconds=30)
        assert redis_client.exists("test:kv-keys:kv:test.values:k") == 0


@pytest.mark.redis
def test_redis_value_keys_really_expire(redis_url: str, redis_prefix: str) -> None:
    with RedisStore(redis_url, prefix=redis_prefix) as store:
        store.update(NS, "k", increment, ttl_seconds=0.2)
        assert store.get(NS, "k") == 1
        deadline = time.monotonic() + 3
        while store.get(NS, "k") is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.get(NS, "k") is None


@pytest.mark.redis
def test_redis_works_with_decoded_responses(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisStore(client=client, prefix=redis_prefix)
        assert store.update(NS, "k", lambda _: "ऑ", ttl_seconds=60) == "ऑ"
        assert store.update(NS, "k", lambda v: v + "!", ttl_seconds=60) == "ऑ!"
        assert store.pop(NS, "k") == "ऑ!"
    finally:
        client.close()


@pytest.mark.parametrize(
    ("prefix", "kv_prefix", "expected"),
    [
        ("kookoo:call:", None, "kookoo:kv:"),
        ("myivr:call:", None, "myivr:kv:"),
        ("acme:", None, "kv:acme:"),
        ("acme:", "acme-values:", "acme-values:"),
    ],
)
def test_redis_kv_prefix_is_derived_from_the_prefix(
    prefix: str, kv_prefix: str | None, expected: str
) -> None:
    with RedisStore(prefix=prefix, kv_prefix=kv_prefix) as store:  # connects lazily
        assert store.kv_prefix == expected


@pytest.mark.parametrize(
    ("prefix", "kv_prefix", "message"),
    [
        ("", None, "needs a non-empty prefix"),
        ("k", None, "overlap"),
        ("kv:", None, "overlap"),
        ("acme:", "acme:kv:", "overlap"),
        ("acme:values:", "acme:", "overlap"),
        ("acme:", "", "overlap"),
    ],
)
def test_redis_refuses_prefixes_a_sid_could_reach_values_through(
    prefix: str, kv_prefix: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RedisStore(prefix=prefix, kv_prefix=kv_prefix)
