"""The benchmarks' servers: :mod:`kookoo.testing.servers` for this checkout, plus RSS readings.

The benchmark suite runs from the repository (``python -m benchmarks``) and is not installed,
so gunicorn imports ``benchmarks.apps:...`` from the checkout's root.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from kookoo.testing.servers import ServerError, free_port, redis_binary, redis_server, worker_pids
from kookoo.testing.servers import gunicorn as _gunicorn

__all__ = [
    "ROOT",
    "ServerError",
    "free_port",
    "gunicorn",
    "redis_binary",
    "redis_server",
    "rss_bytes",
    "worker_pids",
]

ROOT = Path(__file__).resolve().parent.parent
"""The checkout holding the ``benchmarks`` package."""


@contextlib.contextmanager
def gunicorn(
    target: str, *, workers: int, workdir: Path, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """:func:`kookoo.testing.servers.gunicorn` serving ``target`` (``benchmarks.apps:...``) from the
    checkout, its log in ``workdir``."""
    with _gunicorn(target, workers=workers, workdir=workdir, env=env, cwd=ROOT) as served:
        yield served


def rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid`` from ``/proc/<pid>/status``, or ``None`` off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
