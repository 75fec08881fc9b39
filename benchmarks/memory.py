"""Part 6: a gunicorn worker's RSS after 10,000 calls, and the bytes a call takes in each store.

- Worker RSS: one gunicorn worker serves kookoo with its default store (SQLite at
  ``$KOOKOO_DB``); RSS is read from ``/proc`` after a warm-up and again after 10,000 calls,
  each a NewCall with a new sid (so 10,000 call records are written).
- SQLite bytes per call: from that same database once the worker stopped: the average JSON
  payload, and the file size (WAL checkpointed, table and index pages) per row.
- Redis bytes per call: kookoo in-process with a RedisStore writes calls under a fresh prefix;
  ``MEMORY USAGE`` averaged over the keys, and the growth of ``used_memory`` per call.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks import apps
from benchmarks.cases import call_wsgi, new_call_environ
from benchmarks.procs import ServerError, gunicorn, redis_server, rss_bytes, worker_pids
from benchmarks.served import python_load

__all__ = ["redis_bytes_per_call", "worker_rss"]

WARMUP_CALLS = 200


def _new_call_target(prefix: str) -> Any:
    def target(i: int) -> str:
        return f"{apps.ROUTE}?{apps.new_call_query(f'{prefix}{i}')}"

    return target


def worker_rss(calls: int, workdir: Path) -> dict[str, Any]:
    """Serve kookoo + SQLite from one gunicorn worker, send ``calls`` NewCalls, measure."""
    db = workdir / "memory.sqlite3"
    result: dict[str, Any] = {"calls": calls, "store": "SQLiteStore (kookoo's default)"}
    with gunicorn(
        "benchmarks.apps:kookoo_sqlite_app",
        workers=1,
        workdir=workdir,
        env={"KOOKOO_DB": str(db)},
    ) as (base, proc):
        pids = worker_pids(proc.pid)
        if not pids:
            return {**result, "skipped": "cannot find the gunicorn worker's pid"}
        pid = pids[0]
        warm = python_load(base, requests=WARMUP_CALLS, connections=2, target=_new_call_target("9"))
        start = rss_bytes(pid)
        if start is None:
            return {**result, "skipped": "RSS is read from /proc (Linux only)"}
        load = python_load(base, requests=calls, connections=4, target=_new_call_target("1"))
        end = rss_bytes(pid)
        if worker_pids(proc.pid) != [pid]:
            return {**result, "skipped": "the worker was restarted during the run"}
    assert end is not None
    result.update(
        rss_start_bytes=start,
        rss_end_bytes=end,
        rss_growth_bytes=end - start,
        errors=load.errors + warm.errors,
        requests=load.requests,
        sqlite=_sqlite_bytes(db),
    )
    return result


def _sqlite_bytes(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows, payload = conn.execute(
            "SELECT count(*), avg(length(CAST(data AS BLOB))) FROM kookoo_calls"
        ).fetchone()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    used = (pages - free) * page_size
    return {
        "rows": rows,
        "payload_bytes_per_call": payload,
        "file_bytes": os.path.getsize(db),
        "file_bytes_per_call": used / rows if rows else None,
    }


def redis_bytes_per_call(calls: int, workdir: Path) -> dict[str, Any]:
    """Write ``calls`` calls to a fresh redis-server through kookoo; bytes per call."""
    import redis

    from kookoo.state.stores import RedisStore

    with ExitStack() as stack:
        try:
            url = stack.enter_context(redis_server(workdir))
        except ServerError as exc:
            return {"skipped": f"skipped: {exc}"}
        client = redis.Redis.from_url(url)
        stack.callback(client.close)
        prefix = "bench:mem:"
        store = RedisStore(url, prefix=prefix)
        stack.callback(store.close)
        app = apps.make_kookoo_state_app(store)
        call_wsgi(app, new_call_environ("0"))  # loads the Lua script, creates the pool
        before = int(client.info("memory")["used_memory"])
        for i in range(1, calls + 1):
            status, _body = call_wsgi(app, new_call_environ(f"7{i}"))
            if status != "200 OK":
                raise RuntimeError(f"kookoo + RedisStore answered {status}")
        after = int(client.info("memory")["used_memory"])
        sample = [f"{prefix}7{i}" for i in range(1, calls + 1, max(1, calls // 200))]
        usage = [int(client.memory_usage(key) or 0) for key in sample]
        payload = [len(client.hget(key, "d") or b"") for key in sample]
    return {
        "calls": calls,
        "memory_usage_bytes_per_call": statistics.mean(usage),
        "used_memory_growth_per_call": (after - before) / calls,
        "payload_bytes_per_call": statistics.mean(payload),
    }
