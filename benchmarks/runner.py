"""Timing: cases measured in interleaved rounds, summarised by median and spread.

A :class:`Case` is prepared for ``n`` operations and returns a callable that performs them; only
that callable is timed, with :func:`time.perf_counter_ns`.  The cases of one group run
round-robin (round 1 of every case, then round 2, ...) with the order rotated each round, so a
slow drift of the machine (thermal, another process) affects every case alike and the ratios
stay fair.  Each round gives nanoseconds per operation; a case reports the **median** over its
rounds and the **spread**, defined as ``(max - min) / median`` over the rounds (the full range,
not the IQR: with 5-15 rounds the range is the honest figure).

The garbage collector stays enabled during timing, as it is in a server; it is run to completion
before each round so one case does not pay for another's garbage.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "Settings", "Timing", "measure_group"]


@dataclass(frozen=True, slots=True)
class Settings:
    """How long to measure.

    Attributes:
        rounds: rounds per case; the median is taken over them.
        round_seconds: target duration of one round of one case.
        served_rounds: wrk (or load generator) runs per served app.
        served_seconds: duration of each of those runs.
        memory_calls: calls sent to the worker before its RSS is read.
    """

    rounds: int
    round_seconds: float
    served_rounds: int
    served_seconds: float
    memory_calls: int = 10_000

    @classmethod
    def quick(cls) -> Settings:
        """About a minute on two cores."""
        return cls(rounds=7, round_seconds=0.1, served_rounds=3, served_seconds=3.0)

    @classmethod
    def full(cls) -> Settings:
        """A few minutes on two cores."""
        return cls(rounds=15, round_seconds=0.25, served_rounds=5, served_seconds=5.0)


@dataclass(slots=True)
class Case:
    """One thing to time.

    Attributes:
        key: stable identifier used in the JSON, e.g. ``"request.kookoo"``.
        label: what the table shows.
        prepare: given ``n``, sets up and returns a callable that performs ``n`` operations.
    """

    key: str
    label: str
    prepare: Callable[[int], Callable[[], object]]


@dataclass(slots=True)
class Timing:
    """Per-operation nanoseconds of every round of one case."""

    key: str
    label: str
    iterations: int
    rounds_ns: list[float] = field(default_factory=list)

    @property
    def median_ns(self) -> float:
        """Median over rounds, in nanoseconds per operation."""
        return statistics.median(self.rounds_ns)

    @property
    def spread(self) -> float:
        """``(max - min) / median`` over rounds (0.05 means the rounds span 5 % of the median)."""
        return (max(self.rounds_ns) - min(self.rounds_ns)) / self.median_ns

    def as_json(self) -> dict[str, Any]:
        """The timing as plain JSON values."""
        return {
            "key": self.key,
            "label": self.label,
            "unit": "ns/op",
            "median": self.median_ns,
            "min": min(self.rounds_ns),
            "max": max(self.rounds_ns),
            "spread": self.spread,
            "spread_definition": "(max - min) / median over rounds",
            "iterations_per_round": self.iterations,
            "rounds": self.rounds_ns,
        }


def _run_once(case: Case, n: int) -> int:
    """Time ``n`` operations of ``case``; return elapsed nanoseconds."""
    run = case.prepare(n)
    gc.collect()
    start = time.perf_counter_ns()
    run()
    return time.perf_counter_ns() - start


def _calibrate(case: Case, round_seconds: float) -> int:
    """How many operations make a round last about ``round_seconds`` (also warms up)."""
    n = 1
    while True:
        elapsed = _run_once(case, n)
        if elapsed >= 20_000_000 or n >= 1_000_000:
            per_op = elapsed / n
            return max(1, int(round_seconds * 1e9 / per_op))
        n *= 10 if elapsed < 2_000_000 else 3


def measure_group(cases: Sequence[Case], settings: Settings) -> dict[str, Timing]:
    """Time every case in ``settings.rounds`` interleaved rounds; results by case key."""
    timings: dict[str, Timing] = {}
    for case in cases:
        n = _calibrate(case, settings.round_seconds)
        timings[case.key] = Timing(case.key, case.label, n)
    for round_no in range(settings.rounds):
        shift = round_no % len(cases)
        for case in [*cases[shift:], *cases[:shift]]:
            timing = timings[case.key]
            timing.rounds_ns.append(_run_once(case, timing.iterations) / timing.iterations)
    return timings
