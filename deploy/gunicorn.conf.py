"""gunicorn settings for a kookoo app, behind nginx (``deploy/nginx/``).

    gunicorn -c deploy/gunicorn.conf.py myivr:app

Everything here can be overridden on the command line (``-w 4``) or by the variables read
below. The app itself reads its settings from ``KOOKOO_*`` variables (``kookoo config
myivr:app`` prints them); see ``deploy/kookoo.service`` for where they are set.

Why a buffering proxy in front: gunicorn's sync worker serves one connection at a time and
reads the request itself. A client that opens a connection and sends nothing (a port
scanner, a broken network path, a slow mobile link) holds that worker until ``timeout``, and
two such connections freeze ``-w 2``: KooKoo's next request waits, the caller hears silence.
nginx reads each request completely first (and buffers the reply), then hands it to a
worker over loopback in microseconds, so workers only ever see whole requests.
``tests/test_deploy.py`` shows both, with these files.

Workers: a KooKoo request is short (parse, one store read and write, a few KB of XML), so
sync workers, one per request at a time, are the right kind; the count is ``2 x cores + 1``
(gunicorn's own rule), capped at 17 so SQLite's single writer is not crowded:

    cores      2    4    8   16
    workers    5    9   17   17

Above ~8 cores, or when handlers wait on slow HTTP APIs (outbound calls, a CRM lookup), use
threads instead of more processes: ``KOOKOO_THREADS=4`` switches to the ``gthread`` worker
with 4 threads per worker. With several machines, use Redis (``KOOKOO_STORE=redis://...``).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil

# Loopback only: nginx is the one reaching it (see deploy/nginx/kookoo-site.conf).
bind = os.environ.get("KOOKOO_BIND", "127.0.0.1:8000")

workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 17)))
threads = int(os.environ.get("KOOKOO_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"

# A worker silent for this long is killed and replaced (a handler stuck on a dead API).
# KooKoo itself waits only a few seconds for a reply, so 30 s is a stuck worker, not a slow one.
timeout = 30
# On restart or SIGTERM, requests in flight get this long to finish.
graceful_timeout = 20
# nginx talks HTTP/1.0 to the upstream without keep-alive (see kookoo-proxy.conf); a sync
# worker holds no idle connections.
keepalive = 2
# Restart each worker after about this many requests (jitter keeps them from restarting
# together): a leak in a handler's library cannot grow for ever.
max_requests = 20000
max_requests_jitter = 2000

# Logs: gunicorn's own and the app's lines go to stderr (journald under systemd). The app's
# request line (one per request, with the call's sid) replaces an access log; nginx keeps one
# too. GUNICORN_ACCESS_LOG=- adds gunicorn's access log on stdout.
errorlog = "-"
loglevel = "info"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# With errorlog set to a file, capture_output=True sends the app's stderr lines there too.
capture_output = False

# Import the app in every worker, not once in the master: each worker opens its own store
# connections, and a code reload (SIGHUP) picks up new code.
preload_app = False

# Prometheus metrics (KOOKOO_METRICS=1) add up over the workers through files in one
# directory that must exist, empty, before the workers start. /run/kookoo is the systemd
# unit's RuntimeDirectory.
_metrics_on = os.environ.get("KOOKOO_METRICS", "").strip().lower() in ("1", "true", "yes", "on")
if _metrics_on:
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/run/kookoo/metrics")


def on_starting(server: object) -> None:
    """Empty the metrics directory once, before the first worker starts."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if _metrics_on and directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)
