"""The sans-IO codec for KooKoo's ``<stream>`` WebSocket: typed messages in, JSON text out.

No sockets here: feed the frames your WebSocket library receives to :class:`Decoder` and send
the strings :class:`AudioEncoder` and the command helpers return. Everything known about the
wire comes from public third-party code (no Ozonetel document is public); each fact below says
how sure it is and how the parser stays lenient about it:

- [L] Every message is a JSON object in a text frame. [U] One source says binary frames may
  occur: a binary frame is decoded as UTF-8 JSON too.
- [L] ``start`` carries ``ucid`` (equal to the HTTP ``sid`` in the live sample; [U] on
  API-dialled calls), ``did`` (the called number), ``call_id`` (the caller), ``x_account`` and
  ``x_headers`` (the ``x-uui`` the app put on ``<stream>``). ``x_headers`` was seen as a JSON
  *string*; [U] it is also accepted as an object, as URL-encoded ``k=v&...`` text, and as a JSON
  string inside a JSON string. Text that is none of these is kept whole under ``"_raw"``.
- [L/E] Caller audio is ``event=media, type=media`` with ``data.samples``: signed 16-bit PCM as a
  JSON array of integers (despite ``media.encoding`` saying ``PCMU``), 80 samples = 10 ms at
  8 kHz. Samples outside -32768..32767 are clipped, not refused. [D/E] The first packet reports
  16000 Hz / 160 frames and every known implementation drops it: :class:`Decoder` drops the
  first audio packet when it reports a rate other than 8000 (a first packet at 8000 is kept).
- [D] DTMF arrives as ``event=media, type=dtmf`` with ``signal``; [U] ``digit`` or ``dtmf`` are
  accepted as the key too.
- [G] ``mark`` (``seqid``, ``timestamp``) is contested: after every played packet or only after
  ``clearBuffer``. It is passed on as :class:`Mark` without interpretation.
- [L/D] ``stop`` has ``cause`` 433 when the caller hung up and no cause on a SIP failure; a
  cause sent as a string of digits is read as an int.
- Anything else (a new event, a ``connected`` message some platforms send) becomes
  :class:`Unknown` with its raw fields; it is never an error.

Outbound (strict writer): 80-sample packets ``{"event":"media","type":"media","ucid":...,
"seqid":...,"data":{"samples":[...],...}}`` with a unique ``seqid`` each ([D] the server is said
to drop repeated seqids within a window of 3000), ``{"command":"clearBuffer"}`` and
``{"command":"callDisconnect"}``. [U] Some code adds ``sessionId`` / ``causeCode``; they are
left out by default and can be added with ``extra``.

>>> decoder = Decoder()
>>> decoder.feed('{"event":"start","ucid":"123","call_id":"0987","did":"0801",'
...              '"x_headers":"{\\\\"lang\\\\":\\\\"hi\\\\"}"}')
[Start(sid='123', caller='0987', did='0801', account=None, uui={'lang': 'hi'})]
>>> encoder = AudioEncoder("123", seqid_prefix="t")
>>> len(encoder.encode(b"\\x00\\x00" * 200))   # 200 samples: two packets, 40 carried over
2
>>> encoder.pending_samples
40
"""

from __future__ import annotations

import json
import secrets
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from kookoo.core.errors import KooKooError
from kookoo.stream.audio import pcm16_from_samples, pcm16_samples

__all__ = [
    "CAUSE_CALLER_HANGUP",
    "PACKET_SAMPLES",
    "SAMPLE_RATE",
    "Audio",
    "AudioEncoder",
    "CallDisconnect",
    "ClearBuffer",
    "Decoder",
    "Dtmf",
    "InboundMessage",
    "Mark",
    "OutboundAudio",
    "OutboundMessage",
    "Start",
    "Stop",
    "StreamProtocolError",
    "Unknown",
    "call_disconnect",
    "clear_buffer",
    "parse_inbound",
    "parse_outbound",
    "parse_uui",
]

