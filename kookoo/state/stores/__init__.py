"""Call stores: where per-call state lives between KooKoo's requests.

- :class:`MemoryStore` — one process; tests and development.
- :class:`SQLiteStore` — the default; several worker processes on one machine.
- :class:`RedisStore` — many machines (``pip install 'kookoo[redis]'``).

All implement :class:`CallStore` with optimistic concurrency: a save that lost a race raises
:class:`ConflictError`. A backend that cannot be reached or cannot write raises
:class:`StoreUnavailableError`, and the store heals itself once the backend is back.

Each also keeps small JSON values by namespace and key, apart from the calls, changed with
compare-and-set and expiring on their own (:meth:`CallStore.update`, :meth:`CallStore.get`,
:meth:`CallStore.pop`): kookoo's limits, outbound slots and voice bots' replies live there.
"""

from __future__ import annotations

from kookoo.state.stores.base import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_TTL_SECONDS,
    DEFAULT_VALUE_ATTEMPTS,
    CallStore,
    ConflictError,
    StoreUnavailableError,
    ValueConflictError,
)
from kookoo.state.stores.memory import MemoryStore
from kookoo.state.stores.redis_store import RedisStore
from kookoo.state.stores.sqlite import SQLiteStore

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "DEFAULT_TTL_SECONDS",
    "DEFAULT_VALUE_ATTEMPTS",
    "CallStore",
    "ConflictError",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "StoreUnavailableError",
    "ValueConflictError",
]
