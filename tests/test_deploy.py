"""The deployment guide's files, for real: ``gunicorn -w 2 -c deploy/gunicorn.conf.py``
behind nginx with ``deploy/nginx/kookoo-proxy.conf``. Two stalled connections (one open
socket that sends nothing, one that sends half a header) freeze the two sync workers when
they reach gunicorn directly; through nginx a real request is answered at once.

nginx runs in the foreground with a generated config on free loopback ports; the test is
skipped when nginx is not installed (``.ci/run`` installs it)."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ROOT, free_port, gunicorn

pytestmark = pytest.mark.gunicorn

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
# How long a request through a frozen gunicorn is given to prove it is stuck.
STUCK = 2.0


def _nginx_conf(workdir: Path, port: int, upstream: str) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {workdir / "access.log"};
{temp}
    upstream kookoo {{ server {upstream}; }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include {DEPLOY / "nginx" / "kookoo-proxy.conf"};
    }}
}}
"""


def _get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@contextlib.contextmanager
def nginx(workdir: Path, upstream: str) -> Iterator[int]:
    """nginx in the foreground in front of ``upstream``; yields its port once it proxies."""
    assert NGINX is not None
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(_nginx_conf(workdir, port, upstream))
    test = subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(workdir), "-e", str(workdir / "error.log")],
        capture_output=True,
        text=True,
    )
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(workdir), "-e", str(workdir / "error.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, (workdir / "error.log").read_text()
            with contextlib.suppress(OSError):
                if _get(port, "/healthz", timeout=1)[0] == 200:
                    break
            assert time.monotonic() < deadline, "nginx did not start proxying"
            time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def stalled(port: int) -> Iterator[None]:
    """Two connections to ``port`` that never finish a request: one sends nothing, one half
    a header. Closed when the block ends."""
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)
    partial = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        partial.sendall(b"GET /?event=NewCall&sid=stall HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        yield
    finally:
        silent.close()
        partial.close()


def _timed_call(port: int, timeout: float) -> tuple[float, int | None]:
    started = time.monotonic()
    try:
        status: int | None = _get(port, "/?event=NewCall&sid=real&cid=09876543210", timeout)[0]
    except TimeoutError:
        status = None
    return time.monotonic() - started, status


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
def test_nginx_keeps_stalled_connections_away_from_sync_workers(tmp_path: Path) -> None:
    env = {"KOOKOO_DB": str(tmp_path / "calls.sqlite3")}
    config = DEPLOY / "gunicorn.conf.py"
    with gunicorn("examples.menu:app", workers=2, env=env, config=config) as (base, _):
        upstream = base.removeprefix("http://")
        gunicorn_port = int(upstream.rsplit(":", 1)[1])

        # Straight to gunicorn: the two stalls take both workers; the real call waits.
        with stalled(gunicorn_port):
            waited, status = _timed_call(gunicorn_port, timeout=STUCK)
        assert status is None, f"answered {status} after {waited:.2f} s despite the stalls"
        assert waited >= STUCK * 0.9

        # Through nginx: nginx holds the stalled connections, the workers stay free.
        with nginx(tmp_path, upstream) as port, stalled(port):
            waited, status = _timed_call(port, timeout=10)
            assert status == 200
            assert waited < 1.0, f"took {waited:.2f} s through nginx"
            # The health path goes through the same proxy settings.
            assert _get(port, "/healthz", timeout=5) == (200, b"ok\n")


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_the_nginx_site_file_is_valid(tmp_path: Path) -> None:
    """``nginx -t`` accepts the site as written, with only its placeholders replaced: a
    throwaway certificate, the snippet's and the log's paths."""
    assert NGINX is not None
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=ivr.example.in", "-keyout", str(tmp_path / "privkey.pem"),
         "-out", str(tmp_path / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    site = (DEPLOY / "nginx" / "kookoo-site.conf").read_text()
    for placeholder, real in (
        ("/etc/letsencrypt/live/ivr.example.in/", f"{tmp_path}/"),
        ("/etc/nginx/snippets/kookoo-proxy.conf", str(DEPLOY / "nginx" / "kookoo-proxy.conf")),
        ("/var/log/nginx/", f"{tmp_path}/"),
    ):
        assert placeholder in site
        site = site.replace(placeholder, real)
    (tmp_path / "site.conf").write_text(site)
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nevents {{}}\n"
        f"http {{ access_log off; include {tmp_path / 'site.conf'}; }}\n"
    )
    test = subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )
    assert test.returncode == 0, test.stderr
    assert "syntax is ok" in test.stderr
