"""Contract tests for every call store, plus what is particular to SQLite and Redis."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from spies import redis_advance

from kookoo.protocol.phone import PhoneNumber
from kookoo.state.calls import Call, CallStateError
from kookoo.state.stores import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_TTL_SECONDS,
    CallStore,
    ConflictError,
    MemoryStore,
    RedisStore,
    SQLiteStore,
)
from kookoo.state.stores.sqlite import DEFAULT_DB_FILENAME

TTL = 100.0
GRACE = 10.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """A store under test and a way to make time pass for it."""

    kind: str
    store: CallStore
    advance: Callable[[float], None]


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each store with TTL 100 s and grace 10 s."""
    kind: str = request.param
    clock = FakeClock()

    def advance_clock(seconds: float) -> None:
        clock.now += seconds

    store: CallStore
    advance: Callable[[float], None]
    if kind == "memory":
        store = MemoryStore(ttl_seconds=TTL, grace_seconds=GRACE, clock=clock)
        advance = advance_clock
    elif kind == "sqlite":
        store = SQLiteStore(
            tmp_path / "calls.db", ttl_seconds=TTL, grace_seconds=GRACE, clock=clock
        )
        advance = advance_clock
    else:
        client = request.getfixturevalue("redis_client")
        prefix = request.getfixturevalue("redis_prefix")
        store = RedisStore(
            request.getfixturevalue("redis_url"),
            prefix=prefix,
            ttl_seconds=TTL,
            grace_seconds=GRACE,
        )
        advance = redis_advance(client, prefix)
    try:
        yield Harness(kind, store, advance)
    finally:
        store.close()


def new_call(sid: str = "3341", **state: Any) -> Call:
    # Call parses numbers given as text (documented); its fields are typed PhoneNumber only.
    call = Call(sid, caller="09876543210", called_number="04066778899", created_at=1.0)  # type: ignore[arg-type]
    call.record_event("NewCall", at=1.0)
    call.state.update(state)
    return call


def must_load(store: CallStore, sid: str) -> Call:
    call = store.load(sid)
    assert call is not None, f"call {sid} not found"
    return call


# -- the contract ------------------------------------------------------------------------------


def test_save_and_load_round_trip(harness: Harness) -> None:
    call = new_call(lang="hi", basket=[1, {"x": None}], name="ऑज़ोनटेल")
    call.step = "menu"
    call.journal = ["a", 1]
    harness.store.save(call)
    assert call.version == 1
    loaded = must_load(harness.store, "3341")
    assert loaded == call
    assert loaded.caller == PhoneNumber.parse("09876543210")
    assert loaded.called_number == PhoneNumber.parse("04066778899")


def test_load_missing_returns_none(harness: Harness) -> None:
    assert harness.store.load("nope") is None


def test_version_increments_on_each_save(harness: Harness) -> None:
    call = new_call()
    harness.store.save(call)
    call.record_event("GotDTMF", at=2.0)
    harness.store.save(call)
    harness.store.save(call)
    assert call.version == 3
    loaded = must_load(harness.store, "3341")
    assert loaded.version == 3
    assert [entry.event for entry in loaded.history] == ["NewCall", "GotDTMF"]


def test_loaded_call_shares_nothing_with_the_store(harness: Harness) -> None:
    call = new_call(basket=[1])
    harness.store.save(call)
    call.state["basket"].append(2)
    loaded = must_load(harness.store, "3341")
    assert loaded.state["basket"] == [1]
    loaded.state["basket"].append(3)
    assert must_load(harness.store, "3341").state["basket"] == [1]


def test_stale_save_raises_conflict_and_keeps_the_winner(harness: Harness) -> None:
    harness.store.save(new_call(count=0))
    first = must_load(harness.store, "3341")
    second = must_load(harness.store, "3341")
    first.state["count"] = 1
    harness.store.save(first)
    second.state["count"] = 99
    with pytest.raises(ConflictError) as info:
        harness.store.save(second)
    error = info.value
    assert (error.sid, error.expected, error.found) == ("3341", 1, 2)
    assert str(error) == ("call 3341 was changed by another request (expected version 1, found 2)")
    assert second.version == 1  # unchanged, so the app can reload and retry
    assert must_load(harness.store, "3341").state == {"count": 1}


def test_creating_an_existing_call_conflicts(harness: Harness) -> None:
    harness.store.save(new_call(who="first"))
    with pytest.raises(ConflictError) as info:
        harness.store.save(new_call(who="second"))
    assert (info.value.expected, info.value.found) == (0, 1)
    assert must_load(harness.store, "3341").state == {"who": "first"}


