"""Stream sessions for bot authors: a sans-IO core and an async wrapper over any transport.

:class:`StreamSession` turns frames into messages and bot actions into frames, with no I/O.
:class:`AsyncStreamSession` drives it over anything with ``async send(text)`` and
``async receive() -> str | bytes | None`` (``None`` once the socket closed), which is what the
ASGI, ``websockets`` and in-process transports in this package provide::

    async def echo(session: AsyncStreamSession) -> None:
        async for message in session:
            if isinstance(message, Audio):
                await session.send_audio(message.pcm)
            elif isinstance(message, Dtmf):
                await session.clear()

A :class:`JsonlRecorder` saves every frame both ways (one JSON object a line), so the first real
call can be replayed as a test with :func:`read_recording` and the fake KooKoo client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Protocol, Self

from kookoo.state.stores.base import CallStore
from kookoo.stream.codec import (
    SAMPLE_RATE,
    AudioEncoder,
    Decoder,
    InboundMessage,
    Start,
    Stop,
    StreamProtocolError,
    call_disconnect,
    clear_buffer,
)
from kookoo.stream.replies import set_pending_reply
from kookoo.xml.response import Response

__all__ = [
    "AsyncStreamSession",
    "JsonlRecorder",
    "RecordedFrame",
    "StreamSession",
    "StreamTransport",
    "read_recording",
]

logger = logging.getLogger("kookoo.stream")

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    """One frame of a recorded stream.

    Attributes:
        at: seconds since the recording started.
        direction: ``"in"`` (KooKoo to bot) or ``"out"`` (bot to KooKoo).
        frame: the frame as sent (str for text frames, bytes for binary ones).
    """

    at: float
    direction: Direction
    frame: str | bytes


class JsonlRecorder:
    """Writes every frame of a stream to a JSON Lines file, both directions.

    Each line is ``{"at": seconds, "dir": "in"|"out", "text": frame}`` (binary frames as
    ``"b64"``). Open it on a path (the file is created or truncated, and closed by
    :meth:`close`) or on an open text file (left open).

    Args:
        target: a path or a writable text file.
        clock: monotonic seconds (tests).
    """

    def __init__(
        self, target: str | Path | IO[str], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(target, str | Path):
            self._file: IO[str] = open(target, "w", encoding="utf-8")  # noqa: SIM115
            self._owned = True
        else:
            self._file = target
            self._owned = False
        self._clock = clock
        self._origin: float | None = None

    def record(self, direction: Direction, frame: str | bytes) -> None:
        """Append one frame."""
        now = self._clock()
        if self._origin is None:
            self._origin = now
        line: dict[str, object] = {"at": round(now - self._origin, 6), "dir": direction}
        if isinstance(frame, str):
            line["text"] = frame
        else:
            line["b64"] = base64.b64encode(frame).decode("ascii")
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        """Flush, and close the file if the recorder opened it."""
        self._file.flush()
        if self._owned:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_recording(source: str | Path | Iterable[str]) -> list[RecordedFrame]:
    """Read a :class:`JsonlRecorder` file (a path, or lines) back into frames.

    Raises:
        ValueError: a line is not a recorded frame; the message gives its line number.
    """
    lines: Iterable[str]
    if isinstance(source, str | Path):
        lines = Path(source).read_text(encoding="utf-8").splitlines()
    else:
        lines = source
    frames: list[RecordedFrame] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            direction = item["dir"]
            if direction not in ("in", "out"):
                raise ValueError(f"dir is {direction!r}")
            frame: str | bytes = (
                item["text"] if "text" in item else base64.b64decode(item["b64"], validate=True)
            )
            frames.append(RecordedFrame(float(item["at"]), direction, frame))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"recording line {number} is not a recorded frame: {exc}") from None
    return frames


class StreamSession:
    """The sans-IO state of one stream: feed frames in, get messages; ask for frames out.

    Args:
        seqid_prefix: prefix of outbound ``seqid`` values (random if omitted).
        recorder: a :class:`JsonlRecorder` that sees every frame both ways.

    Attributes:
        start: the ``start`` message once received.
        start_frame: the frame it came in (so a recorder attached later can save it).
        stop: the ``stop`` message once received.
        bad_frames: how many frames could not be read (logged and skipped, never fatal).
        hung_up: whether :meth:`hang_up_bot` was called.
    """

    def __init__(
        self, *, seqid_prefix: str | None = None, recorder: JsonlRecorder | None = None
    ) -> None:
        self.decoder = Decoder()
        self.encoder = AudioEncoder(None, seqid_prefix=seqid_prefix)
        self.recorder = recorder
        self.start: Start | None = None
        self.start_frame: str | bytes | None = None
        self.stop: Stop | None = None
        self.bad_frames = 0
        self.hung_up = False

    @property
    def sid(self) -> str | None:
        """The call's sid from ``start`` (``None`` before it)."""
        return None if self.start is None else self.start.sid

    def receive(self, frame: str | bytes) -> list[InboundMessage]:
        """Read one frame from KooKoo. A frame that cannot be read is logged, counted in
        :attr:`bad_frames` and skipped: one bad packet must not end the caller's call."""
        if self.recorder is not None:
            self.recorder.record("in", frame)
        try:
            messages = self.decoder.feed(frame)
        except StreamProtocolError as exc:
            self.bad_frames += 1
            logger.warning("stream %s: skipped a frame: %s", self.sid or "?", exc)
            return []
        for message in messages:
            if isinstance(message, Start) and self.start is None:
                self.start = message
                self.start_frame = frame
                self.encoder.sid = message.sid
            elif isinstance(message, Stop):
                self.stop = message
        return messages

    def _out(self, frame: str) -> str:
        if self.recorder is not None:
            self.recorder.record("out", frame)
        return frame

    def send_audio(self, pcm: bytes) -> list[str]:
        """Frames for bot audio (PCM16 little-endian, 8 kHz); remainders carry over."""
        return [self._out(frame) for frame in self.encoder.encode(pcm)]

    def clear(self) -> str:
        """The ``clearBuffer`` frame (barge-in); drops the carried remainder too."""
        self.encoder.clear()
        return self._out(clear_buffer())

    def hang_up_bot(self) -> str:
        """The ``callDisconnect`` frame: the bot's leg ends and KooKoo sends ``event=Stream``."""
        self.encoder.clear()
        self.hung_up = True
        return self._out(call_disconnect())


