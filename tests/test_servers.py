"""kookoo.testing.servers: real gunicorn and redis-server processes on loopback, always stopped."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
from pathlib import Path

import pytest
import redis
from servers import ROOT, http_get

from kookoo.testing import servers

DECL = b"<?xml version='1.0' encoding='UTF-8'?>\n"


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.gunicorn
def test_gunicorn_serves_boots_every_worker_and_stops_when_the_block_raises() -> None:
    seen: list[tuple[str, subprocess.Popen[bytes]]] = []

    def serve_then_fail() -> None:
        with servers.gunicorn(
            "gunicorn_apps:counter", workers=2, cwd=ROOT, pythonpath="tests"
        ) as served:
            seen.append(served)
            url, proc = served
            assert len(servers.worker_pids(proc.pid)) == 2
            status, _, body = http_get(f"{url}/?event=NewCall&sid=7&cid=09876543210")
            assert (status, body) == (
                200,
                DECL + b'<response sid="7"><playtext>hello +919876543210</playtext></response>',
            )
            raise KeyError("the test failed inside the block")

    with pytest.raises(KeyError):
        serve_then_fail()
    [(url, proc)] = seen
    assert proc.returncode is not None
    assert servers.worker_pids(proc.pid) == []
    assert _refused(int(url.rsplit(":", 1)[1]))


@pytest.mark.gunicorn
def test_gunicorn_that_cannot_import_the_app_raises_with_its_log(tmp_path: Path) -> None:
    server = servers.gunicorn("no_such_module_here:app", workers=1, workdir=tmp_path)
    with pytest.raises(servers.ServerError, match="gunicorn exited; its log ends") as info:
        server.__enter__()
    assert "No module named 'no_such_module_here'" in str(info.value)
    [log] = tmp_path.glob("gunicorn-*.log")
    assert "no_such_module_here" in log.read_text()


def test_gunicorn_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gunicorn" else real(name)
    )
    server = servers.gunicorn("myivr:app")
    with pytest.raises(servers.ServerError, match=r"gunicorn is not installed in .*pip install"):
        server.__enter__()


@pytest.mark.redis
def test_redis_server_answers_and_is_gone_after_the_block() -> None:
    with servers.redis_server() as url:
        client = redis.Redis.from_url(url)
        assert client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
    assert url.startswith("redis://127.0.0.1:")
    assert _refused(int(url.rsplit(":", 1)[1].split("/")[0]))


def test_redis_server_that_is_not_executable_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_SERVER", str(tmp_path / "redis-server"))
    assert servers.redis_binary() == str(tmp_path / "redis-server")
    server = servers.redis_server(tmp_path)
    with pytest.raises(servers.ServerError, match="is not an executable file"):
        server.__enter__()


def test_free_port_is_bindable_on_loopback() -> None:
    port = servers.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
