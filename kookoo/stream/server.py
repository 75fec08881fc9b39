"""A standalone stream server on the ``websockets`` library (``pip install 'kookoo[websockets]'``).

For teams that keep their gunicorn WSGI app untouched: run the bots in their own process, e.g.
``python -m kookoo.stream.server myapp.bots:bots --port 8765``, and point ``<stream url=...>``
at it (behind a TLS-terminating proxy for ``wss://``). One event loop serves many calls.

Refused sockets (bad or expired token, unknown handler) are closed with code 1008 and the
reason as the close message; [U] what KooKoo does with a refused socket is unknown (the call
presumably goes on with ``event=Stream``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from kookoo.stream.bots import (
    INTERNAL_ERROR,
    POLICY_VIOLATION,
    StreamBots,
    StreamRefused,
    load_bots,
)

__all__ = [
    "WebSocketTransport",
    "close_reason",
    "connect_client",
    "main",
    "run_server",
    "serve_bots",
]

logger = logging.getLogger("kookoo.stream")


def close_reason(message: str) -> str:
    """``message`` cut to the 123 bytes a WebSocket close frame can carry."""
    data = message.encode("utf-8")
    if len(data) <= 123:
        return message
    return data[:120].decode("utf-8", "ignore") + "..."


class WebSocketTransport:
    """A ``websockets`` connection as a stream transport (either side)."""

    def __init__(self, connection: ServerConnection | ClientConnection) -> None:
        self.connection = connection

    async def send(self, text: str | bytes) -> None:
        """Send one frame; a frame for a closed connection is dropped (the peer is gone)."""
        with contextlib.suppress(ConnectionClosed):
            await self.connection.send(text)

    async def receive(self) -> str | bytes | None:
        """The next frame, or ``None`` once closed."""
        try:
            return await self.connection.recv()
        except ConnectionClosed:
            return None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent)."""
        await self.connection.close(code, close_reason(reason))

    @property
    def close_code(self) -> int | None:
        """The close code, once closed."""
        return self.connection.close_code

    @property
    def close_reason(self) -> str | None:
        """The close reason, once closed."""
        return self.connection.close_reason


async def connect_client(url: str) -> WebSocketTransport:
    """Open a client connection to ``url`` (the fake KooKoo uses it)."""
    return WebSocketTransport(await connect(url, max_size=2**20, compression=None))


async def _handle(bots: StreamBots, connection: ServerConnection) -> None:
    transport = WebSocketTransport(connection)
    try:
        await bots.serve(transport)
    except StreamRefused as exc:
        await transport.close(POLICY_VIOLATION, str(exc))
    except Exception:  # logged by StreamBots.serve with the sid
        await transport.close(INTERNAL_ERROR, "bot error")
    else:
        await transport.close()


async def serve_bots(
    bots: StreamBots,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    sock: socket.socket | None = None,
) -> Server:
    """Start serving ``bots`` (any path) and return the running ``websockets`` server.

    Use ``async with await serve_bots(...)`` or call ``server.close()`` yourself. Pass ``sock``
    to serve an already bound socket (tests bind port 0).
    """

    async def handler(connection: ServerConnection) -> None:
        await _handle(bots, connection)

    if sock is not None:
        return await serve(handler, sock=sock, max_size=2**20, compression=None)
    return await serve(handler, host, port, max_size=2**20, compression=None)


def run_server(bots: StreamBots, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve ``bots`` until interrupted, logging ``serving stream bots on ws://HOST:PORT``
    (the bound port, so ``port=0`` picks a free one and says which)."""
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("websockets").setLevel(logging.WARNING)  # not a line per closed call

    async def run() -> None:
        async with await serve_bots(bots, host, port) as server:
            bound = next(iter(server.sockets)).getsockname()[1]
            logger.info("serving stream bots on ws://%s:%d", host, bound)
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m kookoo.stream.server module:bots [--host H] [--port P]`` (the same as
    ``kookoo stream-serve``)."""
    parser = argparse.ArgumentParser(prog="python -m kookoo.stream.server")
    parser.add_argument("bots", help="module:attribute of a kookoo.stream.StreamBots")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    try:
        bots = load_bots(args.bots)
    except ValueError as exc:
        parser.error(str(exc))
    run_server(bots, args.host, args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
