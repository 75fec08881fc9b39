"""Start real gunicorn and redis-server processes on loopback, for tests.

Unit tests drive an app in-process (:class:`kookoo.testing.Simulator`); these helpers are for the
tests that must see the real thing: several gunicorn workers sharing call state, a real Redis.
Each one picks a free port on ``127.0.0.1``, waits (up to :data:`START_TIMEOUT` seconds) until
the server answers, yields, and stops the server with SIGTERM (then SIGKILL) when the ``with``
block ends, whatever happened inside it.  A server that cannot start raises :class:`ServerError`;
when it ran and failed, the message ends with its log.

The standard library is all they need; gunicorn must be installed in the running Python
(``pip install gunicorn``), redis-server on ``PATH`` (or named by ``$REDIS_SERVER``).
Linux is assumed (:func:`worker_pids` reads ``/proc``).

A pytest fixture that serves your app with two gunicorn workers for the whole session::

    import pytest
    from kookoo.testing.servers import gunicorn
    from kookoo.testing import Simulator

    @pytest.fixture(scope="session")
    def served_url(tmp_path_factory):
        env = {"KOOKOO_DB": str(tmp_path_factory.mktemp("db") / "calls.sqlite3")}
        with gunicorn("myivr:app", workers=2, env=env) as (url, _process):
            yield url

    def test_menu_under_gunicorn(served_url):
        call = Simulator(served_url).call()
        call.assert_heard("Welcome")
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from kookoo.core.errors import KooKooError

__all__ = [
    "START_TIMEOUT",
    "ServerError",
    "free_port",
    "gunicorn",
    "redis_binary",
    "redis_server",
    "worker_pids",
]

START_TIMEOUT = 15.0
"""Seconds a server may take to answer before :class:`ServerError` is raised."""


class ServerError(KooKooError, RuntimeError):
    """A server did not start (or exited); the message ends with its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


@contextlib.contextmanager
def _directory(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="kookoo-server-") as tmp:
        yield Path(tmp)


def _redis_pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_binary() -> str | None:
    """The redis-server to run: ``$REDIS_SERVER``, else ``redis-server`` on ``PATH``, else
    ``None``."""
    return os.environ.get("REDIS_SERVER") or shutil.which("redis-server")


@contextlib.contextmanager
def redis_server(workdir: Path | None = None) -> Iterator[str]:
    """Run a throwaway redis-server (no persistence) on a free port; yield its URL,
    ``redis://127.0.0.1:<port>/0``.

    Args:
        workdir: where its log (``redis.log``) and working files go; a temporary directory,
            removed afterwards, when omitted.

    Raises:
        ServerError: redis-server is not installed (or ``$REDIS_SERVER`` is not executable),
            or did not answer ``PING`` in time.
    """
    binary = redis_binary()
    if binary is None:
        raise ServerError("redis-server is not installed (not on PATH, $REDIS_SERVER unset)")
    if shutil.which(binary) is None:
        raise ServerError(f"redis-server {binary!r} is not an executable file")
    with _directory(workdir) as directory:
        log_path = directory / "redis.log"
        for _attempt in range(3):  # the free port may be taken before redis binds it
            port = free_port()
            argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
            argv += ["--save", "", "--appendonly", "no"]
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=directory,
                )
            try:
                deadline = time.monotonic() + START_TIMEOUT
                while time.monotonic() < deadline and proc.poll() is None:
                    if _redis_pings(port):
                        yield f"redis://127.0.0.1:{port}/0"
                        return
                    time.sleep(0.02)
            finally:
                _stop(proc)
        raise ServerError(f"redis-server did not start; its log ends:\n{_log_tail(log_path)}")


@contextlib.contextmanager
def gunicorn(
    target: str,
    *,
    workers: int = 2,
    workdir: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    pythonpath: str | None = None,
    config: str | os.PathLike[str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve ``target`` with ``gunicorn -w workers`` on a free loopback port; yield
    ``(base URL, gunicorn's master process)``.

    Ready means every worker has booted and the server answers HTTP, so the first request of
    a test never races a booting worker.

    Args:
        target: the WSGI app, ``"module:app"``, imported by gunicorn from ``cwd``.
        workers: how many worker processes.
        workdir: where gunicorn's log goes (``gunicorn-<port>.log``); a temporary directory,
            removed afterwards, when omitted.
        env: variables added to this process's environment for the server (``KOOKOO_DB``...).
        cwd: the server's working directory; the current one when omitted.
        pythonpath: directories (comma-separated) gunicorn adds to ``sys.path``.
        config: a gunicorn config file (``-c``), e.g. ``deploy/gunicorn.conf.py``; the
            options above (workers, bind, log level) override what it sets.

    Raises:
        ServerError: gunicorn is not installed, exited (the app failed to import, ...) or
            did not boot its workers in time; the message ends with its log.
    """
    if importlib.util.find_spec("gunicorn") is None:
        raise ServerError(f"gunicorn is not installed in {sys.executable}: pip install gunicorn")
    with _directory(workdir) as directory:
        port = free_port()
        log_path = directory / f"gunicorn-{port}.log"
        cmd = [
            sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
            "--graceful-timeout", "2", "--log-level", "warning", "--backlog", "2048",
        ]  # fmt: skip
        if pythonpath:
            cmd += ["--pythonpath", pythonpath]
        if config is not None:
            cmd += ["-c", os.fspath(config)]
        cmd.append(target)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    raise ServerError(f"gunicorn exited; its log ends:\n{_log_tail(log_path)}")
                # Ready when every worker has booted, not merely when the socket is bound.
                if len(worker_pids(proc.pid)) >= workers and _http_ok(port):
                    break
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"gunicorn did not start in {START_TIMEOUT:g} s; its log ends:\n"
                        + _log_tail(log_path)
                    )
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}", proc
        finally:
            _stop(proc)


def _http_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def worker_pids(parent: int) -> list[int]:
    """The pids of the direct children of process ``parent`` (a gunicorn master's workers).

    Reads ``/proc`` (Linux); an empty list when ``parent`` has no children or is gone.
    """
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        return [int(pid) for pid in children]
    except OSError:
        pass
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after it.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            pids.append(int(entry.name))
    return pids