SAMPLE_RATE = 8000
"""The stream's sample rate in Hz, both ways."""

PACKET_SAMPLES = 80
"""Samples per audio packet (10 ms at 8 kHz), both ways."""

CAUSE_CALLER_HANGUP = 433
"""The ``stop`` cause KooKoo sends when the caller hung up [L/D]."""


class StreamProtocolError(KooKooError, ValueError):
    """A frame is not a KooKoo stream message we can read; the message names the field.

    Attributes:
        frame: the frame as received (text, or bytes for a binary frame).
    """

    def __init__(self, message: str, frame: str | bytes) -> None:
        self.frame = frame
        super().__init__(message)


def _no_raw() -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Start:
    """The first message of a stream: who is calling and the app data sent in ``x-uui``.

    Attributes:
        sid: the call's id (``ucid``; equal to the HTTP ``sid`` in the live sample [L/D]).
            If ``ucid`` is missing, ``uui["sid"]`` is used when present.
        caller: the caller's number (``call_id``).
        did: the called number (``did``).
        account: the KooKoo account (``x_account``).
        uui: the ``x-uui`` data from ``x_headers``, parsed by :func:`parse_uui`.
        raw: the whole message as received, unknown fields included.
    """

    sid: str | None
    caller: str | None = None
    did: str | None = None
    account: str | None = None
    uui: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=_no_raw, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Audio:
    """10 ms (usually) of the caller's audio.

    Attributes:
        pcm: little-endian signed 16-bit PCM.
        sample_rate: the rate the packet reports (8000 normally).
        sid: ``ucid`` if the packet carries it.
        raw: the whole message; ``raw["data"]["samples"]`` is dropped to save memory.
    """

    pcm: bytes
    sample_rate: int = SAMPLE_RATE
    sid: str | None = None
    raw: dict[str, Any] = field(default_factory=_no_raw, repr=False, compare=False)

    @property
    def samples(self) -> int:
        """How many samples :attr:`pcm` holds."""
        return len(self.pcm) // 2


