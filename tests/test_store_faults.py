"""Stores that heal: real outages (a killed or frozen redis-server, an unwritable, locked or full
SQLite file) raise StoreUnavailableError, and the first request after recovery works, in-process
and under ``gunicorn -w 2``.  Every wait is bounded; outages last a second or two."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from servers import gunicorn, http_get, worker_pids

from benchmarks.procs import free_port, redis_binary
from kookoo.state.calls import Call
from kookoo.state.stores import (
    CallStore,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    StoreUnavailableError,
)
from kookoo.state.stores.redis_store import (
    DEFAULT_REDIS_CONNECT_TIMEOUT,
    DEFAULT_REDIS_SOCKET_TIMEOUT,
)

TIMEOUT = 0.2  # Redis connect and socket timeouts in these tests
# A store outage is heard as the app's unavailable_prompt (not its handler-failure fallback).
OUTAGE = (
    b"<playtext>Our system is down for a moment, please call again.</playtext><hangup/></response>"
)


def new_call(sid: str = "3341", **state: Any) -> Call:
    # Call parses numbers given as text (documented); its fields are typed PhoneNumber only.
    call = Call(sid, caller="09876543210")  # type: ignore[arg-type]
    call.state.update(state)
    return call


# -- a redis-server we may kill, restart on the same port, and freeze --------------------------


class RedisProcess:
    """A throwaway redis-server (no persistence unless told) on a fixed free loopback port."""

    def __init__(self, workdir: Path, *extra: str) -> None:
        binary = redis_binary()
        if binary is None:
            pytest.fail("redis-server is not installed (not on PATH and REDIS_SERVER is not set)")
        self.binary = binary
        self.workdir = workdir
        self.extra = extra
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.workdir), "--save", "", "--appendonly", "no", *self.extra]
        with (self.workdir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=self.port, socket_timeout=0.5) as probe:
                    if probe.ping():
                        return
            except redis.RedisError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log_text = (self.workdir / "redis.log").read_text(errors="replace")[-1500:]
                pytest.fail(f"redis-server did not start on port {self.port}:\n{log_text}")
            time.sleep(0.01)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- making an SQLite file unwritable ----------------------------------------------------------


def seal(path: Path) -> None:
    """Make ``path`` unwritable for every process: connections opened meanwhile are read-only.
    Root ignores permission bits, so as root the file is made immutable (``chattr +i``)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"running as root, and `chattr +i` is not possible here: {made.stderr}")


