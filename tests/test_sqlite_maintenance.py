"""SQLite housekeeping off the request path: WAL checkpoints and expiry in a background
thread of each process; request connections never checkpoint; clean-up deletes in chunks."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path

from kookoo.state.calls import Call
from kookoo.state.stores import SQLiteStore

TTL = 100.0


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        count: int = conn.execute("SELECT count(*) FROM kookoo_calls").fetchone()[0]
        return count
    finally:
        conn.close()


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _until(condition: object, what: str, timeout: float = 10.0) -> None:
    """Wait (bounded) for the background thread to do something."""
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_request_connections_never_checkpoint_and_maintain_does(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path, checkpoint_interval=3600) as store:  # the thread stays idle
        for i in range(300):
            store.save(Call(f"c{i}", state={"pad": "x" * 500}))
        conn, generation = store._acquire()
        try:
            assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        finally:
            store._release(conn, generation)
        # 300 commits of ~1 KB rows and no checkpoint yet: every frame is still in the WAL.
        assert _wal_bytes(path) > 300 * 1024
        copied, removed = store.maintain()
        assert copied > 0
        assert removed == 0
        assert store.load("c7") is not None


def test_without_background_sqlite_checkpoints_in_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path, background=False) as store:
        store.save(Call("a"))
        conn, generation = store._acquire()
        try:
            assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
        finally:
            store._release(conn, generation)
        assert store._maintenance is None


def test_maintain_deletes_every_expired_record_in_chunks(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path, ttl_seconds=TTL, clock=clock, checkpoint_interval=3600) as store:
        store.cleanup_batch = 7
        store.expire_chunk = 3
        for i in range(20):
            store.save(Call(f"old{i}"))
        clock.now += TTL / 2
        store.save(Call("young"))
        clock.now += TTL / 2 + 1
        assert store.maintain()[1] == 20
        assert _rows(path) == 1
        assert store.load("young") is not None


def test_the_background_thread_checkpoints_and_cleans_up(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "calls.sqlite3"
    store = SQLiteStore(
        path, ttl_seconds=TTL, clock=clock, cleanup_interval=0.0, checkpoint_interval=0.01
    )
    try:
        for i in range(50):
            store.save(Call(f"c{i}", state={"pad": "x" * 500}))
        thread = store._maintenance
        assert thread is not None
        assert thread.is_alive()
        clock.now += TTL + 1
        store.save(Call("live"))
        _until(lambda: _rows(path) == 1, "the expired records to go")
        assert store.load("live") is not None
        # Checkpointed: a fresh reader sees everything even without the WAL's frames copied
        # by a request (requests never checkpoint).
        conn = sqlite3.connect(path)
        try:
            _until(
                lambda: (
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                    == conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[2]
                ),
                "a complete checkpoint",
            )
        finally:
            conn.close()
    finally:
        store.close()
    assert not thread.is_alive()
    assert store._maintenance is None


def test_a_forked_child_starts_its_own_thread_and_keeps_the_parents_connections(
    tmp_path: Path,
) -> None:
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path, checkpoint_interval=0.01) as store:
        store.save(Call("parent"))
        parent_thread = store._maintenance
        assert parent_thread is not None
        _until(lambda: bool(store._thread_conns), "the thread's connection")
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads may deadlock; the
            # child here only uses this store, whose fork hooks reset its locks.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: exits with the outcome as its status
            ok = store._maintenance is None and store._thread_conns == []
            store.save(Call("child"))
            ok = ok and store._maintenance is not None and store._maintenance.is_alive()
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.load("child") is not None
        assert store.load("parent") is not None
        assert store._maintenance is parent_thread
        assert parent_thread.is_alive()


def test_a_large_wal_is_made_to_start_over(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path, checkpoint_interval=3600) as store:
        store.wal_restart_frames = 50
        for i in range(200):
            store.save(Call(f"c{i}", state={"pad": "x" * 500}))
        grown = _wal_bytes(path)
        assert grown > 200 * 1024
        store.maintain()
        store.save(Call("after"))  # this writer starts the WAL from the top
        conn, generation = store._acquire()
        try:
            frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        finally:
            store._release(conn, generation)
        assert frames < 10
        assert store.load("c150") is not None
        assert store.load("after") is not None


def test_a_save_waits_out_another_connections_write_lock(tmp_path: Path) -> None:
    """A save that finds the write lock taken (another worker's transaction, a clean-up
    chunk) tries again until the lock is free, within busy_timeout, and stores the call."""
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path, busy_timeout=5.0, background=False) as store:
        store.save(Call("c1"))
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            holder.execute("BEGIN IMMEDIATE")
            released = threading.Event()

            def release() -> None:
                time.sleep(0.05)
                holder.execute("ROLLBACK")
                released.set()

            thread = threading.Thread(target=release)
            thread.start()
            call = store.load("c1")
            assert call is not None
            call.state["after"] = "the lock"
            store.save(call)  # blocked until release() rolled back
            assert released.is_set()
            thread.join()
        finally:
            holder.close()
        stored = store.load("c1")
        assert stored is not None
        assert stored.state == {"after": "the lock"}
        assert stored.version == 2


def test_the_wal_is_cut_back_only_beyond_what_a_restart_lets_it_reach(tmp_path: Path) -> None:
    """Cutting a large WAL file back happens under the write lock and is slow, so the limit
    is well above the size at which the background thread makes the WAL start over."""
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path) as store:
        conn, generation = store._acquire()
        try:
            limit = conn.execute("PRAGMA journal_size_limit").fetchone()[0]
        finally:
            store._release(conn, generation)
        assert limit == 256 * 1024 * 1024 > 4 * store.wal_restart_frames * 4096


def test_the_flush_ahead_of_a_restart_follows_a_replaced_file(tmp_path: Path) -> None:
    """The descriptor kept for flushing belongs to the file, not the path: a database
    replaced at the same path gets its own (the old one would sync a deleted file)."""
    from kookoo.state.stores import sqlite as sqlite_module

    path = tmp_path / "calls.sqlite3"
    path.write_bytes(b"first")
    sqlite_module._flush_to_disk(str(path))
    first = os.stat(path)
    path.unlink()
    path.write_bytes(b"second")
    sqlite_module._flush_to_disk(str(path))
    second = os.stat(path)
    fds = sqlite_module._FLUSH_FDS
    assert (first.st_dev, first.st_ino) != (second.st_dev, second.st_ino)
    assert os.fstat(fds[(second.st_dev, second.st_ino)]).st_ino == second.st_ino


def test_the_sweep_reads_on_from_where_it_stopped_and_misses_nothing(tmp_path: Path) -> None:
    """Expired and live records interleaved in sid order, several reads per sweep: each read
    starts after the last sid of the one before, and every expired record goes."""
    clock = FakeClock()
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path, ttl_seconds=TTL, clock=clock, checkpoint_interval=3600) as store:
        store.cleanup_batch = 4
        store.expire_chunk = 3
        for i in range(30):
            if i % 3 == 0:
                store.save(Call(f"c{i:02d}"))
        clock.now += TTL / 2
        for i in range(30):
            if i % 3:
                store.save(Call(f"c{i:02d}"))
        clock.now += TTL / 2 + 1
        seen: list[str] = []
        conn, generation = store._acquire()
        try:
            conn.set_trace_callback(seen.append)
            removed = store._expire_in_chunks(conn, clock())
        finally:
            conn.set_trace_callback(None)
            store._release(conn, generation)
        assert removed == 10
        assert _rows(path) == 20
        reads = [sql for sql in seen if sql.startswith("SELECT sid")]
        # 10 expired records, 4 per read: 3 reads, the second and third starting after a sid
        assert len(reads) == 3
        assert "'c09'" in reads[1]
        assert "'c21'" in reads[2]
        assert all(store.load(f"c{i:02d}") is not None for i in range(30) if i % 3)


def test_a_long_clean_up_lets_checkpoints_run_between_its_chunks(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "calls.sqlite3"
    with SQLiteStore(path, ttl_seconds=TTL, clock=clock, checkpoint_interval=3600) as store:
        store.expire_chunk = 2
        store.expire_pause = 0.0
        for i in range(9):
            store.save(Call(f"old{i}"))
        clock.now += TTL + 1
        rests: list[int] = []
        conn, generation = store._acquire()
        try:
            removed = store._expire_in_chunks(
                conn, clock(), threading.Event(), lambda: rests.append(_rows(path))
            )
        finally:
            store._release(conn, generation)
        assert removed == 9
        # Between the 5 chunks of 2, 2, 2, 2, 1 rows: 4 rests, each after one more chunk.
        assert rests == [7, 5, 3, 1]
