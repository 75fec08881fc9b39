"""The version board (kookoo.state.stores.version_board): the last saved version of each call in
memory every process shares, so a warm SQLite request skips the version query; a wrong board
only costs a re-run, never a lost or doubled save."""

from __future__ import annotations

import os
import warnings
import zlib
from pathlib import Path

import pytest
from werkzeug.test import Client

from kookoo import Call, GotDTMF, KooKoo, NewCall, Response
from kookoo.state.stores import SQLiteStore
from kookoo.state.stores import sqlite as sqlite_module
from kookoo.state.stores.version_board import VersionBoard


def _app(store: SQLiteStore) -> KooKoo:
    app = KooKoo(store=store, conflict_retries=0)

    @app.on_new_call
    def start(event: NewCall, call: Call) -> Response:
        call.state["n"] = 0
        return Response().play_text("hello")

    @app.on_dtmf
    def press(event: GotDTMF, call: Call) -> Response:
        call.state["n"] += 1
        return Response().play_text(f"n is {call.state['n']}")

    return app


def _statements(store: SQLiteStore) -> list[str]:
    """Every SQL statement ``store`` runs through its retrying executor, in order."""
    seen: list[str] = []
    execute = store._execute

    def counted(conn: object, sql: str, params: tuple[object, ...] = ()) -> object:
        verb = sql.split(" ", 1)[0]
        seen.append("SELECT version" if sql.startswith("SELECT version FROM") else verb)
        return execute(conn, sql, params)  # type: ignore[arg-type]

    store._execute = counted  # type: ignore[assignment, method-assign]
    return seen


def test_a_post_is_read_back_and_another_sid_is_unknown(tmp_path: Path) -> None:
    board = VersionBoard(str(tmp_path / "board"))
    board.post("call-1", 7)
    assert board.version("call-1") == 7
    assert board.version("call-2") is None
    board.post("call-1", 0)  # deleted: only the database can tell now
    assert board.version("call-1") is None
    assert (tmp_path / "board").stat().st_size == 1 << 20


def test_two_sids_in_one_slot_are_told_apart(tmp_path: Path) -> None:
    board = VersionBoard(str(tmp_path / "board"))
    slot = zlib.crc32(b"a0") & 0xFFFF
    other = next(f"b{i}" for i in range(1_000_000) if zlib.crc32(f"b{i}".encode()) & 0xFFFF == slot)
    board.post("a0", 3)
    board.post(other, 9)  # takes the slot
    assert board.version(other) == 9
    assert board.version("a0") is None  # not "3", not "9": ask the database


def test_processes_share_the_board(tmp_path: Path) -> None:
    path = str(tmp_path / "board")
    board = VersionBoard(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded pytest
        pid = os.fork()
    if pid == 0:  # a worker that maps the file on its own, and one that inherited the map
        VersionBoard(path).post("from-child", 5)
        board.post("inherited", 6)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert board.version("from-child") == 5
    assert board.version("inherited") == 6
    assert VersionBoard(path).version("from-child") == 5  # a process started later


def test_a_warm_sqlite_request_runs_only_its_save(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "calls.sqlite3")
    client = Client(_app(store))
    client.get("/?event=NewCall&sid=7001&cid=09876543210")
    client.get("/?event=GotDTMF&sid=7001&data=1")
    statements = _statements(store)
    assert b"n is 2" in client.get("/?event=GotDTMF&sid=7001&data=2").data
    assert statements == ["UPDATE"]  # no version query, no load


def test_a_call_saved_by_another_worker_is_loaded_without_asking_its_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "calls.sqlite3"
    mine, other = SQLiteStore(path), SQLiteStore(path)  # two workers, one file, one board
    app, elsewhere = Client(_app(mine)), Client(_app(other))
    app.get("/?event=NewCall&sid=7002&cid=09876543210")
    elsewhere.get("/?event=GotDTMF&sid=7002&data=1")  # n = 1, saved by the other worker
    statements = _statements(mine)
    assert b"n is 2" in app.get("/?event=GotDTMF&sid=7002&data=2").data
    assert statements == ["SELECT", "UPDATE"]  # the load and the save


def test_without_a_board_the_store_asks_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "open_board", lambda database: None)
    store = SQLiteStore(tmp_path / "calls.sqlite3")
    client = Client(_app(store))
    client.get("/?event=NewCall&sid=7003&cid=09876543210")
    statements = _statements(store)
    assert b"n is 1" in client.get("/?event=GotDTMF&sid=7003&data=1").data
    assert statements == ["SELECT version", "UPDATE"]
    assert not Path(f"{tmp_path / 'calls.sqlite3'}-kookoo-versions").exists()


def test_a_board_that_missed_a_save_costs_one_rerun_not_a_lost_update(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    other._board_tried, other._board = True, None  # a worker killed before it could post
    app, elsewhere = Client(_app(mine)), Client(_app(other))
    app.get("/?event=NewCall&sid=7004&cid=09876543210")
    app.get("/?event=GotDTMF&sid=7004&data=1")  # n = 1, cached here, posted
    elsewhere.get("/?event=GotDTMF&sid=7004&data=2")  # n = 2, stored but not posted
    # The board still shows this worker's version: the handler runs on n = 1, the save's
    # compare-and-set refuses it, and the request runs again on the stored call (free:
    # conflict_retries=0).
    assert b"n is 3" in app.get("/?event=GotDTMF&sid=7004&data=3").data
    stored = mine.load("7004")
    assert stored is not None
    assert stored.state == {"n": 3}
    assert stored.version == 4


def test_a_deleted_call_is_never_taken_for_current(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    call = Call("7005")
    mine.save(call)
    mine.remember(call)
    other.delete("7005")
    assert mine.recall("7005") is None