class StreamTransport(Protocol):
    """What :class:`AsyncStreamSession` needs from a WebSocket: send text, receive a frame
    (``None`` once closed)."""

    async def send(self, text: str) -> None:
        """Send one text frame."""

    async def receive(self) -> str | bytes | None:
        """The next frame, or ``None`` when the connection closed."""


class AsyncStreamSession:
    """A stream session over an async transport: iterate messages, send audio and commands.

    Iteration yields every message (including :class:`~kookoo.stream.codec.Start` unless it was
    read already by :meth:`receive_start`) and ends after ``stop`` or when the socket closes.

    Args:
        transport: a :class:`StreamTransport`.
        store: the app's call store; needed for ``hang_up_bot(next=...)``.
        seqid_prefix: prefix of outbound ``seqid`` values (random if omitted).
        recorder: a :class:`JsonlRecorder` that sees every frame both ways.
        pace_ahead: when set, :meth:`send_audio` keeps at most this many seconds of audio
            queued at KooKoo, sleeping as the audio plays, so a long TTS reply can be cut off
            by :meth:`clear` at once. ``None`` (default) sends as fast as the socket allows.
            [U] whether KooKoo needs pacing is unknown: unpaced 400-sample packets [E] and
            packets paced ~200 ms ahead [D] were both reported to work.
        clock: monotonic seconds, for the pacing (tests).
        sleep: the coroutine that waits while pacing (tests); ``asyncio.sleep``.
    """

    def __init__(
        self,
        transport: StreamTransport,
        *,
        store: CallStore | None = None,
        seqid_prefix: str | None = None,
        recorder: JsonlRecorder | None = None,
        pace_ahead: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if pace_ahead is not None and not pace_ahead > 0:
            raise ValueError(f"pace_ahead must be positive seconds or None, got {pace_ahead!r}")
        self.transport = transport
        self.store = store
        self.core = StreamSession(seqid_prefix=seqid_prefix, recorder=recorder)
        self.pace_ahead = pace_ahead
        self.clock = clock
        self.sleep = sleep
        self._queue: list[InboundMessage] = []
        self._closed = False
        self._played_until = 0.0  # when the audio sent so far ends playing (clock time)
        self._epoch = 0  # bumped by clear(): paced sends still running stop

    @property
    def start(self) -> Start | None:
        """The ``start`` message once received."""
        return self.core.start

    @property
    def sid(self) -> str | None:
        """The call's sid from ``start``."""
        return self.core.sid

    @property
    def closed(self) -> bool:
        """Whether the stream ended (``stop`` read, or the socket closed)."""
        return self._closed

    async def receive(self) -> InboundMessage | None:
        """The next message, or ``None`` once the stream ended."""
        while not self._queue:
            if self._closed:
                return None
            frame = await self.transport.receive()
            if frame is None:
                self._closed = True
                return None
            self._queue.extend(self.core.receive(frame))
        message = self._queue.pop(0)
        if isinstance(message, Stop):
            self._closed = True
            self._queue.clear()
        return message

    async def receive_start(self) -> Start | None:
        """Read up to the ``start`` message and return it (``None`` if the stream ended first).

        Messages before it (an [U] ``connected``-style greeting) are skipped; audio before
        ``start`` is not expected and is skipped too.
        """
        while self.core.start is None:
            if await self.receive() is None:
                return None
        return self.core.start

    def __aiter__(self) -> AsyncIterator[InboundMessage]:
        return self

    async def __anext__(self) -> InboundMessage:
        message = await self.receive()
        if message is None:
            raise StopAsyncIteration
        return message

    async def send_audio(self, pcm: bytes) -> None:
        """Send bot audio: PCM16 little-endian at 8 kHz, any length (remainders carry over).

        With :attr:`pace_ahead` set this returns when the last packet was sent, about
        ``pace_ahead`` seconds before it finishes playing; call it from its own task if the
        bot must read DTMF while it talks. A :meth:`clear` meanwhile stops it.
        """
        epoch = self._epoch
        packet_seconds = self.core.encoder.packet_samples / SAMPLE_RATE
        for frame in self.core.send_audio(pcm):
            if self.pace_ahead is not None:
                now = self.clock()
                self._played_until = max(self._played_until, now)
                # Queued audio after this packet stays within pace_ahead (1 µs of float slack).
                wait = self._played_until + packet_seconds - now - self.pace_ahead
                if wait > 1e-6:
                    await self.sleep(wait)
                if epoch != self._epoch:
                    return  # cleared while waiting: the rest of this audio is dropped
                self._played_until += packet_seconds
            await self.transport.send(frame)

    async def clear(self) -> None:
        """Barge-in: ask KooKoo to drop the bot audio it has queued (``clearBuffer``); a paced
        :meth:`send_audio` running in another task stops too."""
        self._epoch += 1
        self._played_until = 0.0
        await self.transport.send(self.core.clear())

    async def hang_up_bot(self, next: Response | str | None = None) -> None:
        """End the bot's leg (``callDisconnect``); the call goes on with ``event=Stream``.

        Args:
            next: the XML (a :class:`~kookoo.xml.response.Response` or str) to play when KooKoo
                sends ``event=Stream``; kept in :attr:`store` under the call's sid (see
                :mod:`kookoo.stream.replies`) before the command is sent, so the HTTP request
                cannot arrive first.

        Raises:
            RuntimeError: ``next`` was given but the session has no store or no sid yet.
        """
        if next is not None:
            if self.store is None:
                raise RuntimeError("hang_up_bot(next=...) needs a session with a call store")
            sid = self.sid
            if sid is None:
                raise RuntimeError("hang_up_bot(next=...) before start: the call's sid is unknown")
            await asyncio.to_thread(set_pending_reply, self.store, sid, next)
        await self.transport.send(self.core.hang_up_bot())
