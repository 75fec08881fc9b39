"""kookoo.state.limits: per-caller state across calls, the attempt limiter and the live-call cap, on
real stores (memory and SQLite, two store objects on one file standing in for two workers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kookoo.protocol.phone import PhoneNumber
from kookoo.state.limits import (
    CALLERS_NAMESPACE,
    LIVE_CALLS_NAMESPACE,
    AttemptLimiter,
    CallerRecords,
    LiveCallLimit,
    caller_key,
)
from kookoo.state.stores.base import CallStore, ConflictError
from kookoo.state.stores.memory import MemoryStore
from kookoo.state.stores.sqlite import SQLiteStore

TTL = 3600.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[tuple[CallStore, CallStore]]:
    """Two store objects sharing their data, as two gunicorn workers would."""
    if request.param == "memory":
        store = MemoryStore(ttl_seconds=TTL, clock=clock)
        yield store, store
        return
    first = SQLiteStore(tmp_path / "calls.db", ttl_seconds=TTL, clock=clock)
    second = SQLiteStore(tmp_path / "calls.db", ttl_seconds=TTL, clock=clock)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("number", "key"),
    [
        ("9876543210", "+919876543210"),
        ("09876543210", "+919876543210"),
        ("919876543210", "+919876543210"),
        ("+91 98765-43210", "+919876543210"),
        (PhoneNumber.parse("09876543210"), "+919876543210"),
        ("+1 (415) 555-0100", "digits:14155550100"),
        ("anonymous", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_caller_key(number: Any, key: str) -> None:
    assert caller_key(number) == key


def _no_calls(store: CallStore) -> bool:
    """Nothing of the limits is kept as a call: no sid kookoo ever used for them loads."""
    sids = ["kookoo:live-calls", "kookoo:caller:+919876543210", caller_key("9876543210")]
    return all(store.load(sid) is None for sid in sids)


def test_caller_state_outlives_a_call_and_is_shared(
    stores: tuple[CallStore, CallStore], clock: FakeClock
) -> None:
    worker_a, worker_b = CallerRecords(stores[0]), CallerRecords(stores[1])
    assert worker_a.get("09876543210", "visits") is None
    assert worker_a.update("09876543210", "visits", lambda v: (v or 0) + 1, ttl_seconds=60) == 1
    # Another worker, another call, the number written another way: the same record.
    assert worker_b.update("+919876543210", "visits", lambda v: (v or 0) + 1, ttl_seconds=60) == 2
    assert worker_a.get("9876543210", "visits") == 2
    stored = stores[0].get(CALLERS_NAMESPACE, "+919876543210")
    assert stored == {"visits": {"value": 2, "expires_at": clock.now + 60}}
    assert _no_calls(stores[0])


def test_each_entry_has_its_own_lifetime(
    stores: tuple[CallStore, CallStore], clock: FakeClock
) -> None:
    records = CallerRecords(stores[0])
    records.update("9876543210", "short", lambda v: "s", ttl_seconds=10)
    records.update("9876543210", "long", lambda v: "l", ttl_seconds=100)
    clock.now += 10
    assert records.get("9876543210", "short") is None
    assert records.get("9876543210", "long") == "l"
    # The next write drops the expired entry, so the record does not grow.
    records.update("9876543210", "long", lambda v: v + "!", ttl_seconds=100)
    assert set(stores[0].get(CALLERS_NAMESPACE, caller_key("9876543210"))) == {"long"}
    assert records.update("9876543210", "long", lambda v: None, ttl_seconds=100) is None
    assert records.get("9876543210", "long") is None
    # With its last entry gone the caller's value goes too.
    assert stores[0].get(CALLERS_NAMESPACE, caller_key("9876543210")) is None


def test_a_callers_value_expires_with_the_store_ttl_after_its_last_write(
    stores: tuple[CallStore, CallStore], clock: FakeClock
) -> None:
    records = CallerRecords(stores[0])
    records.update("9876543210", "n", lambda v: 1, ttl_seconds=TTL)
    clock.now += TTL - 1
    assert records.get("9876543210", "n") == 1
    assert stores[1].expire() == 0
    clock.now += 1
    assert records.get("9876543210", "n") is None
    assert stores[1].expire() == 1  # removed by the store's own clean-up


def test_an_entry_may_not_outlive_the_store(stores: tuple[CallStore, CallStore]) -> None:
    with pytest.raises(ValueError, match=r"at most the store's ttl_seconds \(3600.0\)"):
        CallerRecords(stores[0]).update("9876543210", "x", lambda v: 1, ttl_seconds=TTL + 1)


def test_a_concurrent_update_is_retried_not_lost(stores: tuple[CallStore, CallStore]) -> None:
    worker_a, worker_b = CallerRecords(stores[0]), CallerRecords(stores[1])
    raced = False

    def change(value: Any) -> int:
        nonlocal raced
        if not raced:
            # Worker B saves between worker A's load and save: A's save conflicts and re-runs.
            raced = True
            worker_b.update("9876543210", "n", lambda v: (v or 0) + 1, ttl_seconds=60)
        return int(value or 0) + 1

    assert worker_a.update("9876543210", "n", change, ttl_seconds=60) == 2
    assert worker_b.get("9876543210", "n") == 2


def test_endless_conflicts_raise(stores: tuple[CallStore, CallStore]) -> None:
    worker_a, worker_b = CallerRecords(stores[0], retries=2), CallerRecords(stores[1])

    def change(value: Any) -> int:
        worker_b.update("9876543210", "n", lambda v: (v or 0) + 1, ttl_seconds=60)
        return 0

    with pytest.raises(ConflictError):
        worker_a.update("9876543210", "n", change, ttl_seconds=60)
    assert worker_b.get("9876543210", "n") == 3  # one per attempt: 1 + 2 retries


def test_three_wrong_attempts_lock_the_number_across_calls(
    stores: tuple[CallStore, CallStore], clock: FakeClock
) -> None:
    worker_a = AttemptLimiter(stores[0], max_attempts=3, lock_seconds=900)
    worker_b = AttemptLimiter(stores[1], max_attempts=3, lock_seconds=900)
    status = worker_a.failed("09876543210")  # call 1
    assert (status.failures, status.remaining, status.locked) == (1, 2, False)
    status = worker_b.failed("9876543210")  # call 2, other worker, same caller
    assert (status.failures, status.remaining, status.locked) == (2, 1, False)
    status = worker_a.failed("+919876543210")  # call 3
    assert (status.failures, status.remaining, status.locked, status.retry_after) == (
        3,
        0,
        True,
        900.0,
    )
    clock.now += 899
    assert worker_b.status("09876543210").locked
    assert worker_b.status("09876543210").retry_after == pytest.approx(1.0)
    # A different caller is not affected.
    assert worker_b.status("9000000001").remaining == 3
    clock.now += 1
    after = worker_b.status("09876543210")
    assert (after.locked, after.failures, after.remaining) == (False, 0, 3)


def test_more_tries_while_locked_do_not_extend_the_lock(
    stores: tuple[CallStore, CallStore], clock: FakeClock
) -> None:
    limiter = AttemptLimiter(stores[0], max_attempts=2, lock_seconds=100)
    limiter.failed("9876543210")
    limiter.failed("9876543210")
    clock.now += 50
    assert limiter.failed("9876543210").retry_after == pytest.approx(50.0)


def test_success_forgets_failures_but_not_a_lock(
    stores: tuple[CallStore, CallStore], clock: FakeClock
) -> None:
    limiter = AttemptLimiter(stores[0], max_attempts=3, lock_seconds=100)
    limiter.failed("9876543210")
    limiter.failed("9876543210")
    limiter.succeeded("9876543210")
    assert limiter.status("9876543210").remaining == 3
    for _ in range(3):
        limiter.failed("9876543210")
    limiter.succeeded("9876543210")
    assert limiter.status("9876543210").locked


def test_failures_are_forgotten_after_the_window(
    stores: tuple[CallStore, CallStore], clock: FakeClock
) -> None:
    limiter = AttemptLimiter(stores[0], max_attempts=3, lock_seconds=900, window_seconds=60)
    limiter.failed("9876543210")
    limiter.failed("9876543210")
    clock.now += 901  # the entry lives max(lock, window) after its last write
    assert limiter.failed("9876543210").failures == 1


def test_concurrent_failures_are_all_counted(stores: tuple[CallStore, CallStore]) -> None:
    worker_a = AttemptLimiter(stores[0], max_attempts=3)
    worker_b = AttemptLimiter(stores[1], max_attempts=3)
    original = worker_a.records.update

    def racing_update(number: Any, name: str, change: Any, *, ttl_seconds: float) -> Any:
        def raced_change(value: Any) -> Any:
            if not raced:
                raced.append(True)
                worker_b.failed(number)  # lands between A's load and save
            return change(value)

        return original(number, name, raced_change, ttl_seconds=ttl_seconds)

    raced: list[bool] = []
    worker_a.records.update = racing_update  # type: ignore[method-assign]
    worker_a.failed("9876543210")
    assert worker_b.status("9876543210").failures == 2


def test_limiter_settings_are_checked(stores: tuple[CallStore, CallStore]) -> None:
    with pytest.raises(ValueError, match="max_attempts must be at least 1"):
        AttemptLimiter(stores[0], max_attempts=0)
    with pytest.raises(ValueError, match=r"lock_seconds=7200\.0 must be positive and at most"):
        AttemptLimiter(stores[0], lock_seconds=7200)
    with pytest.raises(ValueError, match=r"window_seconds=-1\.0 must be positive"):
        AttemptLimiter(stores[0], window_seconds=-1)


def test_live_call_cap(stores: tuple[CallStore, CallStore], clock: FakeClock) -> None:
    worker_a, worker_b = LiveCallLimit(stores[0], 2), LiveCallLimit(stores[1], 2)
    assert worker_a.admit("call-1")
    assert worker_b.admit("call-2")
    assert not worker_a.admit("call-3")
    assert worker_b.admit("call-1")  # a repeated NewCall for a live call is admitted again
    assert worker_a.count() == 2
    worker_b.release("call-1")
    assert worker_a.admit("call-3")
    assert sorted(stores[0].get(LIVE_CALLS_NAMESPACE, LiveCallLimit.key)) == ["call-2", "call-3"]
    assert _no_calls(stores[0])
    worker_a.release("call-2")
    worker_b.release("call-3")
    assert worker_a.count() == 0
    assert stores[0].get(LIVE_CALLS_NAMESPACE, LiveCallLimit.key) is None  # removed when empty


def test_a_call_whose_hangup_never_came_stops_counting(
    stores: tuple[CallStore, CallStore], clock: FakeClock
) -> None:
    limit = LiveCallLimit(stores[0], 1)
    assert limit.admit("lost")
    clock.now += TTL
    assert limit.count() == 0
    assert limit.admit("next")


def test_concurrent_admissions_never_exceed_the_cap(stores: tuple[CallStore, CallStore]) -> None:
    worker_a, worker_b = LiveCallLimit(stores[0], 1), LiveCallLimit(stores[1], 1)
    original = worker_a._change

    def racing(change: Any) -> bool:
        def raced(live: dict[str, float], now: float) -> bool:
            if not seen:
                seen.append(True)
                assert worker_b.admit("b")  # takes the last slot between A's load and save
            return bool(change(live, now))

        return original(raced)

    seen: list[bool] = []
    worker_a._change = racing  # type: ignore[method-assign]
    assert not worker_a.admit("a")
    assert worker_b.count() == 1


def test_live_call_cap_is_checked(stores: tuple[CallStore, CallStore]) -> None:
    with pytest.raises(ValueError, match="max_live_calls must be at least 1"):
        LiveCallLimit(stores[0], 0)
    assert LiveCallLimit(stores[0], 3).count() == 0


def test_limits_are_store_values_not_calls(stores: tuple[CallStore, CallStore]) -> None:
    CallerRecords(stores[0]).update("9876543210", "x", lambda v: 1, ttl_seconds=60)
    assert LiveCallLimit(stores[0], 1).admit("3341")
    assert stores[1].get(CALLERS_NAMESPACE, "+919876543210") is not None
    assert stores[1].get(LIVE_CALLS_NAMESPACE, LiveCallLimit.key) is not None
    assert _no_calls(stores[1])
    assert stores[1].load("3341") is None


def _count_writes(store: CallStore) -> list[str]:
    writes: list[str] = []
    write = store.write_value

    def counted(
        namespace: str,
        key: str,
        expected: int,
        version: int,
        data: str | None,
        ttl_seconds: float,
    ) -> bool:
        writes.append(namespace)
        return write(namespace, key, expected, version, data, ttl_seconds)

    store.write_value = counted  # type: ignore[method-assign]
    return writes


def test_a_refused_admission_writes_nothing(stores: tuple[CallStore, CallStore]) -> None:
    limit = LiveCallLimit(stores[0], 1)
    assert limit.admit("first")
    writes = _count_writes(stores[0])
    assert not limit.admit("second")
    limit.release("never-admitted")
    assert writes == []
    limit.release("first")
    assert writes == [LIVE_CALLS_NAMESPACE]
