"""The sans-IO stream codec against every message shape in stream.md, plus tolerance cases."""

from __future__ import annotations

import json
import warnings
from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kookoo.stream import (
    Audio,
    AudioEncoder,
    CallDisconnect,
    ClearBuffer,
    Decoder,
    Dtmf,
    Mark,
    OutboundAudio,
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
from kookoo.stream.audio import (
    pcm16_from_samples,
    pcm16_samples,
    pcm16_to_ulaw,
    resample,
    ulaw_to_pcm16,
)

# The live `start` sample from stream.md, verbatim.
START = (
    '{"event":"start","type":"text","ucid":"21275806501458167","did":"918065740671",'
    '"call_id":"919704665032","x_account":"acme","x_headers":"{\\"sid\\":\\"21275806501458167\\",'
    '\\"k\\":\\"v\\"}","media":{"encoding":"PCMU","sampleRate":8000,"channels":1,'
    '"bitsPerSample":16}}'
)


def media(samples: list[int], rate: int = 8000, **extra: Any) -> str:
    return json.dumps(
        {
            "event": "media",
            "type": "media",
            "ucid": "21275806501458167",
            "data": {
                "samples": samples,
                "bitsPerSample": 16,
                "sampleRate": rate,
                "channelCount": 1,
                "numberOfFrames": len(samples),
                "type": "data",
            },
            **extra,
        }
    )


def test_start_sample() -> None:
    message = parse_inbound(START)
    assert message == Start(
        sid="21275806501458167",
        caller="919704665032",
        did="918065740671",
        account="acme",
        uui={"sid": "21275806501458167", "k": "v"},
    )
    assert isinstance(message, Start)
    assert message.raw["media"] == {
        "encoding": "PCMU",
        "sampleRate": 8000,
        "channels": 1,
        "bitsPerSample": 16,
    }


def test_start_as_binary_frame() -> None:
    assert parse_inbound(START.encode()) == parse_inbound(START)


@pytest.mark.parametrize(
    ("x_headers", "expected"),
    [
        ('{"a":"1"}', {"a": "1"}),
        ({"a": "1"}, {"a": "1"}),
        ("a=1&b=two%20words", {"a": "1", "b": "two words"}),
        (json.dumps('{"a":"1"}'), {"a": "1"}),  # JSON string inside a JSON string
        ("[1,2]", {"_value": [1, 2]}),
        ("just text", {"_raw": "just text"}),
        ("{broken", {"_raw": "{broken"}),
        ("", {}),
        (None, {}),
        (7, {"_value": 7}),
    ],
)
def test_x_headers_shapes(x_headers: Any, expected: dict[str, Any]) -> None:
    assert parse_uui(x_headers) == expected
    frame = json.dumps({"event": "start", "ucid": "1", "x_headers": x_headers})
    message = parse_inbound(frame)
    assert isinstance(message, Start)
    assert message.uui == expected


def test_start_without_ucid_takes_sid_from_uui_and_keeps_unknown_fields() -> None:
    message = parse_inbound('{"event":"start","x_headers":"{\\"sid\\":\\"77\\"}","new":[1]}')
    assert isinstance(message, Start)
    assert message.sid == "77"
    assert message.caller is None
    assert message.raw["new"] == [1]


def test_caller_audio_is_pcm16_little_endian() -> None:
    samples = [8, -8, 32767, -32768] * 20
    message = parse_inbound(media(samples))
    assert message == Audio(
        pcm=pcm16_from_samples(samples), sample_rate=8000, sid="21275806501458167"
    )
    assert isinstance(message, Audio)
    assert message.pcm[:4] == b"\x08\x00\xf8\xff"
    assert message.samples == 80
    assert "samples" not in message.raw["data"]
    assert message.raw["data"]["numberOfFrames"] == 80


def test_out_of_range_and_float_samples_are_clipped() -> None:
    message = parse_inbound(media([40000, -40000, 1.0, 5]))  # type: ignore[list-item]
    assert isinstance(message, Audio)
    assert pcm16_samples(message.pcm).tolist() == [32767, -32768, 1, 5]


@pytest.mark.parametrize(
    ("samples", "error"),
    [
        ("AAAA", "data.samples is str, expected a list of integers"),
        ([1, "x"], "data.samples[1] is 'x', expected an integer"),
        ([1, None], "data.samples[1] is None, expected an integer"),
    ],
)
def test_bad_samples_name_the_field(samples: Any, error: str) -> None:
    with pytest.raises(StreamProtocolError, match=error.replace("[", r"\[").replace("]", r"\]")):
        parse_inbound(media(samples))


def test_probe_packet_is_dropped_once() -> None:
    decoder = Decoder()
    assert decoder.feed(START) == [parse_inbound(START)]
    assert decoder.feed(media([0] * 160, rate=16000)) == []
    assert decoder.dropped_probe
    # A later 16 kHz packet is kept and reports its rate.
    (later,) = decoder.feed(media([1] * 160, rate=16000))
    assert isinstance(later, Audio)
    assert later.sample_rate == 16000
    (normal,) = decoder.feed(media([2] * 80))
    assert isinstance(normal, Audio)
    assert normal.samples == 80


def test_first_packet_at_8k_is_kept() -> None:
    decoder = Decoder()
    (first,) = decoder.feed(media([3] * 80))
    assert isinstance(first, Audio)
    assert not decoder.dropped_probe


@pytest.mark.parametrize("key", ["signal", "digit", "dtmf"])
def test_dtmf(key: str) -> None:
    frame = json.dumps({"event": "media", "type": "dtmf", "ucid": "9", key: "5"})
    assert parse_inbound(frame) == Dtmf(digit="5", sid="9")


def test_dtmf_with_numeric_signal_and_missing_signal() -> None:
    assert parse_inbound('{"event":"media","type":"dtmf","signal":7}') == Dtmf(digit="7")
    with pytest.raises(StreamProtocolError, match="DTMF message has no signal"):
        parse_inbound('{"event":"media","type":"dtmf"}')


def test_mark() -> None:
    frame = (
        '{"event":"mark","type":"ack","ucid":"1","seqid":"utt-7-00042","timestamp":1761560089206}'
    )
    assert parse_inbound(frame) == Mark(seqid="utt-7-00042", timestamp=1761560089206, sid="1")
    assert parse_inbound('{"event":"mark","seqid":42,"timestamp":"12"}') == Mark(
        seqid="42", timestamp=12
    )


@pytest.mark.parametrize(
    ("cause", "expected", "hung_up"),
    [(433, 433, True), ("433", 433, True), (None, None, False), ("odd", None, False)],
)
def test_stop(cause: Any, expected: int | None, hung_up: bool) -> None:
    fields: dict[str, Any] = {"event": "stop", "type": "text", "ucid": "1", "did": "0801"}
    if cause is not None:
        fields["cause"] = cause
    message = parse_inbound(json.dumps(fields))
    assert message == Stop(cause=expected, sid="1")
    assert isinstance(message, Stop)
    assert message.caller_hung_up is hung_up
    assert message.raw["did"] == "0801"


@pytest.mark.parametrize(
    ("frame", "event"),
    [
        ('{"event":"connected","protocol":"Call"}', "connected"),
        ('{"something":"else"}', None),
        ('{"command":"ping"}', "ping"),
    ],
)
def test_unknown_messages_are_kept(frame: str, event: str | None) -> None:
    assert parse_inbound(frame) == Unknown(event=event, raw=json.loads(frame))


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "frame is not JSON"),
        ("[1, 2]", "frame is JSON list, expected an object"),
        (b"\xff\xfe", "binary frame is not UTF-8 JSON"),
        ('{"event":"media","data":"x"}', "media message's data is str, expected an object"),
    ],
)
def test_bad_frames(frame: str | bytes, error: str) -> None:
    with pytest.raises(StreamProtocolError, match=error) as info:
        parse_inbound(frame)
    assert info.value.frame == frame


