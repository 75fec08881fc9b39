"""Real servers for integration tests, on loopback: gunicorn serving this checkout's apps.

The process handling (free port, readiness with a deadline, SIGTERM then SIGKILL) is
:mod:`kookoo.testing.servers`, which the benchmarks use too; this module only points it at the
checkout.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from kookoo.testing import servers as procs
from kookoo.testing.servers import free_port, worker_pids

__all__ = ["ROOT", "free_port", "gunicorn", "http_get", "worker_pids"]

ROOT = Path(__file__).resolve().parent.parent


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
    log: Path | None = None,
    config: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve ``target`` (importable from the checkout) with ``gunicorn -w workers``; yield
    (base URL, process).  Gunicorn's log (and the app's) is copied to ``log`` when given."""
    with tempfile.TemporaryDirectory(prefix="kookoo-test-") as tmp:
        workdir = Path(tmp)
        try:
            with procs.gunicorn(
                target,
                workers=workers,
                workdir=workdir,
                env=env,
                cwd=ROOT,
                pythonpath=pythonpath,
                config=config,
            ) as served:
                yield served
        finally:
            if log is not None:
                with log.open("wb") as out:
                    for path in sorted(workdir.glob("gunicorn-*.log")):
                        with path.open("rb") as part:
                            shutil.copyfileobj(part, out)
