"""A call store in Redis: for several machines behind a load balancer (``kookoo[redis]``)."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

from kookoo.state.calls import Call
from kookoo.state.stores.base import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_TTL_SECONDS,
    CallStore,
    ConflictError,
    StoreUnavailableError,
)

__all__ = ["DEFAULT_REDIS_CONNECT_TIMEOUT", "DEFAULT_REDIS_SOCKET_TIMEOUT", "RedisStore"]

logger = logging.getLogger("kookoo.stores")

DEFAULT_REDIS_CONNECT_TIMEOUT = 0.25
"""Seconds :class:`RedisStore` waits to open a connection to Redis."""
DEFAULT_REDIS_SOCKET_TIMEOUT = 0.5
"""Seconds :class:`RedisStore` waits for Redis to answer one command."""

# Replies that mean "Redis cannot serve this right now" rather than "the request is wrong":
# persistence failing (MISCONF), a script running too long (BUSY), a replica that lost its
# master (MASTERDOWN), a cluster moving slots (TRYAGAIN, CLUSTERDOWN). Errors with classes of
# their own (out of memory, read-only replica, loading) are matched by class.
_UNAVAILABLE_REPLIES = ("MISCONF", "BUSY ", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "LOADING")

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

# The same for a value (CallStore.update), a hash {v: version, d: JSON} as well; versions are
# compared as the decimal text they were written as. A missing key is version 0.
# KEYS[1] = key; ARGV = expected version, new version, lifetime in ms[, JSON data]; without
# the data the value is removed. Returns 1 when it wrote, 0 when the version was not the one.
_VALUE_CAS_SCRIPT = """
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then
    return 0
end
if #ARGV < 4 then
    redis.call('DEL', KEYS[1])
else
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[4])
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""