def unseal(path: Path) -> None:
    """Undo :func:`seal`; harmless if ``path`` is not sealed."""
    if os.geteuid() != 0:
        path.chmod(0o644)
    else:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` is unwritable inside the block, writable again after it."""
    seal(path)
    try:
        yield
    finally:
        unseal(path)


def make_database(path: Path) -> None:
    """Create the store's database file (and close it, so no -wal file is left)."""
    with SQLiteStore(path) as store:
        store.save(new_call("seed"))


# -- the contract: an outage raises StoreUnavailableError; the first request after it works --


@dataclass
class Outage:
    """A store and a way to take its backend away and give it back."""

    store: CallStore
    begin: Callable[[], object]
    end: Callable[[], object]
    cause: str  # a regular expression the error's cause matches
    reads_work: bool = False  # load still succeeds during this outage
    loses_data: bool = False  # the backend comes back empty
    late_writes: bool = False  # a command that timed out may still run when the backend wakes
    cleanup: list[Callable[[], None]] = field(default_factory=list)


def _redis_outage(kind: str, tmp_path: Path) -> Outage:
    server = RedisProcess(tmp_path)
    server.start()
    store = RedisStore(server.url, connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    admin = redis.Redis(port=server.port, socket_timeout=5)
    cleanup = [store.close, admin.close, server.stop]
    if kind == "redis-killed":
        return Outage(
            store,
            server.kill,
            server.start,
            r"Connection refused",
            loses_data=True,
            cleanup=cleanup,
        )
    if kind == "redis-frozen":
        return Outage(
            store,
            server.freeze,
            server.thaw,
            r"[Tt]imeout.*\(socket_timeout=0\.2 s\)$",
            late_writes=True,
            cleanup=cleanup,
        )
    if kind == "redis-out-of-memory":
        return Outage(
            store,
            lambda: admin.config_set("maxmemory", "1"),
            lambda: admin.config_set("maxmemory", "0"),
            r"command not allowed when used memory > .maxmemory.",
            reads_work=True,
            cleanup=cleanup,
        )
    assert kind == "redis-read-only-replica"
    return Outage(
        store,
        lambda: admin.replicaof("127.0.0.1", str(free_port())),  # a master that is not there
        lambda: admin.replicaof("NO", "ONE"),
        r"read only replica",
        reads_work=True,
        cleanup=cleanup,
    )


def _sqlite_outage(kind: str, tmp_path: Path) -> Outage:
    path = tmp_path / "calls.db"
    make_database(path)
    store = SQLiteStore(path, busy_timeout=TIMEOUT)
    if kind == "sqlite-unwritable":
        return Outage(
            store,
            lambda: seal(path),
            lambda: unseal(path),
            r"cannot open it for writing: attempt to write a readonly database",
            cleanup=[store.close, lambda: unseal(path)],
        )
    assert kind == "sqlite-locked"
    holder = sqlite3.connect(path, isolation_level=None)
    return Outage(
        store,
        lambda: holder.execute("BEGIN IMMEDIATE"),  # as another worker holding the write lock
        lambda: holder.execute("ROLLBACK"),
        r"database is locked \(another connection held it longer than busy_timeout=0\.2 s\)",
        cleanup=[store.close, holder.close],
    )


OUTAGES = [
    pytest.param("redis-killed", marks=pytest.mark.redis),
    pytest.param("redis-frozen", marks=pytest.mark.redis),
    pytest.param("redis-out-of-memory", marks=pytest.mark.redis),
    pytest.param("redis-read-only-replica", marks=pytest.mark.redis),
    "sqlite-unwritable",
    "sqlite-locked",
]


@pytest.fixture(params=OUTAGES)
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    kind: str = request.param
    made = (
        _redis_outage(kind, tmp_path)
        if kind.startswith("redis")
        else _sqlite_outage(kind, tmp_path)
    )
    try:
        yield made
    finally:
        for step in made.cleanup:
            step()


def _load_then_save(store: CallStore, reads_work: bool) -> None:
    """One request's store work: load the call, change it, save it."""
    call = store.load("3341")
    assert reads_work, "load should have raised during this outage"
    assert call is not None
    assert call.state == {"n": 1}
    call.state["n"] = 2
    store.save(call)


def test_an_outage_raises_store_unavailable_and_the_first_request_after_it_works(
    outage: Outage,
) -> None:
    store = outage.store
    store.save(new_call(n=1))  # the store has been used: a pooled connection is open
    store.save(new_call("other", n=9))
    if isinstance(store, SQLiteStore):
        store.close()  # a worker that (re)connects during the outage, as in gunicorn
    outage.begin()
    try:
        for attempt in range(2):  # the second try must not be any luckier than the first
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError) as info:
                _load_then_save(store, outage.reads_work)
            elapsed = time.monotonic() - started
            error = info.value
            assert error.store == getattr(store, "name", None)
            assert re.search(outage.cause, error.cause), (attempt, error.cause)
            assert str(error) == f"{error.store} is unavailable: {error.cause}"
            assert error.__cause__ is not None
            assert elapsed < 2 * TIMEOUT + 1.0, elapsed  # bounded by the timeouts, not hung
        with pytest.raises(StoreUnavailableError):
            store.save(new_call("fresh"))
    finally:
        outage.end()
    # Recovered: the very first request works, on the same store object, without a restart,
    # and on a clean connection: a reply meant for a request that gave up is never read as
    # this one's (3341's state here would mean the frozen HMGET's late reply was).
    other = store.load("other")
    call = store.load("3341")
    if outage.loses_data:  # a Redis without persistence was restarted
        assert (other, call) == (None, None)
        call = new_call(n=1)
        store.save(call)
    else:
        assert other is not None
        assert other.state == {"n": 9}
    assert call is not None
    assert call.state == {"n": 1}
    call.state["n"] = 3
    store.save(call)
    again = store.load("3341")
    assert again is not None
    assert (again.state, again.version) == ({"n": 3}, call.version)
    if not outage.late_writes:
        assert store.load("fresh") is None  # the save that raised stored nothing


def test_every_store_has_a_name_for_errors_and_logs(tmp_path: Path) -> None:
    assert MemoryStore().name == f"MemoryStore of process {os.getpid()}"  # never unavailable
    assert SQLiteStore(tmp_path / "x.db").name == f"SQLite database {tmp_path / 'x.db'}"
    with RedisStore("redis://127.0.0.1:6390/3") as store:
        assert store.name == "Redis at 127.0.0.1:6390/3"


def test_store_unavailable_error_pickles_and_names_store_and_cause() -> None:
    error = StoreUnavailableError("Redis at 10.0.0.5:6379/0", "Timeout reading from socket")
    assert str(error) == "Redis at 10.0.0.5:6379/0 is unavailable: Timeout reading from socket"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.store, copy.cause, str(copy)) == (error.store, error.cause, str(error))


# -- SQLite ------------------------------------------------------------------------------------


def test_sqlite_unwritable_file_fails_at_connect_naming_the_file_and_kookoo_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ivr.sqlite3"
    make_database(path)
    monkeypatch.setenv("KOOKOO_DB", str(path))
    store = SQLiteStore()
    try:
        with unwritable(path):
            with pytest.raises(StoreUnavailableError) as info:
                store.load("seed")  # even a read: the connection could never save
            assert store._idle == []  # nothing read-only was pooled
        assert str(info.value) == (
            f"SQLite database {path} (from KOOKOO_DB) is unavailable: "
            "cannot open it for writing: attempt to write a readonly database"
        )
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        call = store.load("seed")  # writable again: the same store heals
        assert call is not None
        store.save(call)
        assert call.version == 2
    finally:
        store.close()


def test_sqlite_names_the_default_file_and_how_to_choose_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOOKOO_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert SQLiteStore().name == (
        f"SQLite database {tmp_path / 'kookoo-calls.sqlite3'} (the default in the working "
        "directory; set KOOKOO_DB to choose the file)"
    )
    assert SQLiteStore(tmp_path / "x.db").name == f"SQLite database {tmp_path / 'x.db'}"


def test_sqlite_missing_directory_is_unavailable_not_a_raw_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "no" / "such" / "dir" / "calls.db")
    with pytest.raises(StoreUnavailableError, match="cannot open it: unable to open database file"):
        store.save(new_call())
    (tmp_path / "no" / "such" / "dir").mkdir(parents=True)
    store.save(new_call())  # the directory exists now: the next request works
    store.close()


def test_sqlite_opens_the_file_read_write_by_uri(tmp_path: Path) -> None:
    path = tmp_path / "odd name?#%.db"  # characters a URI must escape
    with SQLiteStore(path) as store:
        store.save(new_call())
        assert store.load("3341") is not None
    assert path.exists()
    # the database and its version board, both under the very name given
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "odd name?#%.db",
        "odd name?#%.db-kookoo-versions",
    ]


def test_sqlite_full_database_raises_unavailable_and_drops_the_connection(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "calls.db")
    try:
        store.save(new_call("small"))
        (conn,) = store._idle
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # this connection may not grow the file
        with pytest.raises(StoreUnavailableError) as info:
            store.save(new_call("big", blob="x" * 20_000))
        assert info.value.cause == "database or disk is full"
        assert conn not in store._idle  # the failed connection is gone, not reused
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")  # closed
        store.save(new_call("big", blob="x" * 20_000))  # a fresh connection: it fits
        loaded = store.load("big")
        assert loaded is not None
        assert loaded.state == {"blob": "x" * 20_000}
    finally:
        store.close()


def test_sqlite_a_connection_that_raised_is_never_reused(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "calls.db", busy_timeout=0.05) as store:
        store.save(new_call())
        (first,) = store._idle
        holder = sqlite3.connect(tmp_path / "calls.db", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            call = store.load("3341")
            assert call is not None
            with pytest.raises(StoreUnavailableError, match="database is locked"):
                store.save(call)
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        assert store._idle == []
        store.save(call)  # on a new connection
        assert store._idle
        assert store._idle[0] is not first


# -- Redis -------------------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_timeouts_default_well_under_a_second_and_are_configurable(redis_url: str) -> None:
    assert (DEFAULT_REDIS_CONNECT_TIMEOUT, DEFAULT_REDIS_SOCKET_TIMEOUT) == (0.25, 0.5)
    with RedisStore(redis_url) as store:
        kwargs = store.client.connection_pool.connection_kwargs
        assert (store.connect_timeout, store.socket_timeout) == (0.25, 0.5)
        assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (0.25, 0.5)
        retry = kwargs["retry"]  # redis-py 5.0 has no get_retries()
        assert (retry.get_retries() if hasattr(retry, "get_retries") else retry._retries) == 0
    with RedisStore(redis_url, connect_timeout=0.1, socket_timeout=2) as store:
        kwargs = store.client.connection_pool.connection_kwargs
        assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (0.1, 2.0)
    with RedisStore(redis_url + "?socket_timeout=5") as store:  # the URL has the last word
        kwargs = store.client.connection_pool.connection_kwargs
        assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (0.25, 5.0)
        assert (store.connect_timeout, store.socket_timeout) == (0.25, 5.0)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="socket_timeout must be a positive number"):
            RedisStore(redis_url, socket_timeout=bad)
        with pytest.raises(ValueError, match="connect_timeout must be a positive number"):
            RedisStore(redis_url, connect_timeout=bad)
    client = redis.Redis.from_url(redis_url)
    try:
        with pytest.raises(ValueError, match="set them on the client you pass"):
            RedisStore(client=client, socket_timeout=1)
        store = RedisStore(client=client)  # the client's own timeouts: none by default here
        assert (store.connect_timeout, store.socket_timeout) == (
            client.connection_pool.connection_kwargs.get("socket_connect_timeout"),
            client.connection_pool.connection_kwargs.get("socket_timeout"),
        )
    finally:
        client.close()


def test_redis_names_host_port_and_db_never_the_password() -> None:
    store = RedisStore("redis://kookoo:s3cret@cache.internal:6380/2")
    assert store.name == "Redis at cache.internal:6380/2"
    assert "s3cret" not in repr(store)
    assert repr(store) == "RedisStore('Redis at cache.internal:6380/2', prefix='kookoo:call:')"
    store.close()


def test_redis_unreachable_is_unavailable_within_the_timeout() -> None:
    port = free_port()  # nothing listens here
    with RedisStore(f"redis://:pw@127.0.0.1:{port}/0", connect_timeout=TIMEOUT) as store:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as info:
            store.load("3341")
        assert time.monotonic() - started < TIMEOUT + 1.0
    assert info.value.store == f"Redis at 127.0.0.1:{port}/0"
    assert "pw" not in str(info.value)
    assert isinstance(info.value.__cause__, redis.ConnectionError)


@pytest.mark.redis
def test_redis_errors_that_are_not_outages_stay_what_they_are(
    redis_url: str, redis_prefix: str
) -> None:
    with RedisStore(redis_url, prefix=redis_prefix) as store:
        store.client.set(store.key("3341"), "not a hash")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            store.load("3341")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "kookoo.stores" and r.levelno == logging.WARNING
    ]


@pytest.mark.redis
def test_redis_without_persistence_warns_once_that_live_calls_would_be_lost(
    redis_process: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kookoo.stores")
    with RedisStore(redis_process.url) as store:
        assert _warnings(caplog) == []  # creating the store talks to nobody
        store.save(new_call())
        assert store.load("3341") is not None
        store.save(new_call("other"))
    assert _warnings(caplog) == [
        f"Redis at 127.0.0.1:{redis_process.port}/0 keeps no data on disk (appendonly no, "
        'save ""): every live call is lost if Redis restarts; turn on appendonly or save '
        "snapshots"
    ]


@pytest.mark.redis
@pytest.mark.parametrize(
    "args",
    [["--appendonly", "yes"], ["--save", "60 1"]],
    ids=["appendonly", "snapshots"],
)
def test_redis_with_persistence_does_not_warn(
    tmp_path: Path, args: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kookoo.stores")
    server = RedisProcess(tmp_path, *args)
    server.start()
    try:
        with RedisStore(server.url) as store:
            store.save(new_call())
            assert store.load("3341") is not None
            assert store._persistence_checked
    finally:
        server.stop()
    assert _warnings(caplog) == []


@pytest.mark.redis
@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--rename-command", "CONFIG", ""], "unknown command"),
        (["--user", "default", "on", "nopass", "~*", "&*", "+@all", "-config"], "permission"),
    ],
    ids=["renamed", "denied-by-acl"],
)
def test_redis_with_config_unavailable_skips_the_check_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, args: list[str], refusal: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="kookoo.stores")
    server = RedisProcess(tmp_path, *args)
    server.start()
    try:
        with RedisStore(server.url) as store:
            with pytest.raises(redis.ResponseError, match=refusal):
                store.client.config_get("appendonly")  # CONFIG really is refused
            call = new_call()
            store.save(call)
            assert store._persistence_checked
            store.save(call)
            loaded = store.load("3341")
            assert loaded is not None
            assert loaded.version == 2
    finally:
        server.stop()
    assert [r for r in caplog.records if r.name == "kookoo.stores"] == []


@pytest.mark.redis
def test_redis_persistence_check_waits_for_a_reachable_server(
    redis_process: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kookoo.stores")
    with RedisStore(redis_process.url, connect_timeout=TIMEOUT, socket_timeout=TIMEOUT) as store:
        redis_process.kill()
        with pytest.raises(StoreUnavailableError):
            store.load("3341")
        assert not store._persistence_checked  # not given up: it never got an answer
        redis_process.start()
        assert store.load("3341") is None
        assert store._persistence_checked
    assert len(_warnings(caplog)) == 1


# -- under gunicorn -w 2 -----------------------------------------------------------------------


@dataclass
class Load:
    """Calls (NewCall, three digits, Hangup) run back to back by a few threads."""

    base: str
    threads: int = 4
    requests: list[tuple[float, float, int, str]] = field(default_factory=list)
    calls: list[tuple[float, bool]] = field(default_factory=list)  # (started, completed)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, query: str, expect: bytes) -> str:
        started = time.monotonic()
        status, _, body = http_get(f"{self.base}/?{query}")
        elapsed = time.monotonic() - started
        if status == 200 and body.endswith(expect):
            kind = "ok"
        elif status == 200 and body.endswith(OUTAGE):
            kind = "fallback"
        else:
            kind = f"unexpected {status}: {body[-200:]!r}"
        with self.lock:
            self.requests.append((started, elapsed, status, kind))
        return kind

    def one_call(self, sid: str) -> bool:
        started = time.monotonic()
        completed = False
        if (
            self._get(
                f"event=NewCall&sid={sid}&cid=09876543210",
                b"presses none</playtext></collectdtmf></response>",
            )
            == "ok"
        ):
            presses = []
            for digit in "123":
                presses.append(digit)
                expect = f"presses {','.join(presses)}</playtext></collectdtmf></response>".encode()
                if self._get(f"event=GotDTMF&sid={sid}&data={digit}", expect) != "ok":
                    break
            else:
                completed = True
            self._get(f"event=Hangup&sid={sid}&process=none", b"")
        with self.lock:
            self.calls.append((started, completed))
        return completed

    def _run(self, me: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            self.one_call(f"{me}{n:07d}{os.getpid()}")

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        workers = [threading.Thread(target=self._run, args=(i,)) for i in range(self.threads)]
        for worker in workers:
            worker.start()
        try:
            yield self
        finally:
            self.stop.set()
            for worker in workers:
                worker.join(timeout=30)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if condition():
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            time.sleep(0.02)

    def completed_since(self, when: float) -> int:
        return sum(1 for started, done in self.calls if started >= when and done)

    def fallbacks_since(self, when: float) -> int:
        return sum(
            1 for started, _, _, kind in self.requests if started >= when and kind == "fallback"
        )


def _served_through(
    tmp_path: Path, fault: Callable[[], None], recover: Callable[[], None], env: dict[str, str]
) -> tuple[Load, float, float]:
    """Serve fault_apps:app with gunicorn -w 2 under load; run ``fault`` until requests fall
    back, then ``recover``; return the load, and when the fault began and recovery was done."""
    log = tmp_path / "gunicorn.log"
    with gunicorn("fault_apps:app", workers=2, pythonpath="tests", env=env, log=log) as (
        base,
        proc,
    ):
        pids = sorted(worker_pids(proc.pid))
        load = Load(base)
        with load.running():
            load.wait_for(lambda: load.completed_since(0) >= 8, "calls before the fault")
            began = time.monotonic()
            fault()
            try:
                load.wait_for(lambda: load.fallbacks_since(began) >= 4, "the outage to be heard")
                time.sleep(1.5)  # the outage lasts: every worker meets it, several times
            finally:
                recover()
            recovered = time.monotonic()
            load.wait_for(lambda: load.completed_since(recovered) >= 8, "calls after recovery")
        assert sorted(worker_pids(proc.pid)) == pids  # no worker was restarted or killed
    return load, began, recovered


def _assert_healed(load: Load, began: float, recovered: float, limit: float) -> None:
    unexpected = [r for r in load.requests if r[3] not in ("ok", "fallback")]
    assert unexpected == []  # no 5xx, no wrong state: only right replies and the fallback
    slowest = max(elapsed for _, elapsed, _, _ in load.requests)
    assert slowest <= limit, f"a request took {slowest:.2f} s"
    assert load.fallbacks_since(began) >= 4
    after = [done for started, done in load.calls if started >= recovered]
    assert len(after) >= 8
    assert all(after), f"{after.count(False)} of {len(after)} calls after recovery failed"


@pytest.mark.gunicorn
@pytest.mark.redis
@pytest.mark.parametrize("fault", ["killed and restarted", "frozen"])
def test_gunicorn_rides_out_a_redis_outage(
    redis_process: RedisProcess, tmp_path: Path, fault: str
) -> None:
    env = {"KOOKOO_TEST_REDIS_URL": redis_process.url, "KOOKOO_TEST_REDIS_TIMEOUT": str(TIMEOUT)}
    if fault == "frozen":
        load, began, recovered = _served_through(
            tmp_path, redis_process.freeze, redis_process.thaw, env
        )
    else:
        load, began, recovered = _served_through(
            tmp_path, redis_process.kill, redis_process.start, env
        )
    # Two sync workers, four clients: a request may wait for one other in its worker, and
    # each waits at most the timeout per store call.
    _assert_healed(load, began, recovered, limit=TIMEOUT + 1.0)


@pytest.mark.gunicorn
def test_gunicorn_heals_after_the_sqlite_file_was_unwritable(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    make_database(path)
    env = {"KOOKOO_DB": str(path), "KOOKOO_TEST_BUSY_TIMEOUT": "0.5"}
    log = tmp_path / "gunicorn.log"
    seal(path)
    try:
        # The workers start, and open their connections, while the file cannot be written.
        with gunicorn("fault_apps:app", workers=2, pythonpath="tests", env=env, log=log) as (
            base,
            proc,
        ):
            pids = sorted(worker_pids(proc.pid))
            for n in range(6):  # the two workers share the socket: usually both take some
                status, _, body = http_get(f"{base}/?event=NewCall&sid=ro{n}&cid=09876543210")
                assert (status, body.endswith(OUTAGE)) == (200, True), body
            unseal(path)  # writable again; the same workers heal on their own
            load = Load(base)
            for n in range(6):
                assert load.one_call(f"rw{n}")
            assert [kind for *_, kind in load.requests] == ["ok"] * 6 * 5
            assert sorted(worker_pids(proc.pid)) == pids
    finally:
        unseal(path)
    text = log.read_text(errors="replace")
    assert f"SQLite database {path} (from KOOKOO_DB) is unavailable" in text


@pytest.mark.gunicorn
def test_gunicorn_full_sqlite_database_gives_the_fallback_not_a_5xx(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    env = {"KOOKOO_DB": str(path), "KOOKOO_TEST_MAX_PAGES": "2"}  # schema + one table page
    log = tmp_path / "gunicorn.log"
    with gunicorn("fault_apps:app", workers=2, pythonpath="tests", env=env, log=log) as (base, _):
        kinds = []
        for n in range(200):  # a page holds a few dozen calls; bounded either way
            status, _, body = http_get(f"{base}/?event=NewCall&sid=full{n}&cid=09876543210")
            assert status == 200, body
            full = body.endswith(OUTAGE)
            assert full or body.endswith(b"presses none</playtext></collectdtmf></response>"), body
            kinds.append(full)
            if kinds[-3:] == [True] * 3:
                break
        assert kinds[0] is False  # calls were stored until the file was full
        assert kinds[-3:] == [True] * 3
    text = log.read_text(errors="replace")
    assert (
        f"SQLite database {path} (from KOOKOO_DB) is unavailable: database or disk is full" in text
    )
