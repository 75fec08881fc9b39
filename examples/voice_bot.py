"""A voice bot on pipecat: the caller hears answers to key presses and to what they say; ``#``
hands the call back to the IVR. The "LLM" and "TTS" are stubs (no network, deterministic):
swap in pipecat's real STT, LLM and TTS services for a real agent.

Two processes (``pip install 'kookoo[pipecat]'``)::

    KOOKOO_SECRET=... VOICE_BOT_URL=wss://bot.example.com/ kookoo run examples/voice_bot.py
    KOOKOO_SECRET=... python -m examples.voice_bot --port 8765   # the bot (behind TLS)

How it fits together:

1. ``NewCall``: the app answers ``<stream handler="voice">``; kookoo signs a token for this
   call into ``x-uui`` with the app's secret.
2. KooKoo opens the socket; :class:`~kookoo.stream.pipecat.KooKooFrameSerializer` turns its
   messages into pipecat frames and back, with ``audio_out_10ms_chunks=1`` so every packet of
   bot audio is the 10 ms KooKoo expects. The bot checks the token on the first frame after
   ``start`` (a bad one ends the bot's leg at once, nothing said).
3. ``StubLLM`` picks a canned answer for a key press, or for the end of an utterance (audio
   energy, then 200 ms of silence); ``StubTTS`` "speaks" it as one short tone per word.
4. ``#``: the bot says goodbye and ends (``EndFrame`` -> ``callDisconnect``); KooKoo sends
   ``event=Stream`` and the app thanks the caller.

pipecat's ``SingleClientWebsocketServerTransport`` serves one call at a time, so
:func:`main` runs calls one after another: for many calls at once run several bot processes,
or serve each socket with pipecat's FastAPI transport and the same serializer and processors.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import secrets
from collections.abc import Sequence
from typing import Any

from kookoo import KooKoo, NewCall, Response, Stream
from kookoo.stream.audio import pcm16_from_samples, pcm16_samples
from kookoo.stream.codec import PACKET_SAMPLES, SAMPLE_RATE
from kookoo.stream.tokens import TOKEN_KEY, StreamTokenError, verify_stream_token

logger = logging.getLogger("examples.voice_bot")

SECRET = os.environ.get("KOOKOO_SECRET") or secrets.token_urlsafe(24)
BOT_URL = os.environ.get("VOICE_BOT_URL", "ws://127.0.0.1:8765/")
STREAM_NUMBER = os.environ.get("KOOKOO_STREAM_NUMBER", "524431")  # provisioned by Ozonetel
HANDLER = "voice"

app = KooKoo("voice_bot", secret=SECRET)


@app.on_new_call
def welcome(event: NewCall) -> Response:
    """Connect the caller to the voice bot, with a token signed for this call."""
    return Response().stream(STREAM_NUMBER, is_sip=True, url=BOT_URL, handler=HANDLER)


@app.on_stream
def after_bot(event: Stream) -> Response:
    """The bot ended its leg: back in the IVR."""
    return Response().play_text("Thank you for calling. Goodbye").hangup()


# -- the stubs: plain functions, so tests can compute what the caller must hear ----------------

GREETING = "Welcome. Press one for your balance"
ANSWERS = {
    "1": "Your balance is five hundred rupees",
    "2": "Your last payment arrived on Monday",
    "#": "Goodbye",
}
UNKNOWN_KEY = "Press one for your balance or two for your last payment"
HEARD_SPEECH = "Sorry I only understand keys"

WORD_MS, GAP_MS = 50, 10  # whole 10 ms packets: the output is exact multiples of 80 samples


def answer_for(digit: str) -> str:
    """The stub LLM's answer to a key press."""
    return ANSWERS.get(digit, UNKNOWN_KEY)


