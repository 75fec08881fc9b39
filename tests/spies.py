"""Spies the store tests share: what a store writes, seen through its public backend method."""

from __future__ import annotations

from typing import NamedTuple

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
