"""A fake KooKoo media server: test a voice bot without a phone.

:class:`FakeStreamClient` plays what KooKoo is known to send (see :mod:`kookoo.stream.codec`):
``start`` with your ``x-uui``, the 16 kHz probe packet, caller audio in 10 ms packets (from a WAV
file, a generated tone or raw PCM), DTMF, and ``stop`` with a cause. It records everything the
bot sends and, like KooKoo, stops sending when the bot sends ``callDisconnect``. Afterwards it
can send the HTTP request KooKoo would send next (``event=Stream`` after ``callDisconnect``,
``event=Hangup&process=stream`` after the caller hung up) to a WSGI app.

Three ways to connect it to a bot:

- :meth:`FakeStreamClient.run_bots` — in-process, no sockets (fast unit tests);
- :meth:`FakeStreamClient.connect` — a real ``ws://`` URL (needs ``kookoo[websockets]``);
- :meth:`FakeStreamClient.run` — any :class:`ClientTransport` you provide.

Example::

    fake = FakeStreamClient(uui=bots.uui("3341", "echo"), sid="3341")
    fake.tone(440, seconds=1).dtmf("5").tone(440, seconds=0.5).stop()
    result = fake.run_bots(bots)
    assert result.audio == fake.caller_audio
    status, xml = fake.send_http(app, result)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import wave
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self

from werkzeug.test import Client

from kookoo.protocol.events import Hangup, Stream, request_params
from kookoo.stream.audio import pcm16_from_samples, pcm16_samples, resample
from kookoo.stream.bots import INTERNAL_ERROR, POLICY_VIOLATION, StreamBots, StreamRefused
from kookoo.stream.codec import (
    CAUSE_CALLER_HANGUP,
    PACKET_SAMPLES,
    SAMPLE_RATE,
    CallDisconnect,
    ClearBuffer,
    OutboundAudio,
    OutboundMessage,
    StreamProtocolError,
    parse_outbound,
)
from kookoo.stream.session import JsonlRecorder, RecordedFrame

__all__ = [
    "ClientTransport",
    "FakeStreamClient",
    "FakeStreamResult",
    "generate_tone",
    "read_wav",
    "write_wav",
]

_PACKET_SECONDS = PACKET_SAMPLES / SAMPLE_RATE


def generate_tone(
    frequency: float = 440.0,
    *,
    seconds: float = 1.0,
    amplitude: int = 8000,
    sample_rate: int = SAMPLE_RATE,
) -> bytes:
    """A sine tone as PCM16 (little-endian), e.g. to stand in for a caller's voice."""
    count = round(seconds * sample_rate)
    step = 2 * math.pi * frequency / sample_rate
    return pcm16_from_samples([round(amplitude * math.sin(step * i)) for i in range(count)])


def read_wav(path: str | Path) -> bytes:
    """Read a 16-bit PCM WAV file as 8 kHz mono PCM16 (other rates resampled, channels mixed).

    Raises:
        ValueError: the file is not 16-bit PCM.
    """
    with wave.open(str(path), "rb") as source:
        if source.getsampwidth() != 2 or source.getcomptype() != "NONE":
            width = source.getsampwidth() * 8
            raise ValueError(f"{path}: expected 16-bit PCM WAV, got {width}-bit")
        channels = source.getnchannels()
        rate = source.getframerate()
        frames = source.readframes(source.getnframes())
    if channels > 1:
        samples = pcm16_samples(frames)
        frames = pcm16_from_samples(
            [
                sum(samples[i : i + channels]) // channels
                for i in range(0, len(samples) - channels + 1, channels)
            ]
        )
    return resample(frames, rate, SAMPLE_RATE)


