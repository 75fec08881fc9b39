"""Part 7b: Redis at scale: per-request cost and memory per call at 1 k / 100 k / 1 M stored
calls, the Redis counterpart of :mod:`benchmarks.scale`.

For each size a fresh redis-server (no persistence: ``--save '' --appendonly no``, as
:func:`benchmarks.procs.redis_server` starts it) is filled with ``size`` call records exactly
as :class:`kookoo.state.stores.RedisStore` keeps them: a hash at ``prefix + sid`` with ``v`` (the
version) and ``d`` (the call's JSON, the same record as part 7), and the TTL a save of a live
call sets.  The fill is pipelined (``HSET`` + ``PEXPIRE``, ``FILL_BATCH`` keys per round
trip, no transaction), and the server is left to settle (:func:`settle`).  Then one process
runs the GotDTMF path of a call another worker saved last, ``store.load(sid)`` then
``store.save(call)`` on random stored sids through a real RedisStore, for at least
``seconds``; load and save are timed separately.  Memory per call is
Redis's ``used_memory`` growth over the fill divided by ``size``, and the median
``MEMORY USAGE`` of a sample of keys.

Run alone: ``python -m benchmarks.scale_redis --sizes 1000,100000,1000000 --seconds 5``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.procs import redis_binary, redis_server
from kookoo.protocol.phone import PhoneNumber
from kookoo.state.calls import Call
from kookoo.state.stores import RedisStore

__all__ = [
    "COLUMNS",
    "FILL_BATCH",
    "MEMORY_SAMPLE",
    "PREFIX",
    "fill",
    "format_row",
    "measure_size",
    "ping_us",
    "record",
    "scale_results",
    "settle",
    "sid",
    "title",
    "unavailable",
]

#: Key prefix of the stored calls (RedisStore's default).
PREFIX = "kookoo:call:"

#: Keys written per pipelined round trip while filling.
FILL_BATCH = 10_000

#: Keys whose ``MEMORY USAGE`` is sampled after the fill.
MEMORY_SAMPLE = 200

#: Longest wait, in seconds, for the server to settle after the fill (see :func:`settle`).
SETTLE_LIMIT = 30.0

#: Header of the table rows :func:`format_row` prints (times in µs).
COLUMNS = (
    f"  {'calls':>9}{'loads':>8}{'load p50':>10}{'p99':>7}{'p99.9':>7}{'worst':>8}"
    f"{'save p50':>10}{'p99':>7}{'p99.9':>7}{'worst':>8}{'used/call':>11}{'key usage':>11}"
)


def unavailable() -> str | None:
    """Why Redis cannot be measured here (a ``"skipped: ..."`` note), or ``None``."""
    if redis_binary() is None:
        return "skipped: redis-server not installed"
    if importlib.util.find_spec("redis") is None:
        return "skipped: the redis package is not installed (pip install 'kookoo[bench]')"
    return None


def sid(i: int) -> str:
    """The sid of the ``i``-th stored call."""
    return f"s{i:08d}"


def record(sid: str) -> str:
    """The JSON of one stored call: the record of part 7 (:mod:`benchmarks.scale`), built
    the same way (a call after NewCall and one GotDTMF, about 350 bytes)."""
    call = Call(
        sid,
        caller=PhoneNumber.parse("8041169706"),
        called_number=PhoneNumber.parse("911130803946"),
    )
    call.record_event("NewCall")
    call.record_event("GotDTMF")
    call.state.update(menu="main", choice="2")
    return call.to_json()


def fill(client: Any, size: int, *, prefix: str = PREFIX, batch: int = FILL_BATCH) -> int:
    """Store ``size`` live calls (sids :func:`sid` ``(0 .. size - 1)``) as RedisStore does;
    return the TTL set on each, in ms."""
    template = record("SID")
    ttl_ms = RedisStore(client=client, prefix=prefix).lifetime_ms(Call("SID"))
    pipe = client.pipeline(transaction=False)
    for start in range(0, size, batch):
        for i in range(start, min(start + batch, size)):
            s = sid(i)
            key = prefix + s
            # What RedisStore's compare-and-set script writes for version 1.
            pipe.execute_command("HSET", key, "v", 1, "d", template.replace('"SID"', f'"{s}"', 1))
            pipe.execute_command("PEXPIRE", key, ttl_ms)
        pipe.execute()
    return ttl_ms


def ping_us(client: Any, count: int = 300) -> float:
    """Median round trip of ``count`` PINGs, in µs."""
    times = []
    for _ in range(count):
        start = time.perf_counter_ns()
        client.ping()
        times.append(time.perf_counter_ns() - start)
    return _us(int(statistics.median(times)))


def settle(client: Any, baseline_us: float, limit: float = SETTLE_LIMIT) -> tuple[float, float]:
    """Wait until a PING is about as fast as before the fill; return (seconds waited, last
    median PING in µs).

    Right after a large fill even PING is slower for a few seconds (at 1 M calls: about
    150 µs against 50 µs on an empty server) while Redis finishes its own work on the new
    keys; a store that grew over hours would not be measured in that moment.
    """
    started = time.monotonic()
    while True:
        now_us = ping_us(client)
        waited = time.monotonic() - started
        if now_us <= max(1.5 * baseline_us, baseline_us + 15) or waited >= limit:
            return waited, now_us
        time.sleep(0.5)


@contextlib.contextmanager
def _quiet_persistence_warning() -> Iterator[None]:
    # The benchmark's redis-server keeps nothing on disk on purpose; RedisStore's one warning
    # about that (logged after its first command) is not news here.
    logger = logging.getLogger("kookoo.stores")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _us(ns: int) -> float:
    return ns / 1000


def _summary(latencies: list[int]) -> dict[str, float]:
    latencies.sort()
    n = len(latencies)
    return {
        "median_us": _us(int(statistics.median(latencies))),
        "p99_us": _us(latencies[min(n - 1, int(n * 0.99))]),
        "p999_us": _us(latencies[min(n - 1, int(n * 0.999))]),
        "max_us": _us(latencies[-1]),
    }


def measure_size(
    url: str,
    size: int,
    *,
    seconds: float,
    prefix: str = PREFIX,
    min_loads: int = 500,
) -> dict[str, Any]:
    """Fill the server at ``url`` with ``size`` calls under ``prefix``, then time loads and
    saves of random ones for at least ``seconds`` (and ``min_loads`` loads); see the module
    doc.  Memory per call assumes nothing else writes to the server meanwhile."""
    import redis

    client = redis.Redis.from_url(url)
    store = RedisStore(url, prefix=prefix)
    try:
        ping_before = ping_us(client)
        before = int(client.info("memory")["used_memory"])
        started = time.perf_counter()
        ttl_ms = fill(client, size, prefix=prefix)
        fill_seconds = time.perf_counter() - started
        after = int(client.info("memory")["used_memory"])
        step = max(1, size // MEMORY_SAMPLE)
        sample = [prefix + sid(i) for i in range(0, size, step)]
        usage = [int(client.memory_usage(key) or 0) for key in sample]
        payload = [len(client.hget(key, "d") or b"") for key in sample]
        ping_after_fill = ping_us(client)
        settle_seconds, ping_settled = settle(client, ping_before)

        with _quiet_persistence_warning():  # also loads the CAS script, opens the connection
            warm = store.load(sid(size - 1))
            if warm is not None:
                store.save(warm)
        rng = random.Random(size)
        loads: list[int] = []
        saves: list[int] = []
        missing = 0
        clock = time.perf_counter_ns
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or len(loads) < min_loads:
            s = sid(rng.randrange(size))
            t0 = clock()
            call = store.load(s)
            t1 = clock()
            loads.append(t1 - t0)
            if call is None:
                missing += 1
                continue
            call.state["choice"] = str(len(loads) % 10)  # the record keeps its size
            t2 = clock()
            store.save(call)
            saves.append(clock() - t2)
        keys_after = int(client.dbsize())
    finally:
        store.close()
        client.close()
    return {
        "size": size,
        "fill_seconds": fill_seconds,
        "ttl_ms": ttl_ms,
        "ping_us_before_fill": ping_before,
        "ping_us_after_fill": ping_after_fill,
        "settle_seconds": settle_seconds,
        "ping_us_settled": ping_settled,
        "loads": len(loads),
        "saves": len(saves),
        "missing": missing,
        "load": _summary(loads),
        "save": _summary(saves) if saves else None,
        "used_memory_before": before,
        "used_memory_after_fill": after,
        "used_memory_per_call": (after - before) / max(1, size),
        "memory_usage_median": statistics.median(usage),
        "memory_usage_sampled": len(usage),
        "payload_bytes_per_call": statistics.median(payload),
        "keys_after": keys_after,
    }


def scale_results(workdir: Path, sizes: Sequence[int], seconds: float) -> list[dict[str, Any]]:
    """:func:`measure_size` at every size, each on a fresh redis-server (its files in
    ``workdir``)."""
    results = []
    for size in sizes:
        directory = workdir / f"redis-scale-{size}"
        directory.mkdir(parents=True, exist_ok=True)
        with redis_server(directory) as url:
            results.append(measure_size(url, size, seconds=seconds))
    return results


def title(seconds: float) -> str:
    """The table's title line."""
    return (
        f"7b. Redis at scale: load + save of random stored calls for {seconds:g} s per size "
        "(times in µs; fresh redis-server per size, no persistence)"
    )