def speech(text: str) -> bytes:
    """The stub TTS: each word is a 50 ms tone (its pitch from the word's length) and 10 ms of
    silence, as 8 kHz PCM16."""
    out: list[int] = []
    tone = SAMPLE_RATE * WORD_MS // 1000
    for word in text.split():
        step = 2 * math.pi * (300 + 60 * (len(word) % 10)) / SAMPLE_RATE
        out += [round(6000 * math.sin(step * i)) for i in range(tone)]
        out += [0] * (SAMPLE_RATE * GAP_MS // 1000)
    return pcm16_from_samples(out)


class Utterances:
    """The stub STT: says when the caller stopped speaking (at least 100 ms of audio over an
    energy threshold, then 200 ms under it). Feed it 8 kHz PCM16 in any chunk sizes."""

    def __init__(self, threshold: float = 500.0) -> None:
        self.threshold = threshold
        self.voiced = 0
        self.silent = 0
        self._buffer = b""

    def feed(self, pcm: bytes) -> int:
        """How many utterances ended in ``pcm``."""
        self._buffer += pcm
        ended = 0
        size = 2 * PACKET_SAMPLES
        while len(self._buffer) >= size:
            samples = pcm16_samples(self._buffer[:size])
            self._buffer = self._buffer[size:]
            rms = math.sqrt(sum(s * s for s in samples) / len(samples))
            if rms > self.threshold:
                self.voiced += 1
                self.silent = 0
            elif self.voiced:
                self.silent += 1
                if self.silent >= 20:
                    ended += self.voiced >= 10
                    self.voiced = self.silent = 0
        return ended


def token_ok(uui: dict[str, Any], sid: str | None, secret: str | bytes = SECRET) -> bool:
    """Whether ``x-uui`` carries a valid token for call ``sid`` and this bot."""
    if not sid:
        logger.warning("stream refused: start carries no ucid")
        return False
    try:
        token = verify_stream_token(secret, uui.get(TOKEN_KEY), sid=sid)
    except StreamTokenError as exc:
        logger.warning("stream %s refused: %s", sid, exc)
        return False
    return token.handler == HANDLER


# -- the pipecat pipeline ----------------------------------------------------------------------


async def run_call(host: str = "127.0.0.1", port: int = 8765, *, secret: str = SECRET) -> None:
    """Serve one call on ``ws://host:port`` and return when it is over."""
    from pipecat.frames.frames import (
        EndFrame,
        Frame,
        InputAudioRawFrame,
        InputDTMFFrame,
        OutputAudioRawFrame,
        TextFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.transports.websocket.server import (
        SingleClientWebsocketServerParams,
        SingleClientWebsocketServerTransport,
    )

    from kookoo.stream.pipecat import KooKooFrameSerializer

    serializer = KooKooFrameSerializer()

    class StubLLM(FrameProcessor):  # type: ignore[misc,unused-ignore]
        """Checks the token, greets, answers keys and utterances; ``#`` ends the bot."""

        def __init__(self) -> None:
            super().__init__()
            self.checked: bool | None = None  # None: not yet; False: refused
            self.ears = Utterances()

        async def say(self, text: str) -> None:
            await self.push_frame(TextFrame(text))

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if not isinstance(frame, InputAudioRawFrame | InputDTMFFrame):
                await self.push_frame(frame, direction)
                return
            if self.checked is None:
                start = serializer.start
                self.checked = start is not None and token_ok(start.uui, start.sid, secret)
                if not self.checked:
                    await self.push_frame(EndFrame())  # the bot's leg ends, nothing said
                    return
                await self.say(GREETING)
            if not self.checked:
                return
            if isinstance(frame, InputDTMFFrame):
                digit = str(frame.button.value)
                await self.say(answer_for(digit))
                if digit == "#":
                    await self.push_frame(EndFrame())
            else:
                for _ in range(self.ears.feed(frame.audio)):
                    await self.say(HEARD_SPEECH)

    class StubTTS(FrameProcessor):  # type: ignore[misc,unused-ignore]
        """Speaks each text as :func:`speech`."""

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, TextFrame):
                await self.push_frame(OutputAudioRawFrame(speech(frame.text), SAMPLE_RATE, 1))
            else:
                await self.push_frame(frame, direction)

    transport = SingleClientWebsocketServerTransport(
        params=SingleClientWebsocketServerParams(
            serializer=serializer,
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_in_sample_rate=SAMPLE_RATE,
            audio_out_sample_rate=SAMPLE_RATE,
            audio_out_10ms_chunks=1,  # one 80-sample KooKoo packet per chunk
            audio_out_end_silence_secs=0,  # no 2 s of silence before callDisconnect
        ),
        host=host,
        port=port,
    )
    task = PipelineTask(
        Pipeline([transport.input(), StubLLM(), StubTTS(), transport.output()]),
        params=PipelineParams(audio_in_sample_rate=SAMPLE_RATE, audio_out_sample_rate=SAMPLE_RATE),
    )

    @transport.event_handler("on_client_disconnected")  # type: ignore[untyped-decorator,unused-ignore]
    async def disconnected(transport: object, websocket: object) -> None:
        await task.cancel()

    runner = PipelineRunner(handle_sigint=False)
    await runner.add_workers(task)
    await runner.run()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m examples.voice_bot [--host H] [--port P]``: serve calls, one at a time."""
    parser = argparse.ArgumentParser(prog="python -m examples.voice_bot")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    async def serve() -> None:
        while True:
            await run_call(args.host, args.port)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