def write_wav(path: str | Path, pcm: bytes, *, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono PCM16 as a WAV file (to save what a bot said, or make test input)."""
    with wave.open(str(path), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(sample_rate)
        target.writeframes(pcm)


class ClientTransport(Protocol):
    """The fake's side of a connection: send a frame, receive (``None`` once closed), close."""

    async def send(self, frame: str | bytes) -> None:
        """Send one frame."""

    async def receive(self) -> str | bytes | None:
        """The next frame from the bot, or ``None`` once the bot closed the connection."""

    async def close(self) -> None:
        """Close the connection (idempotent)."""


@dataclass
class FakeStreamResult:
    """What happened during a fake stream.

    Attributes:
        sid: the call's sid.
        sent: the frames the fake sent, in order.
        received: what the bot sent, parsed, in order.
        bad_frames: bot frames that were not valid stream messages (kept raw).
        close_code: the WebSocket close code the bot's side used, if known.
        close_reason: its reason text (the refusal message for a refused socket).
        disconnected_by_bot: the bot sent ``callDisconnect``.
        stop_cause: the ``stop`` cause the fake sent (``None``: no cause, or no stop sent).
        stopped: whether the fake sent ``stop``.
        sent_at: when each frame of :attr:`sent` was sent (``time.monotonic()``).
        received_at: when each message of :attr:`received` arrived (``time.monotonic()``).
    """

    sid: str
    sent: list[str | bytes] = field(default_factory=list)
    received: list[OutboundMessage] = field(default_factory=list)
    bad_frames: list[str | bytes] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None
    disconnected_by_bot: bool = False
    stop_cause: int | None = None
    stopped: bool = False
    sent_at: list[float] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)

    @property
    def audio(self) -> bytes:
        """All bot audio, concatenated (PCM16, 8 kHz)."""
        return b"".join(m.pcm for m in self.received if isinstance(m, OutboundAudio))

    @property
    def seqids(self) -> list[str | None]:
        """The ``seqid`` of each bot audio packet, in order."""
        return [m.seqid for m in self.received if isinstance(m, OutboundAudio)]

    @property
    def clears(self) -> int:
        """How many ``clearBuffer`` commands the bot sent."""
        return sum(isinstance(m, ClearBuffer) for m in self.received)

    @property
    def refused(self) -> bool:
        """Whether the bot's side refused the socket (close code 1008)."""
        return self.close_code == POLICY_VIOLATION

    def http_params(self, *, status: str = "completed", duration: int = 10) -> dict[str, str]:
        """The query KooKoo sends next: ``event=Stream`` after ``callDisconnect``, else
        ``event=Hangup&process=stream`` [L]."""
        if self.disconnected_by_bot:
            return request_params(Stream, sid=self.sid, status=status, duration_seconds=duration)
        return request_params(Hangup, sid=self.sid, process="stream")


class _PipeEnd:
    def __init__(self, inbox: asyncio.Queue[str | bytes | None]) -> None:
        self.inbox = inbox
        self.peer: _PipeEnd | None = None
        self.closed = False
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def send(self, frame: str | bytes) -> None:
        if not self.closed and self.peer is not None and not self.peer.closed:
            self.peer.inbox.put_nowait(frame)

    async def receive(self) -> str | bytes | None:
        if self.closed:
            return None
        frame = await self.inbox.get()
        if frame is None:
            self.closed = True
        return frame

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            if self.peer is not None and not self.peer.closed:
                self.peer.close_code = code
                self.peer.close_reason = reason
                self.peer.inbox.put_nowait(None)


def _pipe() -> tuple[_PipeEnd, _PipeEnd]:
    a, b = _PipeEnd(asyncio.Queue()), _PipeEnd(asyncio.Queue())
    a.peer, b.peer = b, a
    return a, b


