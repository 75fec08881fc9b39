"""The app in production under real ``gunicorn -w 2``: request lines in gunicorn's stderr
without any logging config (text and JSON), ``/healthz`` with a live and a stopped Redis,
metrics that add up over the workers, and an unwritable ``KOOKOO_DB`` named at once."""

from __future__ import annotations

import contextlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from servers import gunicorn, http_get, worker_pids
from test_store_faults import unwritable

from kookoo.testing import servers as procs

pytestmark = pytest.mark.gunicorn

# "2026-12-02 05:30:00,123 [4242] INFO kookoo: sid=..."
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[(\d+)\] INFO kookoo: sid=(\S+) event=NewCall "
    r"route=/ handler=\S+ status=200 ms=[\d.]+$"
)


def _call(base: str, sid: str) -> None:
    status, _, _ = http_get(f"{base}/?event=NewCall&sid={sid}&cid=09876543210")
    assert status == 200


def test_one_request_line_per_request_in_gunicorns_stderr(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    env = {"KOOKOO_DB": str(tmp_path / "calls.sqlite3")}
    with gunicorn("examples.menu:app", workers=2, env=env, log=log) as (base, _):
        for n in range(12):
            _call(base, f"text-{n}")
    # (the readiness probe of kookoo.testing.servers logs its own line: a 400 without a sid)
    lines = [line for line in log.read_text().splitlines() if "sid=text-" in line]
    matched = [TEXT_LINE.match(line) for line in lines]
    assert all(matched), lines
    assert sorted(m.group(2) for m in matched if m) == sorted(f"text-{n}" for n in range(12))


def test_kookoo_log_format_json_gives_one_object_per_line(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    env = {"KOOKOO_DB": str(tmp_path / "calls.sqlite3"), "KOOKOO_LOG_FORMAT": "json"}
    with gunicorn("examples.menu:app", workers=2, env=env, log=log) as (base, _):
        for n in range(6):
            _call(base, f"json-{n}")
        status, _, _ = http_get(f"{base}/?event=GotDTMF&data=1")  # no sid: a 400
        assert status == 400
    # Every line the app wrote parses (gunicorn's own lines start with "[").
    objects = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    calls = [o for o in objects if (o["sid"] or "").startswith("json-")]
    assert sorted(o["sid"] for o in calls) == [f"json-{n}" for n in range(6)]
    assert all(o["status"] == 200 and o["caller"] == "*******3210" for o in calls)
    assert all(o["level"] == "INFO" and o["time"] for o in calls)
    assert [o["event"] for o in objects if o["status"] == 400 and o["sid"] == "-"]
    assert "09876543210" not in log.read_text()


def test_healthz_is_200_with_redis_up_and_503_with_it_stopped(tmp_path: Path) -> None:
    with contextlib.ExitStack() as redis:
        url = redis.enter_context(procs.redis_server(tmp_path))
        env = {"KOOKOO_STORE": f"{url}?prefix=test:healthz:"}
        with gunicorn("examples.menu:app", workers=2, env=env) as (base, _):
            status, ctype, body = http_get(f"{base}/healthz")
            assert (status, ctype, body) == (200, "text/plain; charset=utf-8", b"ok\n")
            redis.close()  # stops redis-server
            for _ in range(4):  # whichever worker answers
                status, _, body = http_get(f"{base}/healthz", timeout=5)
                assert status == 503
                text = body.decode()
                assert text.startswith("unavailable: Redis at 127.0.0.1:")
                assert "(from KOOKOO_STORE) is unavailable" in text


def _counters(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_add_up_over_two_workers(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "KOOKOO_DB": str(tmp_path / "calls.sqlite3"),
        "KOOKOO_METRICS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with gunicorn("ops_apps:app", workers=2, env=env, pythonpath="tests") as (base, proc):
        workers = set(worker_pids(proc.pid))
        seen: set[int] = set()
        sent = 0

        def one(i: int) -> int:
            status, _, body = http_get(f"{base}/?event=NewCall&sid=m-{i}&cid=1")
            assert status == 200
            return int(re.findall(rb"worker (\d+)", body)[0])

        # Concurrent rounds until both workers have answered some (bounded).
        with ThreadPoolExecutor(max_workers=6) as pool:
            while seen != workers and sent < 240:
                seen.update(pool.map(one, range(sent, sent + 12)))
                sent += 12
        assert seen == workers, f"one worker answered all {sent} requests"
        for _ in range(3):  # any worker's scrape shows the sum
            status, _, body = http_get(f"{base}/metrics")
            assert status == 200
            got = _counters(body.decode())
            key = ("kookoo_requests_total", (("event", "NewCall"), ("status", "200")))
            assert got[key] == sent
            assert got[("kookoo_request_seconds_count", (("event", "NewCall"),))] == sent
            assert got[("kookoo_live_calls", ())] == sent


def test_an_unwritable_kookoo_db_is_the_first_error_line(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    db = directory / "calls.sqlite3"
    log = tmp_path / "gunicorn.log"
    with unwritable(directory):
        env = {"KOOKOO_DB": str(db)}
        with gunicorn("examples.menu:app", workers=2, env=env, log=log) as (base, _):
            status, _, body = http_get(f"{base}/?event=NewCall&sid=1")
            assert status == 200
            assert b"temporarily unavailable" in body
    errors = [line for line in log.read_text().splitlines() if " ERROR " in line]
    assert errors, log.read_text()
    assert f"SQLite database {db} (from KOOKOO_DB) is unavailable" in errors[0]