def test_delete(harness: Harness) -> None:
    call = new_call()
    harness.store.save(call)
    harness.store.save(new_call("other"))
    harness.store.delete("3341")
    harness.store.delete("3341")  # deleting what is gone is fine
    assert harness.store.load("3341") is None
    assert harness.store.load("other") is not None
    with pytest.raises(ConflictError, match="found no record: it was deleted or has expired"):
        harness.store.save(call)
    fresh = new_call()
    harness.store.save(fresh)
    assert fresh.version == 1


def test_live_call_expires_after_ttl_without_activity(harness: Harness) -> None:
    call = new_call()
    harness.store.save(call)
    harness.advance(TTL - 5)
    harness.store.save(call)  # activity restarts the TTL
    harness.advance(TTL - 5)
    assert must_load(harness.store, "3341").version == 2
    harness.advance(10)
    assert harness.store.load("3341") is None


def test_ended_call_stays_for_the_grace_period(harness: Harness) -> None:
    call = new_call()
    harness.store.save(call)
    call.mark_ended(at=5.0)
    harness.store.save(call)
    harness.advance(GRACE - 2)
    late = must_load(harness.store, "3341")  # a late Disconnect still finds the call
    assert late.ended
    assert late.caller == PhoneNumber.parse("09876543210")
    harness.advance(4)
    assert harness.store.load("3341") is None


def test_expired_sid_can_be_created_again(harness: Harness) -> None:
    stale = new_call(n="old")
    harness.store.save(stale)
    harness.advance(TTL + 1)
    fresh = new_call(n="new")
    harness.store.save(fresh)
    assert fresh.version == 1
    assert must_load(harness.store, "3341").state == {"n": "new"}


def test_saving_onto_an_expired_record_conflicts(harness: Harness) -> None:
    call = new_call()
    harness.store.save(call)
    harness.advance(TTL + 1)
    with pytest.raises(ConflictError) as info:
        harness.store.save(call)
    assert (info.value.expected, info.value.found) == (1, 0)
    assert harness.store.load("3341") is None


def test_expire_removes_and_counts(harness: Harness) -> None:
    ended = new_call("ended")
    ended.mark_ended(at=2.0)
    for call in (new_call("a"), new_call("b"), ended):
        harness.store.save(call)
    # Redis deletes expired keys itself, so its expire() has nothing to count.
    counts = harness.kind != "redis"
    assert harness.store.expire() == 0
    harness.advance(GRACE + 1)
    assert harness.store.expire() == (1 if counts else 0)
    assert harness.store.load("ended") is None
    assert harness.store.load("a") is not None
    harness.advance(TTL)
    assert harness.store.expire() == (2 if counts else 0)
    assert harness.store.expire() == 0
    assert harness.store.load("a") is None


def test_non_json_state_raises_and_stores_nothing(harness: Harness) -> None:
    call = new_call(basket={"x"})
    with pytest.raises(CallStateError, match=r"state\['basket'\] is a set"):
        harness.store.save(call)
    assert call.version == 0
    assert harness.store.load("3341") is None

    good = new_call(n=1)
    harness.store.save(good)
    good.state["n"] = 2
    good.state["when"] = b"bytes"
    with pytest.raises(CallStateError, match=r"state\['when'\] is a bytes"):
        harness.store.save(good)
    assert good.version == 1
    loaded = must_load(harness.store, "3341")
    assert (loaded.version, loaded.state) == (1, {"n": 1})


def test_concurrent_threads_never_lose_an_increment(harness: Harness) -> None:
    harness.store.save(new_call(count=0))
    threads, per_thread = 4, 25
    saves: list[tuple[int, int]] = []  # (version loaded, version saved)
    conflicts: list[ConflictError] = []

    def work() -> None:
        for _ in range(per_thread):
            while True:
                call = must_load(harness.store, "3341")
                loaded_version = call.version
                call.state["count"] += 1
                try:
                    harness.store.save(call)
                except ConflictError as error:
                    conflicts.append(error)
                else:
                    saves.append((loaded_version, call.version))
                    break

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    final = must_load(harness.store, "3341")
    assert final.state["count"] == threads * per_thread
    assert final.version == 1 + threads * per_thread
    # Each successful save made a distinct new version: no two saves won from one version.
    assert sorted(saves) == [(v, v + 1) for v in range(1, 1 + threads * per_thread)]
    # How many conflicts there are depends on scheduling; what each one says does not: another
    # thread had saved since this one loaded.
    for error in conflicts:
        assert error.sid == "3341"
        assert error.found > error.expected >= 1