def test_encoder_packets_match_the_documented_shape() -> None:
    encoder = AudioEncoder("21275806501458167", seqid_prefix="utt")
    (frame,) = encoder.encode(pcm16_from_samples(list(range(80))))
    assert json.loads(frame) == {
        "event": "media",
        "type": "media",
        "ucid": "21275806501458167",
        "seqid": "utt-1",
        "data": {
            "samples": list(range(80)),
            "bitsPerSample": 16,
            "sampleRate": 8000,
            "channelCount": 1,
            "numberOfFrames": 80,
            "type": "data",
        },
    }


def test_encoder_carries_remainders_and_never_pads() -> None:
    encoder = AudioEncoder("1", seqid_prefix="p")
    source = pcm16_from_samples([(i * 37) % 65536 - 32768 for i in range(1000)])
    frames: list[str] = []
    # Odd chunk sizes, including a split inside one sample.
    for start, end in [(0, 1), (1, 159), (159, 161), (161, 1001), (1001, 2000)]:
        frames += encoder.encode(source[start:end])
    assert encoder.pending_samples == 1000 - 12 * 80
    decoded = [parse_outbound(f) for f in frames]
    assert all(isinstance(m, OutboundAudio) and len(m.pcm) == 160 for m in decoded)
    assert b"".join(m.pcm for m in decoded if isinstance(m, OutboundAudio)) == source[: 12 * 160]
    assert [m.seqid for m in decoded if isinstance(m, OutboundAudio)] == [
        f"p-{n}" for n in range(1, 13)
    ]
    encoder.clear()
    assert encoder.pending_samples == 0
    assert encoder.encode(b"") == []
    assert encoder.next_seqid() == "p-13"


