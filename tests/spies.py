"""What the store tests share: a spy on the values a store writes (through its public
backend method), and Redis time made to pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from kookoo.state.stores import CallStore


class ValueWrite(NamedTuple):
    """One call of :meth:`CallStore.write_value <kookoo.CallStore.write_value>`."""

    namespace: str
    key: str
    data: str | None


def record_writes(store: CallStore) -> list[ValueWrite]:
    """Every value write ``store`` makes from now on, in order (each still goes through)."""
    writes: list[ValueWrite] = []
    write = store.write_value

    def recorded(
        namespace: str,
        key: str,
        expected: int,
        version: int,
        data: str | None,
        ttl_seconds: float,
    ) -> bool:
        writes.append(ValueWrite(namespace, key, data))
        return write(namespace, key, expected, version, data, ttl_seconds)

    store.write_value = recorded  # type: ignore[method-assign]
    return writes


def redis_advance(client: Any, prefix: str) -> Callable[[float], None]:
    """A function making ``seconds`` pass for the keys under ``prefix``: Redis keeps its own
    time, so the TTL the store set on each key is shortened (a key without one is left), and
    the test still checks the TTLs the store chose."""

    def advance(seconds: float) -> None:
        for key in client.scan_iter(match=prefix + "*"):
            remaining = client.pttl(key)
            if remaining < 0:
                continue
            left = remaining - int(seconds * 1000)
            if left <= 0:
                client.delete(key)
            else:
                client.pexpire(key, left)

    return advance
