"""The WebSocket side of KooKoo's ``<stream>``: voice bots, tested without a phone.

- :mod:`kookoo.stream.codec` — sans-IO messages in (:class:`Start`, :class:`Audio`,
  :class:`Dtmf`, :class:`Mark`, :class:`Stop`, :class:`Unknown`) and out (:class:`AudioEncoder`,
  :func:`clear_buffer`, :func:`call_disconnect`).
- :mod:`kookoo.stream.audio` — PCM16 <-> μ-law, sample-rate conversion (stdlib only).

The wire format is undocumented in public; every uncertain fact is marked in
:mod:`kookoo.stream.codec`.
"""

from __future__ import annotations

from kookoo.stream.audio import pcm16_to_ulaw, resample, ulaw_to_pcm16
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
    "pcm16_to_ulaw",
    "resample",
    "ulaw_to_pcm16",
]