def format_row(r: dict[str, Any]) -> str:
    """One table row for a result of :func:`measure_size` (under :data:`COLUMNS`)."""
    ld = r["load"]
    sv = r["save"] or {"median_us": 0.0, "p99_us": 0.0, "p999_us": 0.0, "max_us": 0.0}
    return (
        f"  {r['size']:>9,}{r['loads']:>8,}"
        f"{ld['median_us']:>10.1f}{ld['p99_us']:>7.0f}{ld['p999_us']:>7.0f}{ld['max_us']:>8.0f}"
        f"{sv['median_us']:>10.1f}{sv['p99_us']:>7.0f}{sv['p999_us']:>7.0f}{sv['max_us']:>8.0f}"
        f"{r['used_memory_per_call']:>9.0f} B{r['memory_usage_median']:>9.0f} B"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.scale_redis``: print the part 7b table; exit status 0 (2 when
    Redis is unavailable)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale_redis", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", default="1000,100000,1000000", help="comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per size")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    reason = unavailable()
    print(title(args.seconds))
    if reason is not None:
        print(f"  {reason}")
        return 2
    print(COLUMNS)
    with tempfile.TemporaryDirectory(prefix="kookoo-bench-") as tmp:
        for size in sizes:
            (row,) = scale_results(Path(tmp), [size], args.seconds)
            print(format_row(row), flush=True)
            print(
                f"  {'':>9}filled in {row['fill_seconds']:.1f} s, settled in "
                f"{row['settle_seconds']:.1f} s (PING {row['ping_us_before_fill']:.0f} µs empty, "
                f"{row['ping_us_after_fill']:.0f} µs after the fill, "
                f"{row['ping_us_settled']:.0f} µs settled); {row['missing']} missing; "
                f"{row['keys_after']:,} keys after; {row['payload_bytes_per_call']:.0f} B of "
                "JSON per call",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