class RedisStore(CallStore):
    """Keeps calls in Redis, shared by every process on every machine that reaches the server.

    Each call is a hash at ``prefix + sid`` holding its version and JSON; each value
    (:meth:`~kookoo.state.stores.CallStore.update`) a hash at ``kv_prefix + namespace + ":" +
    key``, with a TTL of its own. Saves are a small
    Lua script (sent once, then run by SHA) that compares the version and writes atomically,
    so concurrent requests for one call cannot overwrite each other
    (:class:`~kookoo.state.stores.ConflictError`). Every save sets the key's TTL to ``ttl_seconds``
    (live call) or ``grace_seconds`` (ended call); Redis deletes expired keys itself, so
    :meth:`expire` has nothing to do and returns 0.

    Outages: the client this store creates waits at most ``connect_timeout`` to connect and
    ``socket_timeout`` for each reply, and never retries, so when Redis is down or frozen a
    load or save raises :class:`~kookoo.state.stores.StoreUnavailableError` after about
    ``connect_timeout + socket_timeout`` at most, instead of holding its worker. So do refused
    writes (out of memory, a read-only replica, failing persistence). A connection that failed
    is closed, and the next request connects afresh: when Redis is back, the next request
    works. Timeouts written in the URL (``?socket_timeout=5``) take precedence.

    Persistence: after the first successful command in each process the store asks Redis
    (``CONFIG GET appendonly`` and ``save``) and logs one WARNING on the ``kookoo.stores``
    logger if Redis keeps nothing on disk, since every live call is then lost when Redis
    restarts. Where ``CONFIG`` is disabled or renamed (managed Redis) the check is skipped
    without a word.

    Needs the ``redis`` package: ``pip install 'kookoo[redis]'``.

    Args:
        url: the server, e.g. ``redis://127.0.0.1:6379/0`` or ``rediss://user:pw@host:6380/1``.
        prefix: prepended to every sid to form the key (keeps apps sharing a server apart).
            Not empty: kookoo's values need keys that no sid can reach.
        kv_prefix: prepended to the values' keys; no key with it starts with ``prefix`` and
            none with ``prefix`` with it. By default ``prefix`` with its ending ``call:``
            made ``kv:`` (``kookoo:kv:``, ``myivr:kv:``), else ``"kv:" + prefix``.
        ttl_seconds: lifetime of a live call without activity (default 2 hours).
        grace_seconds: lifetime of an ended call after its last save (default 10 minutes).
        client: an existing ``redis.Redis`` client (sync) to use instead of ``url``; the store
            then leaves closing it to the caller, and its timeouts and retries are the
            client's own (redis-py's defaults wait seconds and retry).
        connect_timeout: seconds to wait for a connection (default 0.25).
        socket_timeout: seconds to wait for each reply (default 0.5).

    Example::

        app = KooKoo(store=RedisStore("redis://cache.internal:6379/2", prefix="myivr:call:"))
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "kookoo:call:",
        kv_prefix: str | None = None,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        client: Any = None,
        connect_timeout: float | None = None,
        socket_timeout: float | None = None,
    ) -> None:
        super().__init__(ttl_seconds=ttl_seconds, grace_seconds=grace_seconds)
        self.kv_prefix = _kv_prefix(prefix, kv_prefix)
        """Prepended to ``namespace + ":" + key`` to form a value's key."""
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as exc:
            raise ImportError(
                "RedisStore needs the redis package: pip install 'kookoo[redis]'"
            ) from exc
        if client is None:
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=_positive(
                    "connect_timeout", connect_timeout, DEFAULT_REDIS_CONNECT_TIMEOUT
                ),
                socket_timeout=_positive(
                    "socket_timeout", socket_timeout, DEFAULT_REDIS_SOCKET_TIMEOUT
                ),
                # No retry: a retry doubles the wait on a frozen server, and redis-py 6+
                # retries three times with backoff by default.
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
            )
            self._owns_client = True
        else:
            if connect_timeout is not None or socket_timeout is not None:
                raise ValueError(
                    "connect_timeout and socket_timeout apply to the client RedisStore "
                    "creates from url; set them on the client you pass instead"
                )
            self._owns_client = False
        kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
        self.connect_timeout: float | None = kwargs.get("socket_connect_timeout")
        """Seconds the client waits to connect, as in effect (``None``: no limit)."""
        self.socket_timeout: float | None = kwargs.get("socket_timeout")
        """Seconds the client waits for each reply, as in effect (``None``: no limit)."""
        self.url = url
        self.prefix = prefix
        # Typed Any: redis-py's bundled types and the older types-redis stubs disagree on
        # whether Redis is generic, and this module must type-check under either.
        self.client: Any = client
        """The ``redis.Redis`` client in use."""
        self.name = f"Redis at {_address(client)}"  # host:port/db, never the password
        self._cas = client.register_script(_CAS_SCRIPT)
        self._value_cas = client.register_script(_VALUE_CAS_SCRIPT)
        self._errors = redis.exceptions
        self._persistence_checked = False
        self._check_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, prefix={self.prefix!r})"

    def _unavailable(self, exc: Exception) -> StoreUnavailableError | None:
        """The error to raise for ``exc`` from redis-py, or ``None`` if it is not an outage."""
        errors = self._errors
        if isinstance(
            exc,
            errors.ConnectionError
            | errors.TimeoutError
            | errors.OutOfMemoryError
            | errors.ReadOnlyError,
        ) or (isinstance(exc, errors.ResponseError) and str(exc).startswith(_UNAVAILABLE_REPLIES)):
            cause = str(exc) or type(exc).__name__
            if isinstance(exc, errors.TimeoutError):
                cause = f"{cause} (socket_timeout={self.socket_timeout} s)"
            return StoreUnavailableError(self.name, cause)
        return None

    def _check_persistence(self) -> None:
        """Warn once if Redis keeps no data on disk; runs after a first successful command."""
        errors = self._errors
        with self._check_lock:  # two threads' first requests must not both warn
            if not self._persistence_checked:
                self._check_persistence_locked(errors)

    def _check_persistence_locked(self, errors: Any) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.config_get("appendonly")
            pipe.config_get("save")
            appendonly, save = pipe.execute()
        except (errors.ConnectionError, errors.TimeoutError):
            return  # ask again after the next successful command
        except Exception:
            # CONFIG renamed or disabled (managed Redis), not allowed by an ACL, or a client
            # that cannot ask: skip. The check must never fail a request.
            self._persistence_checked = True
            return
        self._persistence_checked = True
        aof = _text(_config_value(appendonly, "appendonly"))
        snapshots = _text(_config_value(save, "save"))
        if aof == "no" and snapshots == "":
            logger.warning(
                '%s keeps no data on disk (appendonly no, save ""): every live call is '
                "lost if Redis restarts; turn on appendonly or save snapshots",
                self.name,
            )

    recent_limit = 1024

    def key(self, sid: str) -> str:
        """The Redis key holding the call with this sid."""
        return self.prefix + sid

    def lifetime_ms(self, call: Call) -> int:
        """The key TTL a save of ``call`` sets, in milliseconds (at least 1)."""
        return max(1, math.ceil(self.lifetime(call) * 1000))

    def load(self, sid: str) -> Call | None:
        """Return the live call with this sid, or ``None``."""
        try:
            version, data = self.client.hmget(self.key(sid), ["v", "d"])
        except Exception as exc:
            if (error := self._unavailable(exc)) is None:
                raise
            raise error from exc
        if not self._persistence_checked:
            self._check_persistence()
        if version is None or data is None:
            return None
        return Call.from_json(data, version=int(version))

    def save(self, call: Call) -> None:
        """Compare-and-set ``call`` on its version; see :meth:`CallStore.save`."""
        data = call.to_json()
        try:
            ok, version = self._cas(
                keys=[self.key(call.sid)], args=[call.version, data, self.lifetime_ms(call)]
            )
        except Exception as exc:
            if (error := self._unavailable(exc)) is None:
                raise
            raise error from exc
        if not self._persistence_checked:
            self._check_persistence()
        if not ok:
            raise ConflictError(call.sid, call.version, int(version))
        call.version = int(version)

    def delete(self, sid: str) -> None:
        """Remove the call with this sid, if any."""
        self.forget(sid)
        try:
            self.client.delete(self.key(sid))
        except Exception as exc:
            if (error := self._unavailable(exc)) is None:
                raise
            raise error from exc

    def expire(self, now: float | None = None) -> int:
        """Return 0: Redis removes expired keys itself."""
        return 0

    def value_key(self, namespace: str, key: str) -> str:
        """The Redis key holding the value ``namespace``/``key``."""
        return f"{self.kv_prefix}{namespace}:{key}"

    def read_value(self, namespace: str, key: str) -> tuple[int, str | None]:
        try:
            version, data = self.client.hmget(self.value_key(namespace, key), ["v", "d"])
        except Exception as exc:
            if (error := self._unavailable(exc)) is None:
                raise
            raise error from exc
        if not self._persistence_checked:
            self._check_persistence()
        if version is None or data is None:
            return 0, None
        return int(version), data.decode("utf-8") if isinstance(data, bytes) else str(data)

    def write_value(
        self,
        namespace: str,
        key: str,
        expected: int,
        version: int,
        data: str | None,
        ttl_seconds: float,
    ) -> bool:
        args: list[object] = [expected, version, max(1, math.ceil(ttl_seconds * 1000))]
        if data is not None:
            args.append(data)
        try:
            won = self._value_cas(keys=[self.value_key(namespace, key)], args=args)
        except Exception as exc:
            if (error := self._unavailable(exc)) is None:
                raise
            raise error from exc
        if not self._persistence_checked:
            self._check_persistence()
        return bool(int(won))

    def close(self) -> None:
        """Close the client if this store created it."""
        if self._owns_client:
            self.client.close()