def test_default_seqid_prefixes_differ_between_encoders() -> None:
    assert AudioEncoder("1").seqid_prefix != AudioEncoder("1").seqid_prefix


@given(st.lists(st.binary(max_size=500), max_size=12))
def test_encoder_round_trip(chunks: list[bytes]) -> None:
    encoder = AudioEncoder(None, seqid_prefix="h")
    frames = [f for chunk in chunks for f in encoder.encode(chunk)]
    audio = b"".join(chunks)
    whole = len(audio) - len(audio) % 160
    out = [parse_outbound(f) for f in frames]
    assert b"".join(m.pcm for m in out if isinstance(m, OutboundAudio)) == audio[:whole]
    seqids = [m.seqid for m in out if isinstance(m, OutboundAudio)]
    assert len(set(seqids)) == len(seqids) == len(frames)
    assert all("ucid" not in json.loads(f) for f in frames)


@given(st.lists(st.integers(-32768, 32767), max_size=400))
def test_inbound_audio_round_trip(samples: list[int]) -> None:
    message = parse_inbound(media(samples))
    assert isinstance(message, Audio)
    assert pcm16_samples(message.pcm).tolist() == samples


def test_commands() -> None:
    assert clear_buffer() == '{"command":"clearBuffer"}'
    assert call_disconnect() == '{"command":"callDisconnect"}'
    assert clear_buffer({"sessionId": "1"}) == '{"command":"clearBuffer","sessionId":"1"}'
    assert call_disconnect({"causeCode": 200}) == '{"command":"callDisconnect","causeCode":200}'
    assert parse_outbound(clear_buffer()) == ClearBuffer()
    assert parse_outbound(call_disconnect()) == CallDisconnect()
    assert parse_outbound('{"command":"sendDigits"}') == Unknown(
        event="sendDigits", raw={"command": "sendDigits"}
    )


def test_minimal_outbound_packet_without_seqid() -> None:
    message = parse_outbound('{"data":{"samples":[1,2]}}')
    assert message == OutboundAudio(pcm=pcm16_from_samples([1, 2]), seqid=None)


# -- audio helpers ---------------------------------------------------------------------------


def test_ulaw_known_values() -> None:
    assert pcm16_to_ulaw(pcm16_from_samples([0, 32767, -32768, -1])) == b"\xff\x80\x00\x7e"
    assert pcm16_samples(ulaw_to_pcm16(b"\xff\x7f\x80\x00")).tolist() == [0, 0, 32124, -32124]


def test_ulaw_round_trip_all_codes() -> None:
    codes = bytes(range(256))
    again = pcm16_to_ulaw(ulaw_to_pcm16(codes))
    # 0x7F is "negative zero"; it decodes to 0, which encodes as 0xFF.
    assert again == codes.replace(b"\x7f", b"\xff")


def test_ulaw_matches_audioop_where_it_exists() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    pcm = pcm16_from_samples(list(range(-32768, 32768, 7)))
    assert pcm16_to_ulaw(pcm) == audioop.lin2ulaw(pcm, 2)
    assert ulaw_to_pcm16(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)


def test_pcm_helpers_refuse_odd_lengths() -> None:
    with pytest.raises(ValueError, match="even number of bytes, got 3"):
        pcm16_to_ulaw(b"abc")
    with pytest.raises(ValueError, match="must be positive"):
        resample(b"", 0, 8000)


def test_resample() -> None:
    up = resample(pcm16_from_samples([0, 100, 200, 300]), 8000, 16000)
    assert pcm16_samples(up).tolist() == [0, 50, 100, 150, 200, 250, 300, 300]
    down = resample(pcm16_from_samples([0, 100, 200, 300]), 16000, 8000)
    assert pcm16_samples(down).tolist() == [50, 250]
    assert resample(b"\x01\x00", 8000, 8000) == b"\x01\x00"
    odd = resample(pcm16_from_samples([0] * 441), 44100, 8000)
    assert len(odd) == 2 * 80
    assert array("h", resample(pcm16_from_samples([-32768, -32768]), 16000, 8000)) == array(
        "h", [-32768]
    )
