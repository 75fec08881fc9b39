"""An ASGI app that serves stream sockets and hands plain HTTP to the WSGI app
(``pip install 'kookoo[asgi]'``): one process, one port for KooKoo's requests and its sockets.

This is the recommended deployment::

    # serve.py
    from kookoo.stream.asgi import StreamASGI
    asgi = StreamASGI(bots, wsgi_app=app, path="/ws")

    $ uvicorn serve:asgi --host 0.0.0.0 --port 8000 --ws websockets-sansio

(tested with uvicorn; gunicorn with ``uvicorn_worker.UvicornWorker`` should work the same but
is not tested here — with several workers use a shared store and the same secret in each).

HTTP requests run the WSGI app on a2wsgi's thread pool; WebSockets on ``path`` run the bots
(:class:`~kookoo.stream.bots.StreamBots`) on the event loop, so a long call occupies no thread.
A pure-WSGI WebSocket (one thread per call) is for development only: measured for issue 17, 25
streams on 20 threads delayed a plain IVR request by 3.7 s. Sockets on any other path are
refused with close code 1008 (HTTP 403 before the handshake).

Under many streams on few cores, plain HTTP requests share the GIL with the sockets' event loop;
``benchmarks/stream.py`` compares this with the standalone server (:mod:`kookoo.stream.server`)
in its own process, which kept plain requests faster at 50 streams on 2 cores.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from kookoo.stream.bots import INTERNAL_ERROR, POLICY_VIOLATION, StreamBots, StreamRefused

__all__ = ["ASGIWebSocketTransport", "StreamASGI"]

logger = logging.getLogger("kookoo.stream")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIWebSocketTransport:
    """An accepted ASGI WebSocket as a stream transport."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.closed = False

    async def send(self, text: str) -> None:
        """Send a text frame; dropped once the socket closed (the caller is gone)."""
        if self.closed:
            return
        try:
            await self._send({"type": "websocket.send", "text": text})
        except OSError:  # uvicorn raises ClientDisconnected (an OSError) after a disconnect
            self.closed = True

    async def receive(self) -> str | bytes | None:
        """The next frame, or ``None`` once the client disconnected."""
        while not self.closed:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                if text is not None:
                    return str(text)
                data = message.get("bytes")
                if data is not None:
                    return bytes(data)
            elif kind == "websocket.disconnect":
                self.closed = True
        return None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket (idempotent)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            await self._send({"type": "websocket.close", "code": code, "reason": reason[:120]})


class StreamASGI:
    """Serve :class:`~kookoo.stream.bots.StreamBots` on WebSocket ``path``; forward HTTP.

    Args:
        bots: the bot handlers.
        wsgi_app: the KooKoo WSGI app for plain HTTP (through ``a2wsgi``); ``None`` answers
            HTTP with 404.
        path: where the sockets are served (``<stream url="wss://host/ws">``).
        workers: a2wsgi threads for the WSGI app.
    """

    def __init__(
        self,
        bots: StreamBots,
        wsgi_app: Callable[..., Any] | None = None,
        *,
        path: str = "/ws",
        workers: int = 10,
    ) -> None:
        self.bots = bots
        self.path = path
        self.http: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None
        if wsgi_app is not None:
            from a2wsgi import WSGIMiddleware

            self.http = WSGIMiddleware(wsgi_app, workers=workers)  # type: ignore[assignment]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "http":
            if self.http is None:
                await _not_found(send)
            else:
                await self.http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        if scope.get("path") != self.path:
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        await send({"type": "websocket.accept"})
        transport = ASGIWebSocketTransport(receive, send)
        try:
            await self.bots.serve(transport)
        except StreamRefused as exc:
            await transport.close(POLICY_VIOLATION, str(exc))
        except Exception:  # logged by StreamBots.serve with the sid
            await transport.close(INTERNAL_ERROR, "bot error")
        else:
            await transport.close()


async def _not_found(send: Send) -> None:
    body = b"not found: this server answers KooKoo stream sockets only\n"
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
