"""Call state across real gunicorn workers (SQLiteStore): concurrency and a killed worker."""

from __future__ import annotations

import os
import re
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from servers import gunicorn, http_get, worker_pids

pytestmark = pytest.mark.gunicorn

CALLS = 50


def test_50_concurrent_calls_keep_their_own_state_through_a_killed_worker(tmp_path: Path) -> None:
    env = {"KOOKOO_DB": str(tmp_path / "calls.sqlite3")}
    with gunicorn("gunicorn_apps:counter", workers=4, pythonpath="tests", env=env) as (
        base,
        proc,
    ):
        halfway = threading.Barrier(CALLS + 1, timeout=60)
        resumed = threading.Event()
        served_by: set[str] = set()

        def one_call(n: int) -> list[str]:
            sid = f"5500000000{n:06d}"
            caller = f"98765{n:05d}"
            heard = []
            status, _, body = http_get(f"{base}/?event=NewCall&sid={sid}&cid=0{caller}")
            assert status == 200
            heard.append(body.decode())
            for step, digit in enumerate("1234"):
                if step == 2:  # half of each call before the kill, half after
                    halfway.wait()
                    assert resumed.wait(60)
                status, _, body = http_get(f"{base}/?event=GotDTMF&sid={sid}&data={n % 10}{digit}")
                assert status == 200, body
                heard.append(body.decode())
            status, _, body = http_get(
                f"{base}/?event=Hangup&sid={sid}&process=none&total_call_duration=40"
            )
            assert (status, body) == (200, b"")
            return heard

        with ThreadPoolExecutor(max_workers=CALLS) as pool:
            futures = [pool.submit(one_call, n) for n in range(CALLS)]
            halfway.wait()
            victim = worker_pids(proc.pid)[0]
            os.kill(victim, signal.SIGKILL)  # kill -9 one worker in the middle of the calls
            resumed.set()
            results = [f.result(timeout=120) for f in futures]

        for n, heard in enumerate(results):
            caller = f"+9198765{n:05d}"
            assert heard[0].endswith(f"<playtext>hello {caller}</playtext></response>")
            presses = []
            for digit, reply in zip("1234", heard[1:], strict=True):
                presses.append(f"{n % 10}{digit}")
                match = re.search(r"<playtext>(\S+) (\d+) (\S+)</playtext>", reply)
                assert match is not None, reply
                assert match.group(1) == caller  # exactly its own caller, captured at NewCall
                assert match.group(3) == ",".join(presses)  # exactly its own presses, none lost
                served_by.add(match.group(2))
        assert len(served_by) >= 2  # the calls really crossed workers
        assert str(victim) not in {  # nothing was served by the dead worker after the kill
            re.findall(r"<playtext>\S+ (\d+) ", heard[-1])[0] for heard in results
        }
