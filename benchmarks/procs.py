"""Helper processes on loopback: redis-server and gunicorn, each bounded in time and always stopped.

Both pick a free port on 127.0.0.1, wait (with a deadline) until the server answers, and stop
it with SIGTERM (then SIGKILL) when the ``with`` block ends, whatever happened inside it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = [
    "ServerError",
    "free_port",
    "gunicorn",
    "redis_binary",
    "redis_server",
    "rss_bytes",
    "worker_pids",
]

START_TIMEOUT = 15.0


class ServerError(RuntimeError):
    """A helper server did not start; the message ends with its log."""


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


def _redis_pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_binary() -> str | None:
    """``$REDIS_SERVER`` or ``redis-server`` on ``PATH``, or ``None``."""
    return os.environ.get("REDIS_SERVER") or shutil.which("redis-server")


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Run a throwaway redis-server (no persistence) on a free port; yield its URL."""
    binary = redis_binary()
    if binary is None:
        raise ServerError("redis-server not installed")
    log_path = workdir / "redis.log"
    for _attempt in range(3):  # the free port may be taken before redis binds it
        port = free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
        argv += ["--save", "", "--appendonly", "no"]
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir
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
    workers: int,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    pythonpath: str | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``gunicorn -w workers target`` on a free loopback port; yield (base URL, process).

    The benchmarks import ``target`` from the installed ``benchmarks`` package
    (``benchmarks.apps:...``) with ``workdir`` as the working directory, so nothing is read
    from a source checkout; the project's tests pass ``cwd`` (the checkout) and ``pythonpath``.
    Gunicorn's log goes to ``workdir/gunicorn-<port>.log``.
    """
    port = free_port()
    log_path = workdir / f"gunicorn-{port}.log"
    cmd = [
        sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
        "--graceful-timeout", "2", "--log-level", "warning", "--backlog", "2048",
    ]  # fmt: skip
    if pythonpath:
        cmd += ["--pythonpath", pythonpath]
    cmd.append(target)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd or workdir,
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
                raise ServerError(f"gunicorn did not start; its log ends:\n{_log_tail(log_path)}")
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
    """The pids of the direct children of ``parent`` (gunicorn's workers), Linux only."""
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


def rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid`` from ``/proc/<pid>/status``, or ``None`` off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