def save_all_at_once(store: CallStore, threads: int, rounds: int) -> None:
    """Race ``threads`` threads on call 3341, ``rounds`` times: each loads the call, all meet at
    a barrier, then all save at once.  Exactly one save per round must win; the other
    ``threads - 1`` must raise ConflictError for the version they all loaded."""
    store.save(new_call(count=0))
    barrier = threading.Barrier(threads, timeout=20)
    outcomes: list[list[object]] = [[] for _ in range(rounds)]
    lock = threading.Lock()

    def work(me: int) -> None:
        for round_ in range(rounds):
            outcome: object
            try:
                call = must_load(store, "3341")
                call.state.update(count=call.state["count"] + 1, by=me)
                barrier.wait()  # every thread has loaded the same version
                try:
                    store.save(call)
                    outcome = ("saved", me, call.version)
                except ConflictError as error:
                    outcome = error
                barrier.wait()  # every save is done before anyone loads again
            except Exception as error:  # a broken barrier, a store error: reported below
                outcome = error
                barrier.abort()
            with lock:
                outcomes[round_].append(outcome)

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: more interleaving
    try:
        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(old_interval)

    for round_, results in enumerate(outcomes):
        version = 1 + round_  # the version every thread loaded in this round
        wins = [r for r in results if isinstance(r, tuple)]
        conflicts = [r for r in results if isinstance(r, ConflictError)]
        assert len(results) == threads, (round_, results)
        assert len(wins) == 1, (round_, results)
        assert len(conflicts) == threads - 1, (round_, results)
        assert wins[0][2] == version + 1
        for error in conflicts:
            assert (error.sid, error.expected, error.found) == ("3341", version, version + 1)
    final = must_load(store, "3341")
    assert final.version == 1 + rounds
    last_winner = next(r[1] for r in outcomes[-1] if isinstance(r, tuple))
    assert final.state == {"count": rounds, "by": last_winner}


def test_simultaneous_saves_of_one_version_let_exactly_one_through(harness: Harness) -> None:
    save_all_at_once(harness.store, threads=8, rounds=10)


def test_memory_store_checks_and_sets_under_one_lock() -> None:
    """A thread may be switched out between MemoryStore reading a record's version and writing
    the new one; stall every read there, and only the lock keeps a second save of the same
    version out (without it all eight saves would win)."""

    class StallingReads(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            value = super().get(key, default)
            time.sleep(0.002)  # let the other threads run right here
            return value

    store = MemoryStore()
    store._records = StallingReads()
    save_all_at_once(store, threads=8, rounds=2)


def test_ttl_and_grace_are_configurable_and_validated() -> None:
    store = MemoryStore()
    assert (store.ttl_seconds, store.grace_seconds) == (DEFAULT_TTL_SECONDS, DEFAULT_GRACE_SECONDS)
    assert (DEFAULT_TTL_SECONDS, DEFAULT_GRACE_SECONDS) == (7200, 600)
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        MemoryStore(ttl_seconds=0)
    with pytest.raises(ValueError, match="grace_seconds must be positive"):
        MemoryStore(grace_seconds=-1)


def test_conflict_error_pickles() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(ConflictError("9", 3, 4)))
    assert (error.sid, error.expected, error.found) == ("9", 3, 4)
    assert str(error) == "call 9 was changed by another request (expected version 3, found 4)"


# -- lazy clean-up (no cron) -------------------------------------------------------------------


def _sqlite_rows(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        count: int = conn.execute("SELECT count(*) FROM kookoo_calls").fetchone()[0]
        return count
    finally:
        conn.close()


def test_memory_store_cleans_up_lazily_on_a_schedule() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl_seconds=TTL, grace_seconds=GRACE, clock=clock, cleanup_interval=60)
    store.save(new_call("old"))
    clock.now += TTL + 1
    assert len(store) == 1  # invisible to load, not yet removed
    assert store.load("old") is None
    store.save(new_call("new"))  # the first save after the interval sweeps
    assert len(store) == 1
    store.save(new_call("old"))
    clock.now += TTL + 1
    store.save(new_call("newer"))
    store.save(new_call("newest"))
    assert len(store) == 2  # swept once ("new", "old"); not again until the interval passes


def test_sqlite_store_cleans_up_lazily_in_bounded_batches(tmp_path: Path) -> None:
    clock = FakeClock()
    path = str(tmp_path / "calls.db")
    with SQLiteStore(
        path, ttl_seconds=TTL, clock=clock, cleanup_interval=60, background=False
    ) as store:
        store.cleanup_batch = 3
        for i in range(5):
            store.save(new_call(f"c{i}"))
        clock.now += TTL + 1
        assert _sqlite_rows(path) == 5
        store.save(new_call("live"))
        assert _sqlite_rows(path) == 3  # one batch of 3 removed, the request not held up
        store.save(new_call("live2"))
        assert _sqlite_rows(path) == 4  # not again before the interval
        clock.now += 61
        store.save(new_call("live3"))
        assert _sqlite_rows(path) == 3  # the 2 left over from before
        assert store.expire(clock.now + 1000) == 3


