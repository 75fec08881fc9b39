"""The WebSocket side of KooKoo's ``<stream>``: voice bots, tested without a phone.

- :mod:`kookoo.stream.codec` — sans-IO messages in (:class:`Start`, :class:`Audio`,
  :class:`Dtmf`, :class:`Mark`, :class:`Stop`, :class:`Unknown`) and out (:class:`AudioEncoder`,
  :func:`clear_buffer`, :func:`call_disconnect`).
- :mod:`kookoo.stream.audio` — PCM16 <-> μ-law, sample-rate conversion (stdlib only).
- :mod:`kookoo.stream.session` — :class:`StreamSession` (sans-IO) and
  :class:`AsyncStreamSession` for bot authors; :class:`JsonlRecorder` to save a call.
- :mod:`kookoo.stream.bots` — :class:`StreamBots`: named bot handlers behind signed tokens
  (:mod:`kookoo.stream.tokens`).
- :mod:`kookoo.stream.replies` — :func:`take_pending_reply`: the XML a bot left for
  ``event=Stream``.
- :mod:`kookoo.stream.fake` — :class:`FakeStreamClient`, a fake KooKoo media server for tests.
- Transports (extras): :mod:`kookoo.stream.asgi` (``kookoo[asgi]``) and
  :mod:`kookoo.stream.server` (``kookoo[websockets]``, also ``kookoo stream-serve``).
- :mod:`kookoo.cli.stream` — ``kookoo stream-call`` (play a stream to a running bot from WAV
  files, then KooKoo's next HTTP request to the app) and ``kookoo stream-serve``.

The wire format is undocumented in public; every uncertain fact is marked in
:mod:`kookoo.stream.codec`.
"""

from __future__ import annotations

from kookoo.stream.audio import pcm16_to_ulaw, resample, ulaw_to_pcm16
from kookoo.stream.bots import BotHandler, StreamBots, StreamRefused
from kookoo.stream.codec import (
    CAUSE_CALLER_HANGUP,
    PACKET_SAMPLES,
    SAMPLE_RATE,
    Audio,
    AudioEncoder,
    CallDisconnect,
    ClearBuffer,
    Decoder,
    Dtmf,
    InboundMessage,
    Mark,
    OutboundAudio,
    OutboundMessage,
    Start,
    Stop,
    StreamProtocolError,
    Unknown,
    call_disconnect,
    clear_buffer,
    parse_inbound,
    parse_outbound,
    parse_uui,
)
from kookoo.stream.fake import FakeStreamClient, FakeStreamResult, generate_tone, read_wav
from kookoo.stream.replies import (
    REPLIES_NAMESPACE,
    pending_reply,
    set_pending_reply,
    take_pending_reply,
)
from kookoo.stream.session import (
    AsyncStreamSession,
    JsonlRecorder,
    RecordedFrame,
    StreamSession,
    StreamTransport,
    read_recording,
)
from kookoo.stream.tokens import (
    TOKEN_KEY,
    StreamToken,
    StreamTokenError,
    sign_stream_token,
    stream_uui,
    verify_stream_token,
)

__all__ = [
    "CAUSE_CALLER_HANGUP",
    "PACKET_SAMPLES",
    "REPLIES_NAMESPACE",
    "SAMPLE_RATE",
    "TOKEN_KEY",
    "AsyncStreamSession",
    "Audio",
    "AudioEncoder",
    "BotHandler",
    "CallDisconnect",
    "ClearBuffer",
    "Decoder",
    "Dtmf",
    "FakeStreamClient",
    "FakeStreamResult",
    "InboundMessage",
    "JsonlRecorder",
    "Mark",
    "OutboundAudio",
    "OutboundMessage",
    "RecordedFrame",
    "Start",
    "Stop",
    "StreamBots",
    "StreamProtocolError",
    "StreamRefused",
    "StreamSession",
    "StreamToken",
    "StreamTokenError",
    "StreamTransport",
    "Unknown",
    "call_disconnect",
    "clear_buffer",
    "generate_tone",
    "parse_inbound",
    "parse_outbound",
    "parse_uui",
    "pcm16_to_ulaw",
    "pending_reply",
    "read_recording",
    "read_wav",
    "resample",
    "set_pending_reply",
    "sign_stream_token",
    "stream_uui",
    "take_pending_reply",
    "ulaw_to_pcm16",
    "verify_stream_token",
]
