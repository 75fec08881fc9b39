"""Shared fixtures: a real redis-server on a free loopback port (started the way the benchmarks
start theirs, :func:`kookoo.testing.servers.redis_server`)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from kookoo.testing import servers as procs

# tests/typing holds files for mypy to check (tests/test_typing.py), not for pytest to import.
collect_ignore = ["typing"]

# A busy 2-core CI machine can stall any single example past Hypothesis's 200 ms deadline;
# speed is measured in benchmarks/, never in tests.
settings.register_profile("kookoo", deadline=None)
settings.load_profile("kookoo")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL (``redis://127.0.0.1:<port>/0``) of a real redis-server started for this session.

    The server runs without persistence in a temporary directory and stops at the end of the
    session. If ``redis-server`` is not installed the test FAILS (it is not skipped): CI must
    exercise the Redis store. Set ``REDIS_SERVER`` to use a binary outside ``PATH``.
    Tests sharing the server should use their own key prefix (see ``redis_prefix``).
    """
    binary = procs.redis_binary()
    if binary is None:
        pytest.fail(
            "redis-server is not installed (not on PATH and REDIS_SERVER is not set); "
            "install it, e.g. `apt-get install redis-server` (.ci/run does this when absent)"
        )
    if not os.access(binary, os.X_OK):
        pytest.fail(f"REDIS_SERVER={binary!r} is not an executable file")
    try:
        with procs.redis_server(tmp_path_factory.mktemp("redis")) as url:
            yield url
    except procs.ServerError as exc:
        pytest.fail(f"redis-server did not start (binary {binary}): {exc}")


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix unique to the requesting test, so tests on one server never collide."""
    # No glob characters (parametrised test names contain brackets): tests SCAN by prefix.
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    return f"test:{name}:{uuid.uuid4().hex}:"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    """A plain redis client on the test server, for looking behind a RedisStore."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()