# -- SQLite ------------------------------------------------------------------------------------


def test_sqlite_uses_wal_and_one_btree_keyed_by_sid(tmp_path: Path) -> None:
    path = str(tmp_path / "calls.db")
    with SQLiteStore(path) as store:
        store.save(new_call())
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # WITHOUT ROWID and no expiry index: one B-tree write per request (see sqlite.py).
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'kookoo_calls'").fetchone()
        assert sql[0].rstrip().endswith("WITHOUT ROWID")
        assert conn.execute("PRAGMA index_list(kookoo_calls)").fetchall() == [
            (0, "sqlite_autoindex_kookoo_calls_1", 1, "pk", 0)
        ]
    finally:
        conn.close()


def test_sqlite_expiry_works_without_an_index(tmp_path: Path) -> None:
    now = [1000.0]
    with SQLiteStore(tmp_path / "calls.db", ttl_seconds=10, clock=lambda: now[0]) as store:
        for n in range(3):
            store.save(Call(f"s{n}"))
        now[0] += 11
        store.save(Call("fresh"))
        assert store.expire() == 3
        assert store.load("fresh") is not None


def test_sqlite_default_path_is_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOOKOO_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    with SQLiteStore() as store:
        assert store.path == str(tmp_path / DEFAULT_DB_FILENAME)
        assert DEFAULT_DB_FILENAME == "kookoo-calls.sqlite3"
        store.save(new_call())
    assert (tmp_path / "kookoo-calls.sqlite3").exists()


def test_sqlite_default_path_honours_kookoo_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere" / "ivr.sqlite3"
    target.parent.mkdir()
    monkeypatch.setenv("KOOKOO_DB", str(target))
    monkeypatch.chdir(tmp_path)
    with SQLiteStore() as store:
        assert store.path == str(target)
        store.save(new_call())
    assert target.exists()
    assert not (tmp_path / DEFAULT_DB_FILENAME).exists()
    with SQLiteStore(tmp_path / "explicit.db") as explicit:  # an explicit path wins
        assert explicit.path == str(tmp_path / "explicit.db")


def test_sqlite_path_is_resolved_when_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLiteStore("rel.db") as store:
        monkeypatch.chdir(tmp_path.parent)
        store.save(new_call())
    assert (tmp_path / "rel.db").exists()


@pytest.mark.parametrize("path", [":memory:", ""])
def test_sqlite_refuses_in_memory_databases(path: str) -> None:
    with pytest.raises(ValueError, match="use MemoryStore"):
        SQLiteStore(path)


def test_sqlite_store_is_usable_after_close(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "calls.db")
    store.save(new_call())
    store.close()
    store.close()
    try:
        assert must_load(store, "3341").version == 1
    finally:
        store.close()


_WORKER = textwrap.dedent(
    """
    import sys
    from kookoo.state.calls import Call
    from kookoo.state.stores import ConflictError, SQLiteStore

    path, rounds = sys.argv[1], int(sys.argv[2])
    conflicts = 0
    print("ready", flush=True)
    sys.stdin.readline()  # all workers begin together, once all are imported, so they overlap
    with SQLiteStore(path) as store:
        for _ in range(rounds):
            while True:
                call = store.load("shared") or Call("shared", state={"count": 0})
                call.state["count"] += 1
                try:
                    store.save(call)
                    break
                except ConflictError:
                    conflicts += 1
    print(conflicts)
    """
)


def test_sqlite_processes_share_one_call_without_losing_updates(tmp_path: Path) -> None:
    # A fresh file: the processes also race to create the schema, switch to WAL and create
    # the call, as gunicorn workers do on first start.
    path = str(tmp_path / "shared.db")
    rounds, processes = 200, 4
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
    for worker in workers:  # wait until every one has imported kookoo (slow on a busy machine)
        assert worker.stdout is not None
        assert worker.stdout.readline() == "ready\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    conflicts = 0
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        conflicts += int(out)
    assert conflicts > 0, "the workers never raced; the test proved nothing"
    with SQLiteStore(path) as store:
        final = must_load(store, "shared")
    assert final.state["count"] == rounds * processes
    assert final.version == rounds * processes


