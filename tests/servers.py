"""Start real servers for integration tests: gunicorn on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """GET ``url``; return (status, content type, body) for any status, 4xx included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers.get("Content-Type", ""), err.read()


@contextlib.contextmanager
def gunicorn(
    target: str,
    *,
    workers: int = 2,
    env: dict[str, str] | None = None,
    pythonpath: str | None = None,
    timeout: float = 20.0,
    log: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``gunicorn -w N target`` on a free loopback port; yield (base URL, process).

    Its stderr (gunicorn's and the app's log) goes to ``log`` when given.
    """
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
        "--graceful-timeout", "2", "--log-level", "warning",
    ]  # fmt: skip
    if pythonpath:
        cmd += ["--pythonpath", pythonpath]
    cmd.append(target)
    log_file = open(log, "wb") if log else None  # noqa: SIM115  # closed in finally
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=log_file or subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start in time") from None
                time.sleep(0.05)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log_file:
            log_file.close()
