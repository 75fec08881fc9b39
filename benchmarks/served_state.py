"""Part 4b: server CPU per GotDTMF with SQLite state, under ``gunicorn -w 2``.

kookoo without state, kookoo with its default SQLite store, and the same app by hand without
state and with sqlite3 (:mod:`benchmarks.handwritten_state`) are served at once; each gets
the same requests (calls of one NewCall and four GotDTMFs, from the bounded Python load
generator, 4 connections; a call's requests are a fifth of the run apart, so like KooKoo's
they never overlap, and each lands on either worker).  The CPU time (user + system, from
``/proc/<pid>/stat``) of all worker processes is read before and after each run and divided
by the requests answered, so the load generator's own speed does not enter the number.
Runs go round the servers (in reverse order every other round); the medians are reported.
"""

from __future__ import annotations

import os
import statistics
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks import apps
from benchmarks.procs import gunicorn, worker_pids
from benchmarks.served import python_load

__all__ = ["cpu_seconds", "served_state_cpu"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
EVENTS_PER_CALL = 5


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` (Linux ``/proc``)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICK


def _target(prefix: str, requests: int) -> Any:
    calls = max(1, requests // EVENTS_PER_CALL)

    def target(i: int) -> str:
        sid = f"{prefix}{i % calls}"
        if i < calls:
            return f"{apps.ROUTE}?{apps.new_call_query(sid)}"
        return f"{apps.ROUTE}?event=GotDTMF&sid={sid}&data=2"

    return target


def served_state_cpu(workdir: Path, *, rounds: int, requests: int) -> dict[str, Any]:
    """Median server CPU µs per request and p99s: kookoo without state and with SQLite,
    and the same app by hand (:func:`benchmarks.apps.werkzeug_app`) without state and with
    sqlite3 (:mod:`benchmarks.handwritten_state`)."""
    servers = {
        "none": ("benchmarks.apps:kookoo_app", {}),
        "sqlite": (
            "benchmarks.apps:kookoo_sqlite_app",
            {"KOOKOO_DB": str(workdir / "served-state.sqlite3")},
        ),
        "handwritten": ("benchmarks.apps:werkzeug_app", {}),
        "handwritten_sqlite": (
            "benchmarks.handwritten_state:handwritten_sqlite_app",
            {"KOOKOO_DB": str(workdir / "served-handwritten.sqlite3")},
        ),
    }
    cpu: dict[str, list[float]] = {key: [] for key in servers}
    p99: dict[str, list[float]] = {key: [] for key in servers}
    with ExitStack() as stack:
        running = {}
        for key, (target, env) in servers.items():
            base, proc = stack.enter_context(gunicorn(target, workers=2, workdir=workdir, env=env))
            pids = worker_pids(proc.pid)
            python_load(base, requests=200, connections=4, target=_target(f"7{len(running)}0", 200))
            running[key] = (base, pids)
        for round_no in range(rounds):
            order = list(running) if round_no % 2 == 0 else list(reversed(running))
            for key in order:
                base, pids = running[key]
                before = cpu_seconds(pids)
                load = python_load(
                    base,
                    requests=requests,
                    connections=4,
                    target=_target(f"8{round_no}{len(key)}", requests),
                )
                used = cpu_seconds(pids) - before
                cpu[key].append(used * 1e6 / max(1, load.requests))
                p99[key].append(load.p99_ms)
    medians = {key: statistics.median(values) for key, values in cpu.items()}
    return {
        "requests_per_run": requests,
        "runs": rounds,
        "cpu_us_per_request": cpu,
        "p99_ms": p99,
        "median_cpu_us": medians,
        "median_p99_ms": {key: statistics.median(values) for key, values in p99.items()},
        "sqlite_cpu_overhead_us": medians["sqlite"] - medians["none"],
        "handwritten_sqlite_cpu_overhead_us": medians["handwritten_sqlite"]
        - medians["handwritten"],
        "sqlite_cpu_vs_handwritten": medians["sqlite"] / medians["handwritten_sqlite"],
    }
