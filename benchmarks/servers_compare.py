"""Which WSGI server to run kookoo under: the menu (NewCall -> menu, no state) served by
gunicorn sync workers, gunicorn gthread workers and uWSGI, 2 processes each, loaded by
``wrk -t1`` from loopback at 8 and at 64 connections, runs interleaved, medians reported.

Not part of ``python -m benchmarks`` (it needs uWSGI: ``pip install pyuwsgi``); run it as
``python -m benchmarks.servers_compare [--rounds N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.apps import NEW_CALL_QUERY, ROUTE
from benchmarks.procs import ROOT, free_port
from benchmarks.served import http_get, wrk_load

__all__ = ["SERVERS", "main", "serve"]

TARGET = "benchmarks.apps:kookoo_app"

#: name -> command line (``{port}`` filled in), 2 worker processes each.
SERVERS: dict[str, list[str]] = {
    "gunicorn sync (-w 2)": [
        sys.executable, "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:{port}",
        "--log-level", "warning", "--backlog", "2048", TARGET,
    ],
    "gunicorn gthread (-w 2 --threads 4)": [
        sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
        "-b", "127.0.0.1:{port}", "--log-level", "warning", "--backlog", "2048", TARGET,
    ],
    "uWSGI (--processes 2)": [
        "uwsgi", "--http-socket", "127.0.0.1:{port}", "--processes", "2", "--master",
        "--module", TARGET, "--disable-logging", "--need-app", "--die-on-term",
        "--listen", "1024",
    ],
}  # fmt: skip


@contextmanager
def serve(name: str, workdir: Path) -> Iterator[str]:
    """Start server ``name`` on a free port; yield its base URL once it answers the menu."""
    port = free_port()
    cmd = [part.format(port=port) for part in SERVERS[name]]
    if shutil.which(cmd[0]) is None and cmd[0] != sys.executable:
        raise RuntimeError(f"{cmd[0]} is not installed")
    log = (workdir / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited; see {log.name}")
            try:
                status, body = http_get(base, f"{ROUTE}?{NEW_CALL_QUERY}")
                if status == 200 and b"Ram &amp; Shyam" in body:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer in 30 s; see {log.name}")
            time.sleep(0.1)
        for _ in range(20):  # reach every worker once before measuring
            http_get(base, f"{ROUTE}?{NEW_CALL_QUERY}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main(argv: list[str] | None = None) -> int:
    """Measure every server; print one line per server and concurrency."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.servers_compare")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed", file=sys.stderr)
        return 1
    workdir = Path(ROOT / ".servers-compare")
    workdir.mkdir(exist_ok=True)
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    with ExitStack() as stack:
        bases = {}
        for name in SERVERS:
            try:
                bases[name] = stack.enter_context(serve(name, workdir))
            except RuntimeError as exc:
                print(f"{name}: skipped: {exc}")
        for round_no in range(args.rounds):
            names = list(bases)
            names = names[round_no % len(names) :] + names[: round_no % len(names)]
            for connections in (8, 64):
                for name in names:
                    url = f"{bases[name]}{ROUTE}?{NEW_CALL_QUERY}"
                    load = wrk_load(url, args.seconds, connections=connections)
                    results.setdefault((name, connections), []).append(
                        (load.rps, load.p50_ms, load.p99_ms)
                    )
    print(f"{'server':<38}{'conns':>6}{'req/s':>10}{'spread':>8}{'p50':>9}{'p99':>9}")
    for (name, connections), runs in results.items():
        rps = [r[0] for r in runs]
        med = statistics.median(rps)
        spread = (max(rps) - min(rps)) / med
        p50 = statistics.median(r[1] for r in runs)
        p99 = statistics.median(r[2] for r in runs)
        print(f"{name:<38}{connections:>6}{med:>10,.0f}{spread:>7.0%}{p50:>7.2f}ms{p99:>7.2f}ms")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
