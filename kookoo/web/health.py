"""The health check a load balancer asks: does this worker's call store answer?

:func:`check_store` is what ``GET /healthz`` (the app's ``health_path``) and ``kookoo check``
run. The app answers the health path before the secret check and without touching handlers
or loading a call: 200 ``ok`` when the store answers, 503 with the reason when it does not.
"""

from __future__ import annotations

import logging
from typing import Any

from kookoo.core.text import escape_for_log
from kookoo.state.calls import Call
from kookoo.state.stores.base import CallStore, ConflictError
from kookoo.state.stores.memory import MemoryStore
from kookoo.web.context import TEXT_CONTENT_TYPE, Reply

__all__ = ["PROBE_SID", "check_store", "health_body", "log_store_problem", "ops_reply"]

logger = logging.getLogger("kookoo")

PROBE_SID = "kookoo:health"
"""The record id the probes read (and, with ``write=True``, write and remove). It starts
with kookoo's reserved prefix, so no KooKoo request can reach it."""


def check_store(store: CallStore | None, *, write: bool = False) -> str | None:
    """``None`` when ``store`` answers, else one sentence saying why it does not (naming the
    store: its file, server or variable).

    Reads the probe record; with ``write`` also saves it and deletes it again, so a store that
    reads but cannot write (a read-only file, a read-only Redis replica) is caught. ``None``
    (an app without state) always answers.
    """
    if store is None:
        return None
    try:
        if write:
            record = store.load(PROBE_SID) or Call(sid=PROBE_SID)
            record.state = {"probe": True}
            store.save(record)
            store.delete(PROBE_SID)
        else:
            store.load(PROBE_SID)
    except ConflictError:
        return None  # another worker's probe won the race: the store answered both
    except Exception as exc:  # any failure is the answer, whatever the backend raised
        text = str(exc) or type(exc).__name__
        name = getattr(store, "name", type(store).__name__)
        return text if name in text else f"{name}: {text}"
    return None


def health_body(problem: str | None) -> tuple[int, bytes]:
    """The status and plain-text body of the health reply for :func:`check_store`'s answer.

    >>> health_body(None)
    (200, b'ok\\n')
    >>> health_body("Redis at 127.0.0.1:1/0 is unavailable: refused")
    (503, b'unavailable: Redis at 127.0.0.1:1/0 is unavailable: refused\\n')
    """
    if problem is None:
        return 200, b"ok\n"
    # One line, whatever the backend's message held.
    line = escape_for_log(" ".join(problem.split()), limit=500)
    return 503, f"unavailable: {line}\n".encode()


def ops_reply(app: Any, path: str) -> Reply:
    """What ``app`` (a :class:`~kookoo.KooKoo`) answers at its ``health_path`` (the store
    probe of the store its handlers use, if any) or its ``metrics_path`` (a scrape)."""
    if path == app.health_path:
        status, body = health_body(check_store(app.store_if_tracked))
        return Reply(status, TEXT_CONTENT_TYPE, body)
    from kookoo.web.metrics import CONTENT_TYPE

    return Reply(200, CONTENT_TYPE, app.metrics.render())


def log_store_problem(app_name: str, store: CallStore | None) -> bool:
    """Probe ``store`` (reading and writing, :func:`check_store`) and log one ERROR line
    naming it and the cause when it fails; return whether it answered. The app runs this at
    its first request in each worker, so a store that cannot work (``KOOKOO_DB`` in a
    read-only directory) is named at once. A :class:`~kookoo.state.stores.MemoryStore` cannot be
    unavailable and is not probed."""
    if store is None or isinstance(store, MemoryStore):
        return True
    problem = check_store(store, write=True)
    if problem is not None:
        logger.error("app %s: %s", app_name, escape_for_log(problem, None))
    return problem is None
