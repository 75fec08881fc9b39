"""kookoo.web.health: the store probe behind /healthz and ``kookoo check``."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from spies import record_writes
from test_store_faults import RedisProcess, unwritable

from kookoo.state.stores import MemoryStore, RedisStore, SQLiteStore
from kookoo.testing.servers import free_port
from kookoo.web.health import PROBE_KEY, PROBE_NAMESPACE, PROBE_SID, check_store, health_body


def test_a_store_that_answers_is_healthy(tmp_path: Path) -> None:
    assert check_store(None) is None
    memory = MemoryStore()
    assert check_store(memory) is None
    assert check_store(memory, write=True) is None
    # the write probe cleans up after itself, and never writes a call
    assert memory.get(PROBE_NAMESPACE, PROBE_KEY) is None
    assert memory.load(PROBE_SID) is None
    assert len(memory) == 0
    with SQLiteStore(tmp_path / "calls.sqlite3") as sqlite:
        assert check_store(sqlite, write=True) is None
        assert sqlite.get(PROBE_NAMESPACE, PROBE_KEY) is None
        assert sqlite.load(PROBE_SID) is None


def test_the_write_probe_really_writes() -> None:
    """A value left by a probe that died midway does not let the next one skip its write."""
    memory = MemoryStore()
    memory.update(PROBE_NAMESPACE, PROBE_KEY, lambda _: "left over", ttl_seconds=60)
    writes = record_writes(memory)
    assert check_store(memory, write=True) is None
    assert len(writes) == 2
    assert writes[0].data not in (None, '"left over"')
    assert writes[1].data is None  # removed again


def test_an_sqlite_file_in_an_unwritable_directory_is_named_with_kookoo_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    path = directory / "calls.sqlite3"
    monkeypatch.setenv("KOOKOO_DB", str(path))
    with unwritable(directory), SQLiteStore() as store:
        problem = check_store(store)
    assert problem is not None
    assert f"SQLite database {path} (from KOOKOO_DB) is unavailable" in problem
    status, body = health_body(problem)
    assert status == 503
    assert body.startswith(b"unavailable: SQLite database ")
    assert body.count(b"\n") == 1


def test_a_read_only_sqlite_file_fails_the_probe(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path) as store:
        assert check_store(store) is None
    with unwritable(path), SQLiteStore(path) as store:
        problem = check_store(store, write=True)
    assert problem is not None
    assert str(path) in problem


def test_redis_down_is_named_and_redis_up_is_healthy(redis_url: str) -> None:
    down = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    problem = check_store(down)
    down.close()
    assert problem is not None
    assert problem.startswith("Redis at 127.0.0.1:")
    assert "is unavailable" in problem
    with RedisStore(redis_url, prefix="test:health:") as up:
        assert check_store(up, write=True) is None
        assert up.get(PROBE_NAMESPACE, PROBE_KEY) is None


@pytest.mark.redis
def test_a_read_only_redis_replica_fails_the_write_probe_only(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.start()
    admin = redis.Redis(port=server.port, socket_timeout=5)
    try:
        with RedisStore(server.url) as store:
            assert check_store(store, write=True) is None
            admin.replicaof("127.0.0.1", str(free_port()))  # a master that is not there
            assert check_store(store) is None
            problem = check_store(store, write=True)
            assert problem is not None
            assert "read only replica" in problem
            admin.replicaof("NO", "ONE")
            assert check_store(store, write=True) is None
    finally:
        admin.close()
        server.stop()


def test_a_failure_of_any_kind_is_an_answer_not_a_crash() -> None:
    class Broken(MemoryStore):
        def load(self, sid: str) -> None:
            raise OSError("disk on fire")

    class CannotWriteValues(MemoryStore):
        def write_value(self, *args: object) -> bool:
            raise OSError("values on fire")

    problem = check_store(Broken())
    assert problem is not None
    assert problem.startswith("MemoryStore")
    assert problem.endswith(": disk on fire")
    assert check_store(CannotWriteValues()) is None  # a read probe writes nothing
    problem = check_store(CannotWriteValues(), write=True)
    assert problem is not None
    assert problem.endswith(": values on fire")
    assert health_body("a\nb\x00c") == (503, b"unavailable: a b\\x00c\n")
