"""examples/echo_bot.py end to end over real loopback sockets: the ASGI transport under uvicorn
(HTTP forwarded to the WSGI app) and the standalone ``websockets`` server, driven by the fake
KooKoo stream client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import urllib.request
from collections.abc import AsyncIterator
from types import ModuleType
from urllib.parse import urlencode

import pytest
from lxml import etree
from test_examples import load_example

from kookoo import Response
from kookoo.state.stores import MemoryStore
from kookoo.stream import (
    CallDisconnect,
    ClearBuffer,
    FakeStreamClient,
    FakeStreamResult,
    OutboundAudio,
)
from kookoo.stream.audio import pcm16_from_samples

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("a2wsgi")
pytest.importorskip("websockets")

from kookoo.stream.server import close_reason, serve_bots  # noqa: E402

SPEECH = pcm16_from_samples([(i * 7919) % 65536 - 32768 for i in range(4000)])  # 0.5 s
MORE = pcm16_from_samples([(i * 104729) % 65536 - 32768 for i in range(2400)])  # 0.3 s
GOODBYE = str(Response().play_text("Thank you for trying the echo bot.").hangup())


def echo_module() -> ModuleType:
    module = load_example("echo_bot")
    module.app.store = MemoryStore()
    return module


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def uvicorn_server(app: object) -> AsyncIterator[str]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    # websockets-sansio: uvicorn's implementation on websockets' current API (the legacy one
    # warns, and warnings are errors here).
    config = uvicorn.Config(app, ws="websockets-sansio", lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):  # bounded: at most ~5 s
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def http_get(base: str, params: dict[str, str]) -> tuple[int, str]:
    def fetch() -> tuple[int, str]:
        url = f"http://{base}/?{urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")

    return await asyncio.to_thread(fetch)


def stream_uui(xml: str) -> tuple[str, str]:
    """The url and x-uui of the reply's <stream>."""
    element = etree.fromstring(xml.encode("utf-8")).find("stream")
    assert element is not None
    return element.get("url") or "", element.get("x-uui") or ""


def check_echo(result: FakeStreamResult, fake: FakeStreamClient) -> None:
    # The caller's audio comes back byte for byte, in order, with unique seqids; the first
    # key press cleared the buffer, '#' ended the bot's leg.
    assert result.audio == SPEECH + MORE == fake.caller_audio
    assert len(result.seqids) == len(set(result.seqids)) == (4000 + 2400) // 80
    kinds = [type(m) for m in result.received]
    assert kinds == [OutboundAudio] * 50 + [ClearBuffer] + [OutboundAudio] * 30 + [CallDisconnect]
    assert result.disconnected_by_bot
    assert not result.refused


def test_echo_bot_over_uvicorn_asgi() -> None:
    module = echo_module()

    async def run() -> None:
        async with uvicorn_server(module.asgi) as base:
            vars(module)["STREAM_URL"] = f"ws://{base}/ws"  # a global the example's handler reads
            status, xml = await http_get(base, {"event": "NewCall", "sid": "3341", "cid": "0987"})
            assert status == 200
            url, uui = stream_uui(xml)
            assert url == f"ws://{base}/ws"
            assert json.loads(uui)["sid"] == "3341"
            fake = FakeStreamClient(sid="3341", uui=uui)
            fake.audio(SPEECH).dtmf("1").audio(MORE).dtmf("#").pause(5).stop()
            result = await fake.connect(url)
            check_echo(result, fake)
            # KooKoo's next request plays what the bot left.
            status, xml = await http_get(base, result.http_params(duration=12))
            assert (status, xml) == (200, GOODBYE)

    asyncio.run(run())


def test_asgi_refuses_other_calls_expired_tokens_and_other_paths() -> None:
    module = echo_module()
    now = [1000.0]
    module.bots.clock = lambda: now[0]

    async def run() -> None:
        async with uvicorn_server(module.asgi) as base:
            url = f"ws://{base}/ws"
            other = FakeStreamClient(sid="1", uui=module.bots.uui("2", "echo")).tone().stop()
            result = await other.connect(url)
            assert result.refused
            assert result.close_reason == "stream token was signed for call 2, not 1"
            assert result.received == []

            expired = FakeStreamClient(sid="1", uui=module.bots.uui("1", "echo")).tone().stop()
            now[0] += module.bots.token_seconds + 1
            result = await expired.connect(url)
            assert result.refused
            assert result.close_reason == "stream token expired 1 s ago"

            from websockets.asyncio.client import connect
            from websockets.exceptions import InvalidStatus

            with pytest.raises(InvalidStatus, match="HTTP 403"):
                async with connect(f"ws://{base}/elsewhere"):
                    pass

    asyncio.run(run())


def test_echo_bot_over_the_standalone_websockets_server() -> None:
    module = echo_module()

    async def run() -> None:
        sock = bound_socket()
        async with await serve_bots(module.bots, sock=sock) as server:
            port = sock.getsockname()[1]
            url = f"ws://127.0.0.1:{port}/anything"
            fake = FakeStreamClient(sid="77", uui=module.bots.uui("77", "echo"))
            fake.audio(SPEECH).dtmf("1").audio(MORE).dtmf("#").pause(5).stop()
            result = await fake.connect(url)
            check_echo(result, fake)

            forged = FakeStreamClient(sid="77", uui='{"kookoo_token":"v2.x.y"}').stop()
            result = await forged.connect(url)
            assert result.refused
            assert result.close_reason == "stream token is malformed (bad base64)"
            server.close()

    asyncio.run(run())
    # The WSGI side saw the reply the bot left, as the HTTP handler will.
    status, xml = FakeStreamClient(sid="77").send_http(
        module.app, FakeStreamResult(sid="77", disconnected_by_bot=True)
    )
    assert (status, xml) == (200, GOODBYE)


def test_close_reason_fits_a_close_frame() -> None:
    assert close_reason("short") == "short"
    long = close_reason("é" * 100)
    assert len(long.encode("utf-8")) <= 123
    assert long.endswith("...")


def test_standalone_server_closes_1011_when_the_bot_fails() -> None:
    from kookoo.stream import AsyncStreamSession, StreamBots

    bots = StreamBots(secret="s")

    @bots.handler("broken")
    async def broken(session: AsyncStreamSession) -> None:
        raise RuntimeError("bot bug")

    async def run() -> FakeStreamResult:
        sock = bound_socket()
        async with await serve_bots(bots, sock=sock):
            url = f"ws://127.0.0.1:{sock.getsockname()[1]}/"
            return await FakeStreamClient(sid="9", uui=bots.uui("9", "broken")).stop().connect(url)

    result = asyncio.run(run())
    assert (result.close_code, result.close_reason) == (1011, "bot error")


def test_server_main_refuses_what_is_not_stream_bots(capsys: pytest.CaptureFixture[str]) -> None:
    from kookoo.stream.server import main

    with pytest.raises(SystemExit):
        main(["examples.echo_bot:app"])
    assert "examples.echo_bot:app is a KooKoo, not a StreamBots" in capsys.readouterr().err
