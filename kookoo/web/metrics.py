"""Optional Prometheus metrics (``pip install 'kookoo[metrics]'``, which is ``prometheus_client``).

Off by default, and then nothing here is imported and the request path pays one ``is None``
test. ``KooKoo(metrics=True)`` (or ``KOOKOO_METRICS=1``) creates a :class:`Metrics` and the
app serves them at its ``metrics_path`` (``/metrics``).

Several gunicorn workers add up through ``prometheus_client``'s multiprocess mode: set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory the workers can write, before gunicorn
starts (``deploy/gunicorn.conf.py`` does, and empties it at each start). Each worker then
writes its numbers to files there and a scrape of any worker adds every worker's up. Without
the variable each worker counts alone (fine for one process, ``kookoo run``).

The series (``event`` is the KooKoo event name, ``-`` for a refused request):

- ``kookoo_requests_total{event, status}``: requests answered.
- ``kookoo_request_seconds{event}``: time the app spent on a request (a histogram).
- ``kookoo_fallbacks_total``: replies that played the fallback prompt (a handler failed, the
  store was unavailable, a race was lost for good).
- ``kookoo_store_errors_total``: loads and saves the store could not do
  (:class:`~kookoo.state.stores.StoreUnavailableError`).
- ``kookoo_live_calls``: calls started (NewCall answered) minus calls ended (their first
  Hangup or Disconnect), over all workers. Counted for apps that keep call state.
"""

from __future__ import annotations

import os
import time
from typing import Any

from kookoo.protocol.events import Disconnect, Hangup, NewCall
from kookoo.web.context import Reply, RequestContext

__all__ = ["CONTENT_TYPE", "MULTIPROC_VARIABLE", "Metrics"]

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""The directory ``prometheus_client``'s multiprocess mode keeps the workers' numbers in."""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The content type of a scrape (Prometheus' text format)."""

_ENDINGS = frozenset({"Hangup", "Disconnect"})

# Seconds: a KooKoo request is answered in milliseconds; KooKoo gives up after a few seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The app's Prometheus metrics, and their exposition.

    Each instance has its own registry, so several apps (or tests) in one process do not
    collide; in multiprocess mode every instance writes to the shared directory and a scrape
    shows the sum over all processes.

    Raises:
        ImportError: ``prometheus_client`` is not installed (the message says what to install).
        ValueError: ``PROMETHEUS_MULTIPROC_DIR`` names no writable directory.
    """

    def __init__(self) -> None:
        try:
            import prometheus_client
        except ImportError as exc:
            raise ImportError(
                "metrics need prometheus_client: pip install 'kookoo[metrics]'"
            ) from exc
        self.multiprocess_dir = os.environ.get(MULTIPROC_VARIABLE) or None
        """The multiprocess directory, or ``None`` (this process counts alone)."""
        if self.multiprocess_dir is not None and not (
            os.path.isdir(self.multiprocess_dir) and os.access(self.multiprocess_dir, os.W_OK)
        ):
            raise ValueError(
                f"{MULTIPROC_VARIABLE}={self.multiprocess_dir!r} is not a writable directory; "
                "create it (empty) before the server starts"
            )
        self._client: Any = prometheus_client
        registry = self.registry = prometheus_client.CollectorRegistry(auto_describe=True)
        self.requests = prometheus_client.Counter(
            "kookoo_requests",
            "KooKoo requests answered, by event and HTTP status.",
            ["event", "status"],
            registry=registry,
        )
        self.latency = prometheus_client.Histogram(
            "kookoo_request_seconds",
            "Time the app spent on a request, by event.",
            ["event"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.fallbacks = prometheus_client.Counter(
            "kookoo_fallbacks", "Replies that played the fallback prompt.", registry=registry
        )
        self.store_errors = prometheus_client.Counter(
            "kookoo_store_errors", "Store loads and saves that failed.", registry=registry
        )
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        # "sum": a call started in one worker may end in another, or after its worker died.
        self.live_calls = prometheus_client.Gauge(
            "kookoo_live_calls",
            "Calls started minus calls ended.",
            registry=registry,
            multiprocess_mode="sum",
        )

    def request_done(self, ctx: RequestContext, reply: Reply) -> None:
        """The app's ``after_response`` hook: count one request (:meth:`observe` under the
        event's class name, a bounded set whatever a request sends), its fallback or store
        outage (``ctx.outcome``), and a call started or ended when the call was saved by this
        request: a NewCall that created its record, or the first Hangup or Disconnect of a
        call. A passed probe of the health or metrics path is not counted."""
        status = reply.status
        if ctx.probe and status == 200:
            return
        event = ctx.event
        self.observe(
            type(event).__name__ if event is not None else "-",
            status,
            time.perf_counter() - ctx.started,
        )
        if ctx.outcome == "fallback":
            self.fallback()
        elif ctx.outcome == "unavailable":
            self.store_error()
        session, call = ctx.session, ctx.call
        if status != 200 or session is None or call is None:
            return
        if session.store is None or session.discarded:
            return  # a test ping, a duplicate, a failed handler: nothing was saved
        if isinstance(event, NewCall):
            if call.version == 1:
                self.call_started()
        elif isinstance(event, Hangup | Disconnect) and not any(
            entry.event in _ENDINGS for entry in call.history[:-1]
        ):
            self.call_ended()

    def observe(self, event: str, status: int, seconds: float) -> None:
        """Count one request answered with ``status`` after ``seconds``."""
        children = self._children.get((event, status))
        if children is None:  # a few dozen pairs at most: event classes x statuses
            children = (self.requests.labels(event, str(status)), self.latency.labels(event))
            self._children[(event, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def fallback(self) -> None:
        """Count one reply that played the fallback prompt."""
        self.fallbacks.inc()

    def store_error(self) -> None:
        """Count one store load or save that failed."""
        self.store_errors.inc()

    def call_started(self) -> None:
        """Count one call as live."""
        self.live_calls.inc()

    def call_ended(self) -> None:
        """Count one call as no longer live."""
        self.live_calls.dec()

    def render(self) -> bytes:
        """The metrics in Prometheus' text format (:data:`CONTENT_TYPE`): in multiprocess
        mode the sum over every process that wrote to the directory."""
        client = self._client
        if self.multiprocess_dir is None:
            return bytes(client.generate_latest(self.registry))
        from prometheus_client import multiprocess

        registry = client.CollectorRegistry()
        collector: Any = multiprocess.MultiProcessCollector
        collector(registry, path=self.multiprocess_dir)
        return bytes(client.generate_latest(registry))