class FakeStreamClient:
    """Plays a KooKoo stream to a bot and records the bot's replies; see the module docs.

    Build the caller's side with the chainable methods (:meth:`audio`, :meth:`tone`,
    :meth:`wav`, :meth:`dtmf`, :meth:`pause`, :meth:`until`, :meth:`stop`), then run it.
    ``start`` and the probe packet are sent first automatically.

    Args:
        uui: the ``x-uui`` the app put on ``<stream>`` (a str as sent, or a mapping); it is
            delivered as the ``x_headers`` JSON string, as KooKoo does.
        sid: the call's ``ucid``.
        caller: ``call_id``. did: the called number. account: ``x_account``.
        probe: send the 16 kHz probe packet after ``start`` (as KooKoo does) [D/E].
        realtime: pace audio at 10 ms a packet like a phone; ``False`` sends as fast as the
            bot reads (tests).
        linger: seconds to wait, after the last frame, for the bot to finish and close.

    Attributes:
        recorder: when set, every frame sent (``"in"``) and received (``"out"``, bad ones
            too) is written to it, so the run can be replayed with :meth:`replay`.
    """

    def __init__(
        self,
        *,
        uui: str | Mapping[str, Any] | None = None,
        sid: str = "21275806501458167",
        caller: str = "919704665032",
        did: str = "918065740671",
        account: str = "kookoo-test",
        probe: bool = True,
        realtime: bool = False,
        linger: float = 5.0,
    ) -> None:
        self.sid = sid
        self.realtime = realtime
        self.linger = linger
        self.recorder: JsonlRecorder | None = None
        x_headers = uui if isinstance(uui, str) else json.dumps(dict(uui or {}))
        start = {
            "event": "start",
            "type": "text",
            "ucid": sid,
            "did": did,
            "call_id": caller,
            "x_account": account,
            "x_headers": x_headers,
            "media": {"encoding": "PCMU", "sampleRate": 8000, "channels": 1, "bitsPerSample": 16},
        }
        # (kind, frame or seconds); kinds: "frame", "audio" (paced in real time), "stop", "pause"
        self._script: list[tuple[str, str | bytes | float]] = [("frame", json.dumps(start))]
        self._conditions: dict[int, tuple[Callable[[FakeStreamResult], bool], float]] = {}
        if probe:
            self._script.append(("audio", self._media([0] * 160, rate=16000)))
        self.caller_audio = b""
        """All caller audio queued so far (PCM16), whole packets only."""
        self._carry = b""
        self._stopped = False
        self._stop_cause: int | None = None

    @classmethod
    def replay(cls, frames: Iterable[RecordedFrame], *, realtime: bool = False) -> Self:
        """A client that sends exactly the inbound frames of a recording (see
        :class:`~kookoo.stream.session.JsonlRecorder`), nothing added."""
        client = cls(probe=False, realtime=realtime)
        client._script = []
        for recorded in frames:
            if recorded.direction != "in":
                continue
            try:
                message = json.loads(recorded.frame)
            except ValueError:
                message = None
            event = message.get("event") if isinstance(message, dict) else None
            kind = "frame"
            if event == "start" and isinstance(message, dict):
                client.sid = str(message.get("ucid", client.sid))
            elif event == "stop":
                kind = "stop"
                assert isinstance(message, dict)
                cause = message.get("cause")
                client._stop_cause = cause if isinstance(cause, int) else None
            elif event == "media" and isinstance(message, dict) and message.get("type") == "media":
                kind = "audio"
            client._script.append((kind, recorded.frame))
        return client

    def _media(self, samples: list[int], *, rate: int = SAMPLE_RATE) -> str:
        return json.dumps(
            {
                "event": "media",
                "type": "media",
                "ucid": self.sid,
                "data": {
                    "samples": samples,
                    "bitsPerSample": 16,
                    "sampleRate": rate,
                    "channelCount": 1,
                    "numberOfFrames": len(samples),
                    "type": "data",
                },
            },
            separators=(",", ":"),
        )

    def _check_open(self) -> None:
        if self._stopped:
            raise RuntimeError("the fake stream already ends with stop(); add steps before it")

    def audio(self, pcm: bytes) -> Self:
        """Queue caller audio (PCM16 at 8 kHz) as 80-sample packets; a remainder shorter than
        a packet waits for the next call (and is dropped at :meth:`stop`)."""
        self._check_open()
        buffer = self._carry + pcm
        size = 2 * PACKET_SAMPLES
        whole = len(buffer) - len(buffer) % size
        for start in range(0, whole, size):
            packet = self._media(pcm16_samples(buffer[start : start + size]).tolist())
            self._script.append(("audio", packet))
        self._carry = buffer[whole:]
        self.caller_audio += buffer[:whole]
        return self

    def tone(
        self, frequency: float = 440.0, *, seconds: float = 1.0, amplitude: int = 8000
    ) -> Self:
        """Queue a sine tone as caller audio."""
        return self.audio(generate_tone(frequency, seconds=seconds, amplitude=amplitude))

    def wav(self, path: str | Path) -> Self:
        """Queue a WAV file's audio (see :func:`read_wav`)."""
        return self.audio(read_wav(path))

    def dtmf(self, digit: str) -> Self:
        """Queue a key press (``event=media, type=dtmf, signal``) [D]."""
        self._check_open()
        message = {"event": "media", "type": "dtmf", "ucid": self.sid, "signal": digit}
        self._script.append(("frame", json.dumps(message)))
        return self

    def pause(self, seconds: float) -> Self:
        """Wait before the next frame (e.g. to let the bot talk)."""
        self._check_open()
        self._script.append(("pause", float(seconds)))
        return self

    def until(self, condition: Callable[[FakeStreamResult], bool], *, timeout: float = 5.0) -> Self:
        """Wait until ``condition(result so far)`` holds (checked as the bot's messages
        arrive), at most ``timeout`` seconds; e.g. ``until(lambda r: len(r.audio) >= n)``.

        A wait that times out does not fail the run: assert on the result afterwards.
        """
        self._check_open()
        self._conditions[len(self._script)] = (condition, timeout)
        self._script.append(("until", float(timeout)))
        return self

    def stop(self, cause: int | None = CAUSE_CALLER_HANGUP) -> Self:
        """End with ``stop``: ``cause=433`` is the caller hanging up; ``None`` sends no cause
        (a SIP failure) [L/D]."""
        self._check_open()
        message: dict[str, Any] = {"event": "stop", "type": "text", "ucid": self.sid}
        if cause is not None:
            message["cause"] = cause
        self._script.append(("stop", json.dumps(message)))
        self._stopped = True
        self._stop_cause = cause
        return self

    async def run(self, transport: ClientTransport) -> FakeStreamResult:
        """Play the script over ``transport`` and collect the bot's replies."""
        result = FakeStreamResult(sid=self.sid)
        bot_done = asyncio.Event()
        progress = asyncio.Event()

        async def listen() -> None:
            while True:
                frame = await transport.receive()
                if frame is None:
                    break
                if self.recorder is not None:
                    self.recorder.record("out", frame)
                try:
                    message = parse_outbound(frame)
                except StreamProtocolError:
                    result.bad_frames.append(frame)
                    continue
                result.received.append(message)
                result.received_at.append(time.monotonic())
                progress.set()
                if isinstance(message, CallDisconnect):
                    result.disconnected_by_bot = True
                    bot_done.set()
            bot_done.set()
            progress.set()

        listener = asyncio.create_task(listen())
        origin = time.monotonic()
        due = 0.0
        try:
            for index, (kind, step) in enumerate(self._script):
                if bot_done.is_set():
                    break  # KooKoo stops the bot leg after callDisconnect (or a closed socket)
                if kind == "until":
                    condition, timeout = self._conditions[index]
                    deadline = time.monotonic() + timeout
                    while not condition(result) and not bot_done.is_set():
                        progress.clear()
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(progress.wait(), remaining)
                    due = time.monotonic() - origin  # real-time pacing restarts from here
                    continue
                if isinstance(step, float):
                    due += step
                    await self._wait(origin + due, bot_done)
                    continue
                if self.realtime and kind == "audio":
                    due += _PACKET_SECONDS
                    delay = origin + due - time.monotonic()
                    if delay > 0:  # a plain sleep: wait_for per 10 ms packet costs too much CPU
                        await asyncio.sleep(delay)
                await transport.send(step)
                if self.recorder is not None:
                    self.recorder.record("in", step)
                result.sent.append(step)
                result.sent_at.append(time.monotonic())
                if kind == "stop":
                    result.stopped = True
                    result.stop_cause = self._stop_cause
                if not self.realtime:
                    await asyncio.sleep(0)  # let the bot read, as a socket would
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bot_done.wait(), self.linger)
        finally:
            await transport.close()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        code = getattr(transport, "close_code", None)
        result.close_code = code if isinstance(code, int) else None
        reason = getattr(transport, "close_reason", None)
        result.close_reason = reason if isinstance(reason, str) else None
        return result

    @staticmethod
    async def _wait(deadline: float, interrupt: asyncio.Event) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupt.wait(), delay)

    async def run_bots_async(self, bots: StreamBots) -> FakeStreamResult:
        """Run against ``bots`` in this event loop over an in-process pipe (no sockets)."""
        client, server = _pipe()

        async def serve() -> None:
            try:
                await bots.serve(server)
            except StreamRefused as exc:
                await server.close(POLICY_VIOLATION, str(exc))
            except Exception:  # logged by StreamBots.serve; a socket server would go on
                await server.close(INTERNAL_ERROR, "bot error")
            else:
                await server.close()

        task = asyncio.create_task(serve())
        try:
            return await self.run(client)
        finally:
            await task

    def run_bots(self, bots: StreamBots) -> FakeStreamResult:
        """Blocking form of :meth:`run_bots_async` (runs its own event loop)."""
        return asyncio.run(self.run_bots_async(bots))

    async def connect(self, url: str) -> FakeStreamResult:
        """Run against a real WebSocket server at ``url`` (needs ``kookoo[websockets]``)."""
        from kookoo.stream.server import connect_client

        transport = await connect_client(url)
        return await self.run(transport)

    def send_http(
        self,
        app: Any,
        result: FakeStreamResult,
        *,
        path: str = "/",
        status: str = "completed",
        duration: int = 10,
    ) -> tuple[int, str]:
        """Send the HTTP request KooKoo sends after the stream to WSGI ``app``; return the
        status code and body (the XML the caller hears next)."""
        response = Client(app).get(
            path, query_string=result.http_params(status=status, duration=duration)
        )
        return response.status_code, response.get_data(as_text=True)
