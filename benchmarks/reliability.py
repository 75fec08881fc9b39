"""Crash durability of ``call.once`` and ``call.at_most_once`` under SIGKILL.

Serves :mod:`benchmarks.reliability_app` with ``gunicorn -w 2`` on SQLite, SIGKILLs a worker
every second, and drives ``--calls`` calls per mode (NewCall, then the key press whose answer
runs a 200 ms side effect), retrying a request whose answer was lost (connection reset,
timeout, 5xx) the way a proxy would.  Counts how often each call's side effect ran, per mode.

    python -m benchmarks.reliability [--calls 300] [--markdown RELIABILITY.md]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import http.client
import os
import random
import signal
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from benchmarks.procs import gunicorn, worker_pids

MODES = ("least", "most")


def _get(base: str, path: str, query: dict[str, str], attempts: int = 8) -> tuple[str, int]:
    """GET with retries on a lost answer; return (body, attempts used)."""
    url = urllib.parse.urlsplit(base)
    target = f"{path}?{urllib.parse.urlencode(query)}"
    for attempt in range(1, attempts + 1):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        try:
            conn.request("GET", target)
            resp = conn.getresponse()
            body = resp.read().decode()
            if resp.status < 500:
                return body, attempt
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    return "", attempts


def _call(base: str, mode: str, sid: str) -> dict[str, object]:
    _, tries_new = _get(base, f"/{mode}", {"event": "NewCall", "sid": sid, "cid": "09876543210"})
    body, tries = _get(base, f"/{mode}", {"event": "GotDTMF", "sid": sid, "data": "1"})
    ended = "Effect done" in body or "Effect skipped" in body
    return {
        "sid": sid,
        "mode": mode,
        "retries": tries_new + tries - 2,
        "ended": ended,
        "skipped": "Effect skipped" in body,
    }


def run(calls: int, concurrency: int = 16) -> dict[str, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        effects = work / "effects.txt"
        effects.touch()
        env = {"KOOKOO_DB": str(work / "calls.sqlite3"), "KOOKOO_EFFECTS": str(effects)}
        with gunicorn("benchmarks.reliability_app:app", workers=2, workdir=work, env=env) as (
            base,
            master,
        ):
            stop = threading.Event()
            kills = [0]

            def killer() -> None:
                rnd = random.Random(7)
                while not stop.wait(1.0):
                    pids = worker_pids(master.pid)
                    if pids:
                        os.kill(rnd.choice(pids), signal.SIGKILL)
                        kills[0] += 1

            thread = threading.Thread(target=killer, daemon=True)
            thread.start()
            jobs = [(mode, f"{mode}-{n:04d}") for n in range(calls) for mode in MODES]
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                outcomes = list(pool.map(lambda job: _call(base, *job), jobs))
            stop.set()
            thread.join()
        runs: collections.Counter[tuple[str, str]] = collections.Counter()
        keys: dict[str, set[str]] = collections.defaultdict(set)
        for line in effects.read_text().splitlines():
            key, mode, _pid = line.split()
            sid = key.split(":", 1)[0]
            runs[(mode, sid)] += 1
            keys[sid].add(key)
    report: dict[str, dict[str, int]] = {}
    for mode in MODES:
        mine = [o for o in outcomes if o["mode"] == mode]
        counts = [runs[(mode, str(o["sid"]))] for o in mine]
        report[mode] = {
            "calls": len(mine),
            "ran_0": counts.count(0),
            "ran_1": counts.count(1),
            "ran_2_or_more": sum(1 for c in counts if c >= 2),
            "calls_with_one_key": sum(1 for o in mine if len(keys[str(o["sid"])]) <= 1),
            "skipped_reported": sum(1 for o in mine if o["skipped"]),
            "unfinished": sum(1 for o in mine if not o["ended"]),
            "retried_requests": sum(int(o["retries"]) for o in mine),  # type: ignore[call-overload]
            "workers_killed": kills[0],
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per mode")
    parser.add_argument("--markdown", help="write the table to this file")
    args = parser.parse_args()
    started = time.time()
    report = run(args.calls)
    lines = [
        "| mode | calls | side effect ran 0 / 1 / 2+ times | every run got the call's one key "
        "| flow told 'skipped' | calls unfinished | requests retried | workers SIGKILLed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = {"least": "`call.once` (at least once)", "most": "`call.at_most_once`"}
    for mode, row in report.items():
        lines.append(
            f"| {names[mode]} | {row['calls']} | {row['ran_0']} / {row['ran_1']} / "
            f"{row['ran_2_or_more']} | {row['calls_with_one_key']} of {row['calls']} | "
            f"{row['skipped_reported']} | {row['unfinished']} | {row['retried_requests']} | "
            f"{row['workers_killed']} (whole run) |"
        )
    table = "\n".join(lines)
    print(table)
    print(f"finished in {time.time() - started:.0f} s")
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")


if __name__ == "__main__":
    main()
