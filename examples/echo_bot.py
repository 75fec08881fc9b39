"""A voice bot that repeats what the caller says; a key press interrupts it (barge-in), ``#``
hands the call back to the IVR, which says goodbye.

One process serves KooKoo's HTTP requests and the bot's WebSocket (``pip install
'kookoo[asgi]'``)::

    KOOKOO_SECRET=... ECHO_BOT_URL=wss://bot.example.com/ws uvicorn examples.echo_bot:asgi

How it fits together:

1. ``NewCall``: the app answers ``<stream>`` with a signed token in ``x-uui``
   (:meth:`StreamBots.uui`); KooKoo opens the socket and the ``echo`` bot runs.
2. The bot sends each 10 ms of caller audio back; on a key press it sends ``clearBuffer``
   (KooKoo drops the queued echo); on ``#`` it ends its leg with ``hang_up_bot(next=...)``.
3. KooKoo then sends ``event=Stream``; the app plays the XML the bot left in the call store.

``KOOKOO_SECRET`` must be the same in every process that signs or checks tokens; without it a
random secret is made per process (fine for one process, e.g. development and tests).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from kookoo import Call, KooKoo, NewCall, Response, Stream
from kookoo.stream import AsyncStreamSession, Audio, Dtmf, StreamBots, take_pending_reply

app = KooKoo("echo_bot")

SECRET = os.environ.get("KOOKOO_SECRET") or secrets.token_hex(16)
STREAM_URL = os.environ.get("ECHO_BOT_URL", "ws://127.0.0.1:8000/ws")
STREAM_NUMBER = os.environ.get("KOOKOO_STREAM_NUMBER", "524431")  # provisioned by Ozonetel

bots = StreamBots(secret=SECRET, store=lambda: app.store)


@app.on_new_call
def welcome(event: NewCall) -> Response:
    """Connect the caller to the echo bot."""
    return (
        Response()
        .play_text("You are talking to the echo bot. Press hash to finish.")
        .stream(STREAM_NUMBER, is_sip=True, url=STREAM_URL, uui=bots.uui(event.sid, "echo"))
    )


@app.on_stream
def after_bot(event: Stream, call: Call) -> Response | str:
    """The bot ended its leg: play what it left, or say goodbye."""
    store = app.store
    reply = take_pending_reply(store, event.sid) if store is not None else None
    return reply if reply is not None else Response().play_text("Goodbye").hangup()


@bots.handler("echo")
async def echo(session: AsyncStreamSession) -> None:
    """Echo the caller; any key clears the queued echo; ``#`` hands the call back."""
    async for message in session:
        if isinstance(message, Audio):
            await session.send_audio(message.pcm)
        elif isinstance(message, Dtmf):
            if message.digit == "#":
                goodbye = Response().play_text("Thank you for trying the echo bot.").hangup()
                await session.hang_up_bot(next=goodbye)
                return
            await session.clear()


_asgi: list[Any] = []


def __getattr__(name: str) -> Any:
    # ``asgi`` needs the kookoo[asgi] extra; build it on first use so the module imports
    # without it.
    if name == "asgi":
        if not _asgi:
            from kookoo.stream.asgi import StreamASGI

            _asgi.append(StreamASGI(bots, app, path="/ws"))
        return _asgi[0]
    raise AttributeError(name)
