"""The printed table and the ``"targets"`` object of the JSON results."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from benchmarks.runner import Timing
from benchmarks.served import ServedResult

__all__ = ["TARGET_HELP", "TARGET_LIMITS", "Table", "fmt_bytes", "fmt_ns", "target"]

#: What each target compares; ``met`` is ``value <= limit`` or ``value >= limit`` as stated.
TARGET_HELP = {
    "request_vs_werkzeug": "kookoo time / hand-written Werkzeug + lxml time, one in-process "
    "request; met when value <= limit",
    "request_vs_flask_twilio": "Flask + twilio time / kookoo time (how many times faster kookoo "
    "is); met when value >= limit",
    "builder_vs_lxml": "kookoo builder time / raw lxml time, same document, validation on; met "
    "when value <= limit",
    "sqlite_state_overhead_us": "kookoo + SQLiteStore minus kookoo without state, microseconds "
    "per GotDTMF of a live call this process served last, in-process; met when value <= limit",
    "memory_state_overhead_us": "kookoo + MemoryStore minus kookoo without state, microseconds "
    "per GotDTMF of a live call this process served last, in-process; met when value <= limit",
    "served_sqlite_cpu_overhead_us": "server CPU (user + system, all gunicorn -w 2 processes) "
    "per GotDTMF with SQLiteStore minus without state, microseconds; met when value <= limit",
    "sqlite_max_stall_ms": "longest a save waits on expiry clean-up or a WAL checkpoint at the "
    "run's largest SQLite store (100 k calls with --quick, 1 M otherwise), milliseconds: the "
    "worst save of the median one of 3 interleaved rounds (every round's worst is in "
    "results.scale.rows); met when value <= limit",
    "redis_round_trips_warm": "Redis commands per GotDTMF of a live call this process served "
    "last; met when value <= limit",
    "flow_step_200_ms": "milliseconds per request at steps 200-220 of a live flow the worker "
    "keeps, in-process, MemoryStore; met when value <= limit",
    "served_vs_werkzeug": "kookoo requests/s / hand-written Werkzeug app requests/s under "
    "gunicorn -w 2; met when value >= limit",
    "flow_last_step_ms": "milliseconds for the last request of a 50-step flow, in-process; met "
    "when value <= limit",
    "secret_overhead_us": "kookoo with a shared secret checked minus kookoo without one, "
    "microseconds per in-process request; met when value <= limit",
}


#: Every target key with its limit and direction (``True``: met at or below the limit).
TARGET_LIMITS: tuple[tuple[str, float, bool], ...] = (
    ("request_vs_werkzeug", 1.2, True),
    ("request_vs_flask_twilio", 3.5, False),
    ("builder_vs_lxml", 1.25, True),
    ("sqlite_state_overhead_us", 25.0, True),
    ("memory_state_overhead_us", 15.0, True),
    ("served_vs_werkzeug", 0.9, False),
    ("served_sqlite_cpu_overhead_us", 60.0, True),
    ("sqlite_max_stall_ms", 5.0, True),
    ("redis_round_trips_warm", 1.0, True),
    ("flow_last_step_ms", 1.0, True),
    ("flow_step_200_ms", 0.15, True),
    ("secret_overhead_us", 3.0, True),
)


def target(value: float | str, limit: float, *, at_most: bool) -> dict[str, Any]:
    """One entry of ``"targets"``: ``{"value", "limit", "met"}``; a str value is never met."""
    if isinstance(value, str) or math.isnan(value):
        return {
            "value": value if isinstance(value, str) else "failed",
            "limit": limit,
            "met": False,
        }
    met = value <= limit if at_most else value >= limit
    return {"value": round(value, 4), "limit": limit, "met": bool(met)}


def fmt_ns(ns: float) -> str:
    """``12.3 µs`` / ``456 ns`` / ``1.20 ms``."""
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1000:.1f} µs"
    return f"{ns / 1e6:.2f} ms"


def fmt_bytes(n: float) -> str:
    """``327 B`` / ``35.1 MiB``."""
    if n < 10_000:
        return f"{n:.0f} B"
    return f"{n / 2**20:.1f} MiB"


class Table:
    """Accumulates the printed report: sections of aligned rows."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def section(self, title: str, columns: str = "") -> None:
        """Start a section; ``columns`` is the header for its rows."""
        self.lines.append("")
        self.lines.append(title)
        if columns:
            self.lines.append(columns)

    def row(self, label: str, *cells: str) -> None:
        """One aligned row."""
        self.lines.append(f"  {label:<34}" + "".join(f"{c:>12}" for c in cells).rstrip())

    def note(self, text: str) -> None:
        """A free line inside a section."""
        self.lines.append(f"  {text}")

    def timings(
        self,
        rows: Mapping[str, Timing],
        reference: str,
        notes: Mapping[str, str] | None = None,
    ) -> None:
        """Rows of median, spread and time ratio ``reference ÷ row``."""
        ref = rows[reference].median_ns
        for key, t in rows.items():
            ratio = "" if key == reference else f"{ref / t.median_ns:.2f}x"
            self.row(t.label, fmt_ns(t.median_ns), _spread(t.spread), ratio, "")
            if notes and key in notes:
                self.lines[-1] += "   " + notes[key]

    def served(self, rows: list[ServedResult], reference: str) -> None:
        """Rows of requests/s, spread, p50, p99 and ``reference ÷ row`` in requests/s."""
        ref = next(r for r in rows if r.key == reference).rps
        for r in rows:
            ratio = "" if r.key == reference else f"{ref / r.rps:.2f}x"
            self.row(
                r.label,
                f"{r.rps:,.0f}/s",
                _spread(r.spread),
                f"{r.p50_ms:.2f} ms",
                f"{r.p99_ms:.2f} ms",
                ratio,
            )

    def __str__(self) -> str:
        return "\n".join(self.lines).strip("\n")


def _spread(spread: float) -> str:
    return f"{spread * 100:.1f}%"
