"""Shared fixtures: a real redis-server on a free loopback port."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REDIS_START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _start_redis(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start redis-server on a free port and wait until it answers PING."""
    log_path = workdir / "redis.log"
    # The port is free when chosen but another process could take it before redis binds it;
    # a couple of attempts makes that race harmless.
    for _attempt in range(3):
        port = _free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
        argv += ["--save", "", "--appendonly", "no"]  # a throwaway server: no persistence
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
            )
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if _pings(port):
                return proc, port
            time.sleep(0.02)
        _stop(proc)
    log_text = log_path.read_text(errors="replace")[-2000:]
    pytest.fail(f"redis-server did not start (binary {binary}); its log ends:\n{log_text}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL (``redis://127.0.0.1:<port>/0``) of a real redis-server started for this session.

    The server runs without persistence in a temporary directory and stops at the end of the
    session. If ``redis-server`` is not installed the test FAILS (it is not skipped): CI must
    exercise the Redis store. Set ``REDIS_SERVER`` to use a binary outside ``PATH``.
    Tests sharing the server should use their own key prefix (see ``redis_prefix``).
    """
    binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed (not on PATH and REDIS_SERVER is not set); "
            "install it, e.g. `apt-get install redis-server` (.ci/run does this when absent)"
        )
    if not os.access(binary, os.X_OK):
        pytest.fail(f"REDIS_SERVER={binary!r} is not an executable file")
    proc, port = _start_redis(binary, tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix unique to the requesting test, so tests on one server never collide."""
    # No glob characters (parametrised test names contain brackets): tests SCAN by prefix.
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    return f"test:{name}:{uuid.uuid4().hex}:"
