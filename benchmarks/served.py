"""Part 4 (served) and a loopback load generator: gunicorn with 2 workers under load.

Load comes from ``wrk`` when it is installed, else from :func:`python_load`, a bounded Python
load generator (threads on raw sockets).  Every app is served by its own gunicorn at once and
the load runs round-robin over them, ``rounds`` times, so each app sees the same machine state;
each run reports requests per second and the p50/p99 latency.
"""

from __future__ import annotations

import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.apps import NEW_CALL_QUERY, ROUTE
from benchmarks.procs import gunicorn

__all__ = [
    "LoadResult",
    "ServedResult",
    "http_get",
    "load_tool",
    "python_load",
    "run_served",
    "wrk_load",
]

WORKERS = 2
CONNECTIONS = 8


@dataclass(slots=True)
class LoadResult:
    """One load run: throughput and latency percentiles (milliseconds)."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


@dataclass(slots=True)
class ServedResult:
    """All load runs against one app."""

    key: str
    label: str
    target: str
    runs: list[LoadResult] = field(default_factory=list)

    @property
    def rps(self) -> float:
        """Median requests per second over runs."""
        return statistics.median(r.rps for r in self.runs)

    @property
    def spread(self) -> float:
        """``(max - min) / median`` of requests per second over runs."""
        values = [r.rps for r in self.runs]
        return (max(values) - min(values)) / self.rps

    @property
    def p50_ms(self) -> float:
        """Median over runs of the p50 latency."""
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        """Median over runs of the p99 latency."""
        return statistics.median(r.p99_ms for r in self.runs)

    def as_json(self) -> dict[str, Any]:
        """The result as plain JSON values."""
        return {
            "key": self.key,
            "label": self.label,
            "gunicorn_target": self.target,
            "unit": "requests/s",
            "median": self.rps,
            "spread": self.spread,
            "spread_definition": "(max - min) / median over runs",
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "runs": [
                {
                    "rps": r.rps,
                    "p50_ms": r.p50_ms,
                    "p99_ms": r.p99_ms,
                    "requests": r.requests,
                    "errors": r.errors,
                }
                for r in self.runs
            ],
        }


# -- load generators ----------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_load(url: str, seconds: float, connections: int = CONNECTIONS) -> LoadResult:
    """Run wrk (1 thread: the server needs the other core) against ``url``."""
    secs = max(1, round(seconds))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{secs}s", "--latency", "--timeout", "5s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if sock_errors:
        errors += sum(int(g) for g in sock_errors.groups())
    return LoadResult(
        rps=rps,
        p50_ms=_wrk_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_wrk_ms(p99.group(1)) if p99 else float("nan"),
        requests=int(total.group(1)) if total else 0,
        errors=errors,
    )


def _host_port(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def http_get(base_url: str, target: str) -> tuple[int, bytes]:
    """One ``GET target`` on a new connection (HTTP/1.0); return (status, body)."""
    host, port = _host_port(base_url)
    request = f"GET {target} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode()
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.startswith(b"HTTP/") else b"0"
    return int(status), body


def python_load(
    base_url: str,
    *,
    seconds: float | None = None,
    requests: int | None = None,
    connections: int = CONNECTIONS,
    target: Callable[[int], str] | None = None,
) -> LoadResult:
    """A bounded load generator: ``connections`` threads, one new connection per request.

    Stops after ``seconds`` or once ``requests`` were sent (whichever is given; a 120 s cap
    applies in any case).  ``target(i)`` gives the path of request ``i`` (default: NewCall).
    Slower than wrk (the client holds the GIL), so served numbers from it are lower bounds.
    """
    make_target = target or (lambda i: f"{ROUTE}?{NEW_CALL_QUERY}")
    deadline = time.monotonic() + min(seconds if seconds is not None else 120.0, 120.0)
    lock = threading.Lock()
    counter = [0]
    latencies: list[float] = []
    errors = [0]

    def worker() -> None:
        mine: list[float] = []
        failed = 0
        while time.monotonic() < deadline:
            with lock:
                i = counter[0]
                if requests is not None and i >= requests:
                    break
                counter[0] = i + 1
            start = time.perf_counter()
            try:
                ok = http_get(base_url, make_target(i))[0] == 200
            except OSError:
                ok = False
            mine.append(time.perf_counter() - start)
            failed += not ok
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    if not latencies:
        return LoadResult(0.0, float("nan"), float("nan"), 0, errors[0])
    return LoadResult(
        rps=len(latencies) / elapsed,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        requests=len(latencies),
        errors=errors[0],
    )


def load_tool() -> str:
    """``"wrk"`` when wrk is on ``PATH``, else ``"python"``."""
    return "wrk" if shutil.which("wrk") else "python"


# -- part 4 ---------------------------------------------------------------------------------------


def run_served(
    apps: Sequence[tuple[str, str, str]],
    *,
    rounds: int,
    seconds: float,
    workdir: Path,
) -> tuple[list[ServedResult], str]:
    """Serve each ``(key, label, gunicorn target)`` with 2 workers and load it in turn.

    Returns the results and the load tool used.  Every gunicorn is stopped on return.
    """
    tool = load_tool()
    results = [ServedResult(key, label, target) for key, label, target in apps]
    with ExitStack() as stack:
        urls = []
        for result in results:
            server = gunicorn(result.target, workers=WORKERS, workdir=workdir)
            base, _proc = stack.enter_context(server)
            status, body = http_get(base, f"{ROUTE}?{NEW_CALL_QUERY}")
            if status != 200 or b"Ram &amp; Shyam" not in body:
                raise RuntimeError(
                    f"{result.label} under gunicorn answered {status} {body[:200]!r}"
                )
            urls.append(f"{base}{ROUTE}?{NEW_CALL_QUERY}")
        # A short warm-up of each server (imports, first-request setup) before measuring.
        for url in urls:
            _load(tool, url, 1.0)
        for round_no in range(rounds):
            shift = round_no % len(results)
            order = list(range(len(results)))[shift:] + list(range(len(results)))[:shift]
            for i in order:
                results[i].runs.append(_load(tool, urls[i], seconds))
    return results, tool


def _load(tool: str, url: str, seconds: float) -> LoadResult:
    if tool == "wrk":
        return wrk_load(url, seconds)
    base = url.split(ROUTE, 1)[0]
    return python_load(base, seconds=seconds)