def _fork() -> int:
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process that has threads; none hold our locks.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _in_child(work: Callable[[], bytes]) -> bytes:
    """Run ``work`` in a forked child and return what it returned (or its error)."""
    read_end, write_end = os.pipe()
    pid = _fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            try:
                result = work()
            except BaseException as exc:
                result = f"error: {exc!r}".encode()
            os.write(write_end, result)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        chunks = []
        while chunk := os.read(read_end, 4096):
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    return b"".join(chunks)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sqlite_reopens_connections_after_fork(tmp_path: Path) -> None:
    path = tmp_path / "fork.db"
    with SQLiteStore(path) as store:
        store.save(new_call(n=0))  # the parent now holds an open connection
        parents = list(store._idle)
        assert parents

        def child() -> bytes:
            call = must_load(store, "3341")
            call.state["n"] += 1
            store.save(call)
            if any(conn in parents for conn in store._idle):
                return b"reused the parent's connection"
            return b"ok"

        assert _in_child(child) == b"ok"
        # The parent's connection and the WAL survived the child's exit.
        call = must_load(store, "3341")
        assert (call.version, call.state) == (2, {"n": 1})
        store.save(call)
        assert store._idle == parents
    with SQLiteStore(path) as fresh:
        assert must_load(fresh, "3341").version == 3


def test_sqlite_notices_a_pid_change_without_fork_hooks(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "calls.db") as store:
        store.save(new_call())
        old = list(store._idle)
        store._pid = -1  # as if forked by something that skipped os.register_at_fork
        assert must_load(store, "3341").version == 1
        assert store._pid == os.getpid()
        assert store._idle
        assert store._idle[0] not in old
        assert store._inherited == old
        for conn in store._inherited:  # in a real child these are never closed
            conn.close()


# -- Redis -------------------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_sets_key_ttl_from_ttl_and_grace(
    redis_url: str, redis_prefix: str, redis_client: Any
) -> None:
    with RedisStore(redis_url, prefix=redis_prefix, ttl_seconds=300, grace_seconds=30) as store:
        call = new_call()
        store.save(call)
        key = redis_prefix + "3341"
        assert store.key("3341") == key
        assert 299_000 < redis_client.pttl(key) <= 300_000
        call.mark_ended()
        store.save(call)
        assert 29_000 < redis_client.pttl(key) <= 30_000
        assert redis_client.hget(key, "v") == b"2"


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` every 10 ms until it holds (True) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.redis
def test_redis_keys_really_expire(redis_url: str, redis_prefix: str, redis_client: Any) -> None:
    # TTL 1 s, grace 0.2 s: "ended" goes first and "live" must outlast it by ~0.8 s, a margin
    # no plausible CI stall eats; the expiries are polled for, never slept through.
    with RedisStore(redis_url, prefix=redis_prefix, ttl_seconds=1.0, grace_seconds=0.2) as store:
        store.save(new_call("live"))
        ended = new_call("ended")
        ended.mark_ended()
        store.save(ended)
        live_key, ended_key = store.key("live"), store.key("ended")
        assert 0 < redis_client.pttl(ended_key) <= 200
        assert redis_client.pttl(ended_key) < redis_client.pttl(live_key) <= 1000
        assert wait_until(lambda: store.load("ended") is None, timeout=2.0)
        assert redis_client.exists(ended_key) == 0
        assert store.load("live") is not None
        assert wait_until(lambda: store.load("live") is None, timeout=3.0)
        assert redis_client.exists(live_key) == 0


@pytest.mark.redis
def test_redis_prefixes_keep_apps_apart(redis_url: str, redis_prefix: str) -> None:
    with (
        RedisStore(redis_url, prefix=redis_prefix + "a:") as one,
        RedisStore(redis_url, prefix=redis_prefix + "b:") as two,
    ):
        one.save(new_call(app="one"))
        assert two.load("3341") is None
        two.save(new_call(app="two"))
        assert must_load(one, "3341").state == {"app": "one"}


@pytest.mark.redis
def test_redis_store_uses_a_given_client_and_leaves_it_open(
    redis_prefix: str, redis_client: Any
) -> None:
    store = RedisStore(client=redis_client, prefix=redis_prefix)
    store.save(new_call())
    store.close()
    assert redis_client.ping()
    assert must_load(store, "3341").version == 1


@pytest.mark.redis
def test_redis_store_works_with_decoded_responses(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisStore(client=client, prefix=redis_prefix)
        call = new_call(name="ऑ")
        store.save(call)
        store.save(call)
        assert must_load(store, "3341") == call
    finally:
        client.close()


def test_redis_store_without_the_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` fail
    with pytest.raises(ImportError, match=r"pip install 'kookoo\[redis\]'"):
        RedisStore()
