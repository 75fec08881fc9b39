"""Part 7: SQLite at scale: per-request cost and the longest stall at 1 k / 100 k / 1 M stored
calls, with housekeeping in a background thread (kookoo's default) and in the request path
(``background=False``, the behaviour before).

For each size a database is filled directly (one transaction; realistic 250-byte records,
a tenth of them already expired) and kept as a template. Each round copies the template
afresh for every mode, in turn (so the modes are interleaved and all start alike), and one
process runs saves of live calls (load + compare-and-set save, the GotDTMF path of a call
another worker saved last) for ``seconds``, while clean-up is due every ``CLEANUP_EVERY``
seconds and the WAL fills. Every save is timed; each row shows the median, p99 and worst
save, and the file's bytes per stored call. The worst save is the longest any request
waited for clean-up or a checkpoint, plus whatever the shared machine added (another
process's scheduling shows up here too: the worst of thousands of saves on 2 shared cores),
so it is measured in several rounds and :func:`summarise` reports the median round's worst
beside the spread; the ``none`` mode (no clean-up, no checkpoint) shows the machine's own.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from kookoo.state.calls import Call
from kookoo.state.stores import SQLiteStore

__all__ = ["CLEANUP_EVERY", "MODES", "fill", "measure_size", "scale_results", "summarise"]

#: Housekeeping modes measured at every size (see :func:`measure_size`).
MODES = ("in request", "background", "none")

#: Seconds between clean-ups during the measurement (60 in production: forced due here).
CLEANUP_EVERY = 0.5

# The database file and what lives beside it (SQLite's WAL and shared memory, the store's
# version board).
_SUFFIXES = ("", "-wal", "-shm", "-kookoo-versions")


def _record(sid: str) -> str:
    call = Call(sid, caller="8041169706", called_number="911130803946")
    call.record_event("NewCall")
    call.record_event("GotDTMF")
    call.state.update(menu="main", choice="2")
    return call.to_json()


def fill(path: Path, size: int) -> None:
    """Create ``path`` with ``size`` calls (every tenth already expired)."""
    for suffix in _SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with SQLiteStore(path, background=False) as store:
        store.load("none")  # creates the file and its table
    template = _record("SID")
    now = time.time()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")  # filling only; the measured saves are NORMAL
        with conn:
            conn.executemany(
                "INSERT INTO kookoo_calls (sid, version, data, expires_at) VALUES (?, 1, ?, ?)",
                (
                    (
                        f"s{i:08d}",
                        template.replace('"SID"', f'"s{i:08d}"', 1),
                        now - 1 if i % 10 == 0 else now + 7200,
                    )
                    for i in range(size)
                ),
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def measure_size(path: Path, size: int, *, mode: str, seconds: float) -> dict[str, Any]:
    """Time saves of random live calls in a store of ``size`` calls; see the module doc.

    ``mode``: ``"background"`` (kookoo's default), ``"in request"`` (``background=False``) or
    ``"none"`` (no clean-up and no checkpoint during the run: the machine's own noise).
    """
    if mode == "none":
        store = SQLiteStore(path, cleanup_interval=3600, checkpoint_interval=3600)
    else:
        store = SQLiteStore(path, background=mode == "background", cleanup_interval=CLEANUP_EVERY)
    rng = random.Random(size)
    latencies: list[int] = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or len(latencies) < 500:
            i = rng.randrange(size)
            if i % 10 == 0:
                i += 1  # a live call (every tenth was expired when filled)
            call = store.load(f"s{min(i, size - 1):08d}")
            if call is None:
                continue
            call.state["choice"] = str(len(latencies) % 10)  # the record keeps its size
            start = time.perf_counter_ns()
            store.save(call)
            latencies.append(time.perf_counter_ns() - start)
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute("SELECT count(*) FROM kookoo_calls").fetchone()[0]
    finally:
        conn.close()
    latencies.sort()
    return {
        "size": size,
        "housekeeping": mode,
        "saves": len(latencies),
        "median_us": statistics.median(latencies) / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
        "p999_us": latencies[int(len(latencies) * 0.999)] / 1000,
        "max_ms": latencies[-1] / 1e6,
        "over_5ms": sum(1 for ns in latencies if ns > 5_000_000),
        "rows_after": rows,
        "file_bytes_per_call": os.path.getsize(path) / max(1, rows),
    }


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scale_results(
    workdir: Path, sizes: list[int], seconds: float, rounds: int = 1
) -> list[dict[str, Any]]:
    """Every mode at every size, ``rounds`` times interleaved; one row per measurement, with
    its ``round``. Each measurement starts from a fresh copy of the size's filled database."""
    results = []
    for size in sizes:
        template = workdir / f"scale-{size}-template.sqlite3"
        path = workdir / f"scale-{size}.sqlite3"
        fill(template, size)
        for round_ in range(rounds):
            for mode in MODES:
                for suffix in _SUFFIXES:
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                shutil.copyfile(template, path)
                _sync(path)  # a store at rest: not 400 MB of fresh pages for the first sync
                row = measure_size(path, size, mode=mode, seconds=seconds)
                row["round"] = round_
                results.append(row)
        for name in (template, path):
            for suffix in _SUFFIXES:
                Path(f"{name}{suffix}").unlink(missing_ok=True)
    return results


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (size, mode) over its rounds: saves summed, times the median of the
    rounds', the worst save as the median round's worst (``max_ms``) with every round's
    worst beside it (``max_ms_rounds``), and the longest save of all (``max_ms_all``)."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["size"], row["housekeeping"]), []).append(row)
    summary = []
    for (size, mode), group in groups.items():
        worst = sorted(r["max_ms"] for r in group)
        summary.append(
            {
                "size": size,
                "housekeeping": mode,
                "rounds": len(group),
                "saves": sum(r["saves"] for r in group),
                "median_us": statistics.median(r["median_us"] for r in group),
                "p99_us": statistics.median(r["p99_us"] for r in group),
                "p999_us": statistics.median(r["p999_us"] for r in group),
                "max_ms": statistics.median(worst),
                "max_ms_rounds": [r["max_ms"] for r in group],
                "max_ms_all": worst[-1],
                "over_5ms": sum(r["over_5ms"] for r in group),
                "file_bytes_per_call": statistics.median(r["file_bytes_per_call"] for r in group),
            }
        )
    return summary