def _kv_prefix(prefix: str, given: str | None) -> str:
    """The values' key prefix: ``given``, else one made from ``prefix``; checked so that no
    call key can be a value's key."""
    if given is not None:
        chosen = given
    elif prefix.endswith("call:"):
        chosen = prefix[: -len("call:")] + "kv:"
    else:
        chosen = "kv:" + prefix
    if not prefix:
        raise ValueError(
            "RedisStore needs a non-empty prefix (e.g. 'kookoo:call:'): with none, every key "
            "is some sid's, and kookoo's own values would have no key no request can reach"
        )
    if not chosen or chosen.startswith(prefix) or prefix.startswith(chosen):
        raise ValueError(
            f"kv_prefix {chosen!r} and prefix {prefix!r} overlap: a sid could name a value's "
            "key; give a kv_prefix that neither starts with prefix nor begins it"
        )
    return chosen


def _positive(name: str, value: float | None, default: float) -> float:
    if value is None:
        return default
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _address(client: Any) -> str:
    """host:port/db of ``client``'s server (or its socket path), without credentials."""
    try:
        kwargs = client.connection_pool.connection_kwargs
    except AttributeError:
        return "an unknown address"
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"{kwargs['path']}/{db}"
    if not kwargs.get("host"):  # e.g. Sentinel: the pool finds the server itself
        return f"a server found by {type(client.connection_pool).__name__}"
    return f"{kwargs['host']}:{kwargs.get('port', 6379)}/{db}"


def _config_value(reply: Any, name: str) -> Any:
    # CONFIG GET replies {name: value}; bytes keys unless the client decodes responses.
    if isinstance(reply, dict):
        for key, value in reply.items():
            if _text(key) == name:
                return value
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None