@dataclass(frozen=True, slots=True)
class Dtmf:
    """A key the caller pressed during the stream (``type=dtmf``, ``signal``) [D].

    Attributes:
        digit: the key as sent (``"0"``..``"9"``, ``"*"``, ``"#"``).
        sid: ``ucid`` if the message carries it.
        raw: the whole message.
    """

    digit: str
    sid: str | None = None
    raw: dict[str, Any] = field(default_factory=_no_raw, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Mark:
    """KooKoo acknowledged a packet the bot sent ([G] contested: after each played packet, or
    only the packet interrupted by ``clearBuffer``).

    Attributes:
        seqid: the ``seqid`` of the bot's packet, as sent.
        timestamp: KooKoo's timestamp (milliseconds since the epoch in the sample), if any.
        sid: ``ucid`` if the message carries it.
        raw: the whole message.
    """

    seqid: str | None
    timestamp: int | None = None
    sid: str | None = None
    raw: dict[str, Any] = field(default_factory=_no_raw, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Stop:
    """The stream ended.

    Attributes:
        cause: 433 when the caller hung up; ``None`` (no cause sent) on a SIP failure [L/D];
            other values as sent.
        sid: ``ucid`` if the message carries it.
        raw: the whole message.
    """

    cause: int | None = None
    sid: str | None = None
    raw: dict[str, Any] = field(default_factory=_no_raw, repr=False, compare=False)

    @property
    def caller_hung_up(self) -> bool:
        """Whether the cause says the caller hung up (433)."""
        return self.cause == CAUSE_CALLER_HANGUP


@dataclass(frozen=True, slots=True)
class Unknown:
    """A message this version does not model, kept with all its fields.

    Attributes:
        event: its ``event`` (or ``command``) value, if any.
        raw: the whole message.
    """

    event: str | None
    raw: dict[str, Any] = field(default_factory=_no_raw, compare=False)


InboundMessage = Start | Audio | Dtmf | Mark | Stop | Unknown
"""Any message KooKoo sends to the bot."""


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def parse_uui(value: Any) -> dict[str, Any]:
    """Read ``x_headers`` (the ``x-uui`` the app sent) leniently into a dict.

    Accepted [U]: a JSON object string (seen live), an object, a JSON string holding a JSON
    object string, and URL-encoded ``k=v&k2=v2``. A JSON value that is not an object is kept
    under ``"_value"``; text that is neither JSON nor URL-encoded under ``"_raw"``.

    >>> parse_uui('{"sid": "1"}'), parse_uui("a=1&b=x%20y"), parse_uui("plain")
    ({'sid': '1'}, {'a': '1', 'b': 'x y'}, {'_raw': 'plain'})
    """
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if not isinstance(value, str):
        return {"_value": value}
    text = value.strip()
    for _ in range(2):  # a JSON string that itself holds JSON: decode once more
        try:
            decoded = json.loads(text)
        except ValueError:
            break
        if isinstance(decoded, dict):
            return decoded
        if not isinstance(decoded, str):
            return {"_value": decoded}
        text = decoded.strip()
    if "=" in text and not text.startswith(("{", "[")):
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs:
            return dict(pairs)
    return {"_raw": value}


def _load(frame: str | bytes | bytearray | memoryview) -> dict[str, Any]:
    original: str | bytes
    if isinstance(frame, str):
        text = original = frame
    else:
        original = bytes(frame)
        try:
            text = original.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StreamProtocolError(
                f"binary frame is not UTF-8 JSON (byte {exc.start})", original
            ) from None
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise StreamProtocolError(f"frame is not JSON: {exc}", original) from None
    if not isinstance(message, dict):
        raise StreamProtocolError(
            f"frame is JSON {type(message).__name__}, expected an object", original
        )
    return message


def _samples_to_pcm(samples: Any, frame: str | bytes) -> bytes:
    if not isinstance(samples, list):
        raise StreamProtocolError(
            f"data.samples is {type(samples).__name__}, expected a list of integers", frame
        )
    try:
        return pcm16_from_samples(array("h", samples))
    except (TypeError, OverflowError):
        pass
    # Slow path: floats or out-of-range values; clip, and name the first bad one.
    clipped: list[int] = []
    for index, sample in enumerate(samples):
        if isinstance(sample, bool) or not isinstance(sample, int | float):
            raise StreamProtocolError(
                f"data.samples[{index}] is {sample!r}, expected an integer", frame
            )
        clipped.append(max(-32768, min(32767, int(sample))))
    return pcm16_from_samples(array("h", clipped))


def parse_inbound(frame: str | bytes | bytearray | memoryview) -> InboundMessage:
    """Parse one frame KooKoo sent into a typed message (stateless; see :class:`Decoder`).

    Raises:
        StreamProtocolError: the frame is not a JSON object, or an audio packet's
            ``data.samples`` is not a list of numbers. Unknown messages are not errors.
    """
    message = _load(frame)
    original: str | bytes = frame if isinstance(frame, str) else bytes(frame)
    event = _str(message.get("event"))
    kind = _str(message.get("type"))
    sid = _str(message.get("ucid"))
    if event == "start":
        uui = parse_uui(message.get("x_headers"))
        return Start(
            sid=sid if sid is not None else _str(uui.get("sid")),
            caller=_str(message.get("call_id")),
            did=_str(message.get("did")),
            account=_str(message.get("x_account")),
            uui=uui,
            raw=message,
        )
    if event == "media" or (event is None and isinstance(message.get("data"), dict)):
        if kind == "dtmf" or (kind != "media" and "signal" in message):
            digit = next(
                (_str(message[k]) for k in ("signal", "digit", "dtmf") if k in message), None
            )
            if digit is None:
                raise StreamProtocolError("DTMF message has no signal", original)
            return Dtmf(digit=digit, sid=sid, raw=message)
        data = message.get("data")
        if not isinstance(data, dict):
            raise StreamProtocolError(
                f"media message's data is {type(data).__name__}, expected an object", original
            )
        pcm = _samples_to_pcm(data.get("samples"), original)
        rate = _int(data.get("sampleRate")) or SAMPLE_RATE
        raw = dict(message)
        raw["data"] = {k: v for k, v in data.items() if k != "samples"}
        return Audio(pcm=pcm, sample_rate=rate, sid=sid, raw=raw)
    if event == "mark":
        return Mark(
            seqid=_str(message.get("seqid")),
            timestamp=_int(message.get("timestamp")),
            sid=sid,
            raw=message,
        )
    if event == "stop":
        return Stop(cause=_int(message.get("cause")), sid=sid, raw=message)
    return Unknown(event=event or _str(message.get("command")), raw=message)


class Decoder:
    """Parses the frames of one stream in order, dropping the 16 kHz probe packet.

    The first audio packet is dropped when it reports a sample rate other than 8000 ([D/E] it
    reports 16000 / 160 frames on live calls); later packets are kept whatever they report.

    Attributes:
        dropped_probe: whether the first audio packet was dropped as the probe.
    """

    def __init__(self) -> None:
        self._seen_audio = False
        self.dropped_probe = False

    def feed(self, frame: str | bytes | bytearray | memoryview) -> list[InboundMessage]:
        """Parse one frame; returns zero (the probe) or one message.

        Raises:
            StreamProtocolError: see :func:`parse_inbound`.
        """
        message = parse_inbound(frame)
        if isinstance(message, Audio) and not self._seen_audio:
            self._seen_audio = True
            if message.sample_rate != SAMPLE_RATE:
                self.dropped_probe = True
                return []
        return [message]


# -- outbound ---------------------------------------------------------------------------------

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


@dataclass(frozen=True, slots=True)
class OutboundAudio:
    """A packet of bot audio (as :func:`parse_outbound` reads it back).

    Attributes:
        pcm: little-endian PCM16.
        seqid: its ``seqid``, or ``None`` when absent.
        raw: the whole message, samples dropped.
    """

    pcm: bytes
    seqid: str | None
    raw: dict[str, Any] = field(default_factory=_no_raw, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ClearBuffer:
    """The bot asked KooKoo to drop the audio it has queued (barge-in)."""

    raw: dict[str, Any] = field(default_factory=_no_raw, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class CallDisconnect:
    """The bot ended its leg; KooKoo then sends the ``event=Stream`` HTTP request [L]."""

    raw: dict[str, Any] = field(default_factory=_no_raw, repr=False, compare=False)


OutboundMessage = OutboundAudio | ClearBuffer | CallDisconnect | Unknown
"""Any message a bot sends to KooKoo."""


def clear_buffer(extra: Mapping[str, Any] | None = None) -> str:
    """The ``clearBuffer`` command as JSON text: KooKoo drops the bot audio it has queued.

    ``extra`` adds fields, e.g. ``{"sessionId": ucid}`` which some code sends [U].
    """
    return _DUMPS({"command": "clearBuffer", **(extra or {})})


def call_disconnect(extra: Mapping[str, Any] | None = None) -> str:
    """The ``callDisconnect`` command as JSON text: the bot's leg ends, the call goes on.

    ``extra`` adds fields, e.g. ``{"causeCode": 200}`` which some code sends [U].
    """
    return _DUMPS({"command": "callDisconnect", **(extra or {})})


class AudioEncoder:
    """Cuts bot audio (PCM16 at 8 kHz, any length) into 80-sample media packets.

    A remainder shorter than a packet is carried over to the next :meth:`encode` call instead of
    padded ([D] padding clicks); :meth:`clear` drops it (barge-in). Each packet gets a unique
    ``seqid``: ``"<prefix>-<n>"`` with a random prefix per encoder (so a reconnect does not
    repeat one) and a counter.

    Args:
        sid: the call's ``ucid``, copied into each packet.
        seqid_prefix: the seqid prefix; random (8 hex digits) if omitted.
        packet_samples: samples per packet (80 = 10 ms; [E] 400 was also reported to work).
    """

    def __init__(
        self,
        sid: str | None,
        *,
        seqid_prefix: str | None = None,
        packet_samples: int = PACKET_SAMPLES,
    ) -> None:
        if packet_samples <= 0:
            raise ValueError(f"packet_samples must be positive, got {packet_samples}")
        self.sid = sid
        self.seqid_prefix = seqid_prefix if seqid_prefix is not None else secrets.token_hex(4)
        self.packet_samples = packet_samples
        self.sent_packets = 0
        self._pending = b""

    @property
    def pending_samples(self) -> int:
        """Whole samples waiting for the next :meth:`encode` call."""
        return len(self._pending) // 2

    def next_seqid(self) -> str:
        """The seqid the next packet will carry."""
        return f"{self.seqid_prefix}-{self.sent_packets + 1}"

    def encode(self, pcm: bytes) -> list[str]:
        """Return the JSON texts of the whole packets ``pcm`` (after the carried remainder)
        completes; keep the rest. An odd trailing byte is carried too."""
        buffer = self._pending + bytes(pcm)
        size = 2 * self.packet_samples
        whole = len(buffer) - len(buffer) % size
        self._pending = buffer[whole:]
        frames = []
        for start in range(0, whole, size):
            frames.append(self._packet(buffer[start : start + size]))
        return frames

    def encode_one(self, pcm: bytes) -> str | None:
        """Like :meth:`encode` but at most one message: all whole packets' worth of audio in
        a single packet (a multiple of ``packet_samples``), or ``None`` if less than one.

        For callers that must answer each chunk with one message (pipecat's serializer). With
        10 ms chunks at 8 kHz it is exactly one 80-sample packet; larger packets were reported
        to work ([E] 400 samples) but are not the documented shape.
        """
        buffer = self._pending + bytes(pcm)
        size = 2 * self.packet_samples
        whole = len(buffer) - len(buffer) % size
        self._pending = buffer[whole:]
        return self._packet(buffer[:whole]) if whole else None

    def clear(self) -> None:
        """Drop the carried remainder (use with :func:`clear_buffer` on barge-in)."""
        self._pending = b""

    def _packet(self, chunk: bytes) -> str:
        self.sent_packets += 1
        message: dict[str, Any] = {"event": "media", "type": "media"}
        if self.sid is not None:
            message["ucid"] = self.sid
        message["seqid"] = f"{self.seqid_prefix}-{self.sent_packets}"
        message["data"] = {
            "samples": pcm16_samples(chunk).tolist(),
            "bitsPerSample": 16,
            "sampleRate": SAMPLE_RATE,
            "channelCount": 1,
            "numberOfFrames": len(chunk) // 2,
            "type": "data",
        }
        return _DUMPS(message)


def parse_outbound(frame: str | bytes | bytearray | memoryview) -> OutboundMessage:
    """Parse a frame a bot sent (what KooKoo receives); used by the fake KooKoo client.

    Raises:
        StreamProtocolError: not a JSON object, or bad ``data.samples``.
    """
    message = _load(frame)
    original: str | bytes = frame if isinstance(frame, str) else bytes(frame)
    command: Literal["clearBuffer", "callDisconnect"] | str | None = _str(message.get("command"))
    if command == "clearBuffer":
        return ClearBuffer(raw=message)
    if command == "callDisconnect":
        return CallDisconnect(raw=message)
    data = message.get("data")
    if command is None and isinstance(data, dict) and "samples" in data:
        pcm = _samples_to_pcm(data["samples"], original)
        raw = dict(message)
        raw["data"] = {k: v for k, v in data.items() if k != "samples"}
        return OutboundAudio(pcm=pcm, seqid=_str(message.get("seqid")), raw=raw)
    return Unknown(event=command or _str(message.get("event")), raw=message)
