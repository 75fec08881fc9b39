"""A call store in Redis: for several machines behind a load balancer (``kookoo[redis]``)."""

from __future__ import annotations

import math
from typing import Any

from kookoo.calls import Call
from kookoo.stores.base import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_TTL_SECONDS,
    CallStore,
    ConflictError,
)

__all__ = ["RedisStore"]

# Compare-and-set in one round trip, atomic on the server. The record is a hash
# {v: version, d: JSON}; a missing key is version 0.
# KEYS[1] = key; ARGV = expected version, JSON data, lifetime in ms.
# Returns {1, new version} on success, {0, version found} on conflict.
_CAS_SCRIPT = """
local found = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if found ~= tonumber(ARGV[1]) then
    return {0, found}
end
redis.call('HSET', KEYS[1], 'v', found + 1, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, found + 1}
"""


class RedisStore(CallStore):
    """Keeps calls in Redis, shared by every process on every machine that reaches the server.

    Each call is a hash at ``prefix + sid`` holding its version and JSON. Saves are a small
    Lua script (sent once, then run by SHA) that compares the version and writes atomically,
    so concurrent requests for one call cannot overwrite each other
    (:class:`~kookoo.stores.ConflictError`). Every save sets the key's TTL to ``ttl_seconds``
    (live call) or ``grace_seconds`` (ended call); Redis deletes expired keys itself, so
    :meth:`expire` has nothing to do and returns 0.

    Needs the ``redis`` package: ``pip install 'kookoo[redis]'``.

    Args:
        url: the server, e.g. ``redis://127.0.0.1:6379/0`` or ``rediss://user:pw@host:6380/1``.
        prefix: prepended to every sid to form the key (keeps apps sharing a server apart).
        ttl_seconds: lifetime of a live call without activity (default 2 hours).
        grace_seconds: lifetime of an ended call after its last save (default 10 minutes).
        client: an existing ``redis.Redis`` client (sync) to use instead of ``url``; the store
            then leaves closing it to the caller.

    Example::

        app = KooKoo(store=RedisStore("redis://cache.internal:6379/2", prefix="myivr:call:"))
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "kookoo:call:",
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        client: Any = None,
    ) -> None:
        super().__init__(ttl_seconds=ttl_seconds, grace_seconds=grace_seconds)
        if client is None:
            try:
                import redis
            except ImportError as exc:
                raise ImportError(
                    "RedisStore needs the redis package: pip install 'kookoo[redis]'"
                ) from exc
            client = redis.Redis.from_url(url)
            self._owns_client = True
        else:
            self._owns_client = False
        self.url = url
        self.prefix = prefix
        # Typed Any: redis-py's bundled types and the older types-redis stubs disagree on
        # whether Redis is generic, and this module must type-check under either.
        self.client: Any = client
        """The ``redis.Redis`` client in use."""
        self._cas = client.register_script(_CAS_SCRIPT)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, prefix={self.prefix!r})"

    def key(self, sid: str) -> str:
        """The Redis key holding the call with this sid."""
        return self.prefix + sid

    def lifetime_ms(self, call: Call) -> int:
        """The key TTL a save of ``call`` sets, in milliseconds (at least 1)."""
        return max(1, math.ceil(self.lifetime(call) * 1000))

    def load(self, sid: str) -> Call | None:
        """Return the live call with this sid, or ``None``."""
        version, data = self.client.hmget(self.key(sid), ["v", "d"])
        if version is None or data is None:
            return None
        return Call.from_json(data, version=int(version))

    def save(self, call: Call) -> None:
        """Compare-and-set ``call`` on its version; see :meth:`CallStore.save`."""
        data = call.to_json()
        ok, version = self._cas(
            keys=[self.key(call.sid)], args=[call.version, data, self.lifetime_ms(call)]
        )
        if not ok:
            raise ConflictError(call.sid, call.version, int(version))
        call.version = int(version)

    def delete(self, sid: str) -> None:
        """Remove the call with this sid, if any."""
        self.client.delete(self.key(sid))

    def expire(self, now: float | None = None) -> int:
        """Return 0: Redis removes expired keys itself."""
        return 0

    def close(self) -> None:
        """Close the client if this store created it."""
        if self._owns_client:
            self.client.close()
