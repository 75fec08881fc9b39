"""Part 7b of the benchmarks (Redis at scale) fills and measures a tiny store correctly.

No timing is asserted (speed is measured by ``python -m benchmarks``, never in tests): only
the shape and sanity of the results, and that the filled records are what RedisStore reads.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import scale_redis
from kookoo.state.stores import RedisStore

pytestmark = pytest.mark.redis

SIZE = 200


def test_fill_and_measure_a_tiny_store(redis_url: str, redis_prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        row = scale_redis.measure_size(redis_url, SIZE, seconds=0.2, prefix=redis_prefix)

        assert row["size"] == SIZE
        assert row["loads"] >= 500  # min_loads
        assert row["missing"] == 0  # every loaded call was found
        assert row["saves"] == row["loads"]
        for part in ("load", "save"):
            stats = row[part]
            assert 0 < stats["median_us"] <= stats["p99_us"] <= stats["p999_us"]
            assert stats["p999_us"] <= stats["max_us"]
        assert row["used_memory_per_call"] > 0
        assert row["memory_usage_median"] > row["payload_bytes_per_call"] > 0
        assert row["memory_usage_sampled"] == SIZE
        assert row["keys_after"] >= SIZE
        assert 0 <= row["settle_seconds"] <= scale_redis.SETTLE_LIMIT + 5
        assert min(row[f"ping_us_{when}"] for when in ("before_fill", "after_fill", "settled")) > 0

        # The stored records are RedisStore's own: a hash {v, d} with a live call's TTL ...
        key = redis_prefix + scale_redis.sid(SIZE // 2)
        assert set(client.hkeys(key)) == {b"v", b"d"}
        assert 0 < client.pttl(key) <= row["ttl_ms"] == 7_200_000
        # ... that round-trips through RedisStore.load with the expected state.
        with RedisStore(redis_url, prefix=redis_prefix) as store:
            for i in (0, SIZE // 2, SIZE - 1):
                call = store.load(scale_redis.sid(i))
                assert call is not None
                assert call.sid == scale_redis.sid(i)
                assert call.caller is not None
                assert call.caller.raw == "8041169706"
                assert call.version >= 1
                assert call.state["menu"] == "main"
                assert call.state["choice"] in {str(d) for d in range(10)}
                assert [h.event for h in call.history] == ["NewCall", "GotDTMF"]
            assert store.load(scale_redis.sid(SIZE)) is None
    finally:
        keys = list(client.scan_iter(match=redis_prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def test_a_fresh_fill_is_version_one_with_the_part_7_record(
    redis_url: str, redis_prefix: str
) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        scale_redis.fill(client, 3, prefix=redis_prefix, batch=2)
        with RedisStore(redis_url, prefix=redis_prefix) as store:
            call = store.load(scale_redis.sid(2))
            assert call is not None
            assert call.version == 1
            assert call.state == {"menu": "main", "choice": "2"}
            call.state["choice"] = "5"
            store.save(call)  # RedisStore's compare-and-set accepts the filled version
            assert call.version == 2
        assert client.dbsize() >= 3
    finally:
        keys = list(client.scan_iter(match=redis_prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_the_record_is_part_7s() -> None:
    from benchmarks import scale

    ours, theirs = json.loads(scale_redis.record("s1")), json.loads(scale._record("s1"))
    for raw in (ours, theirs):
        del raw["created_at"], raw["updated_at"]
        raw["history"] = [event for event, _at in raw["history"]]
    assert ours == theirs


def test_the_row_fits_the_header() -> None:
    row = {
        "size": 1_000_000,
        "loads": 99_999,
        "load": {"median_us": 54.1, "p99_us": 123.0, "p999_us": 209.0, "max_us": 15_340.0},
        "save": {"median_us": 59.8, "p99_us": 142.0, "p999_us": 185.0, "max_us": 48_250.0},
        "used_memory_per_call": 702.0,
        "memory_usage_median": 616.0,
    }
    assert len(scale_redis.format_row(row)) == len(scale_redis.COLUMNS)
