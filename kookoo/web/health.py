"""The health check a load balancer asks: does this worker's call store answer?

:func:`check_store` is what ``GET /healthz`` (the app's ``health_path``) and ``kookoo check``
run. The app answers the health path before the secret check and without touching handlers
or loading a call: 200 ``ok`` when the store answers, 503 with the reason when it does not.
"""

from __future__ import annotations

import logging
import uuid

from kookoo.core.text import escape_for_log
from kookoo.state.stores.base import CallStore, ConflictError
from kookoo.state.stores.memory import MemoryStore

__all__ = [
    "PROBE_KEY",
    "PROBE_NAMESPACE",
    "PROBE_SID",
    "check_store",
    "health_body",
    "log_store_problem",
]

logger = logging.getLogger("kookoo")

PROBE_SID = "kookoo:health"
"""The call the probes load, as a request loads its call; KooKoo's sids are digits, and
reading a call changes nothing."""
PROBE_NAMESPACE = "kookoo.health"
"""The store namespace of the value the write probe writes and removes again."""
PROBE_KEY = "probe"
"""The key of that value."""


def check_store(store: CallStore | None, *, write: bool = False) -> str | None:
    """``None`` when ``store`` answers, else one sentence saying why it does not (naming the
    store: its file, server or variable).

    Loads the probe call (:data:`PROBE_SID`, as a request loads its call); with ``write``
    also writes a value (:data:`PROBE_NAMESPACE`, :data:`PROBE_KEY`, gone after a minute if
    the process dies here) and removes it again, so a store that reads but cannot write (a
    read-only file, a read-only Redis replica) is caught. ``None`` (an app without state)
    always answers.
    """
    if store is None:
        return None
    try:
        store.load(PROBE_SID)
        if write:
            token = uuid.uuid4().hex  # never the value already there: this really writes
            store.update(PROBE_NAMESPACE, PROBE_KEY, lambda _: token, ttl_seconds=60.0)
            store.pop(PROBE_NAMESPACE, PROBE_KEY)
    except ConflictError:
        return None  # other workers' probes kept winning the race: the store answered them
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
