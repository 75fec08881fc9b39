"""The fake KooKoo stream client, in-process (no sockets): the whole call sequence."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from kookoo import Call, KooKoo, Response, Stream
from kookoo.state.stores import MemoryStore
from kookoo.stream import (
    AsyncStreamSession,
    Audio,
    CallDisconnect,
    ClearBuffer,
    Dtmf,
    FakeStreamClient,
    OutboundAudio,
    Start,
    Stop,
    StreamBots,
    generate_tone,
    read_recording,
    read_wav,
    take_pending_reply,
)
from kookoo.stream.audio import pcm16_from_samples, pcm16_samples
from kookoo.stream.fake import write_wav

SECRET = "fake-secret"


def make_bots(**kwargs: object) -> tuple[StreamBots, list[object]]:
    seen: list[object] = []
    bots = StreamBots(secret=SECRET, store=MemoryStore(), **kwargs)  # type: ignore[arg-type]

    @bots.handler("echo")
    async def echo(session: AsyncStreamSession) -> None:
        seen.append(session.start)
        async for message in session:
            seen.append(message)
            if isinstance(message, Audio):
                await session.send_audio(message.pcm)
            elif isinstance(message, Dtmf):
                if message.digit == "#":
                    await session.hang_up_bot(next=Response().play_text("Bye").hangup())
                    return
                await session.clear()

    return bots, seen


def test_the_whole_sequence_reaches_the_bot() -> None:
    bots, seen = make_bots()
    fake = FakeStreamClient(sid="3341", uui=bots.uui("3341", "echo", {"lang": "hi"}))
    fake.tone(440, seconds=0.05).dtmf("5").stop(cause=433)
    result = fake.run_bots(bots)
    start = seen[0]
    assert isinstance(start, Start)
    assert (start.sid, start.caller, start.did) == ("3341", "919704665032", "918065740671")
    assert start.uui["lang"] == "hi"
    kinds = [type(m).__name__ for m in seen[1:]]
    # StreamBots read start (to check the token), the probe was dropped.
    assert kinds == ["Audio"] * 5 + ["Dtmf", "Stop"]
    last = seen[-1]
    assert isinstance(last, Stop)
    assert last.caller_hung_up
    assert result.stopped
    assert result.stop_cause == 433
    assert not result.refused
    assert result.close_code == 1000
    # The bot echoed five packets, then cleared.
    assert [type(m) for m in result.received] == [OutboundAudio] * 5 + [ClearBuffer]
    assert result.audio == fake.caller_audio
    assert result.http_params() == {"event": "Hangup", "sid": "3341", "process": "stream"}


@pytest.mark.parametrize("pace_ahead", [None, 0.2])
def test_caller_audio_comes_back_byte_for_byte_with_unique_seqids(
    pace_ahead: float | None,
) -> None:
    bots, _ = make_bots(pace_ahead=pace_ahead)
    fake = FakeStreamClient(sid="1", uui=bots.uui("1", "echo"))
    pcm = pcm16_from_samples([(i * 7919) % 65536 - 32768 for i in range(8000)])  # 1 s
    result = fake.audio(pcm).stop().run_bots(bots)
    assert result.audio == pcm
    assert len(result.seqids) == 100
    assert len(set(result.seqids)) == 100


def test_stop_without_cause() -> None:
    bots, seen = make_bots()
    fake = FakeStreamClient(sid="1", uui=bots.uui("1", "echo"))
    result = fake.stop(cause=None).run_bots(bots)
    assert seen[-1] == Stop(cause=None, sid="1")
    assert json.loads(result.sent[-1]) == {"event": "stop", "type": "text", "ucid": "1"}


def test_bot_disconnect_then_the_http_request_plays_its_reply() -> None:
    bots, _ = make_bots()
    store = MemoryStore()
    bots.store = store
    app = KooKoo("after", store=store)

    @app.on_stream
    def after(event: Stream, call: Call) -> Response | str:
        return take_pending_reply(store, event.sid) or Response().play_text("nothing left").hangup()

    fake = FakeStreamClient(sid="42", uui=bots.uui("42", "echo"))
    # pause() waits (up to 5 s) and ends early when the bot disconnects, like KooKoo.
    fake.tone(seconds=0.02).dtmf("#").pause(5).tone(seconds=1).stop()
    result = fake.run_bots(bots)
    assert result.disconnected_by_bot
    assert not result.stopped  # KooKoo stops the bot leg after callDisconnect
    assert [type(m) for m in result.received] == [OutboundAudio, OutboundAudio, CallDisconnect]
    assert result.http_params(duration=3) == {
        "event": "Stream",
        "sid": "42",
        "status": "completed",
        "callduration": "3",
    }
    status, xml = fake.send_http(app, result, duration=3)
    assert status == 200
    assert xml == str(Response().play_text("Bye").hangup())
    # The reply was taken: a second Stream request gets the fallback.
    assert fake.send_http(app, result)[1] == str(Response().play_text("nothing left").hangup())


@pytest.mark.parametrize(
    ("uui", "reason"),
    [
        (None, "no stream token in x-uui"),
        ("not json at all", "no stream token in x-uui"),
        ("other-call", "stream token was signed for call 9999, not 1"),
        ("expired", "stream token expired"),
        ("forged", "stream token signature does not match"),
    ],
)
def test_refused_sockets_never_reach_the_bot(uui: str | None, reason: str) -> None:
    bots, seen = make_bots()
    now = [1000.0]
    bots.clock = lambda: now[0]
    other = StreamBots(secret="another")
    other.add_handler("echo", bots.handlers["echo"])
    x_uui = {
        "other-call": bots.uui("9999", "echo"),
        "expired": bots.uui("1", "echo"),
        "forged": other.uui("1", "echo"),
    }.get(uui or "", uui)
    if uui == "expired":
        now[0] += bots.token_seconds
    result = FakeStreamClient(sid="1", uui=x_uui).tone(seconds=0.1).stop().run_bots(bots)
    assert result.refused
    assert result.close_code == 1008
    assert result.close_reason is not None
    assert result.close_reason.startswith(reason)
    assert seen == []
    assert result.received == []


def test_unknown_handler_is_refused() -> None:
    bots, _ = make_bots()
    other = StreamBots(secret=SECRET)
    other.add_handler("nobody", bots.handlers["echo"])
    result = FakeStreamClient(sid="1", uui=other.uui("1", "nobody")).stop().run_bots(bots)
    assert result.close_reason == "no bot handler named 'nobody'"


def test_wav_input(tmp_path: Path) -> None:
    tone = generate_tone(300, seconds=0.1)
    path = tmp_path / "tone.wav"
    write_wav(path, tone)
    assert read_wav(path) == tone
    stereo = tmp_path / "stereo16k.wav"
    import wave

    with wave.open(str(stereo), "wb") as target:
        target.setnchannels(2)
        target.setsampwidth(2)
        target.setframerate(16000)
        target.writeframes(pcm16_from_samples([100, 300] * 320))
    assert pcm16_samples(read_wav(stereo)).tolist() == [200] * 160
    bots, _ = make_bots()
    result = FakeStreamClient(sid="1", uui=bots.uui("1", "echo")).wav(path).stop().run_bots(bots)
    assert result.audio == tone


def test_checked_in_wav_round_trips() -> None:
    path = Path(__file__).parent / "data" / "caller-1s.wav"
    pcm = read_wav(path)
    assert len(pcm) == 16000
    bots, _ = make_bots()
    result = FakeStreamClient(sid="1", uui=bots.uui("1", "echo")).wav(path).stop().run_bots(bots)
    assert result.audio == pcm


def test_read_wav_refuses_8_bit(tmp_path: Path) -> None:
    import wave

    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(1)
        target.setframerate(8000)
        target.writeframes(b"\x80" * 80)
    with pytest.raises(ValueError, match="expected 16-bit PCM WAV, got 8-bit"):
        read_wav(path)


def test_steps_after_stop_are_refused() -> None:
    fake = FakeStreamClient().stop()
    with pytest.raises(RuntimeError, match="already ends with stop"):
        fake.dtmf("1")


def test_record_a_call_and_replay_it_as_a_test(tmp_path: Path) -> None:
    bots, first = make_bots(record_dir=tmp_path)
    fake = FakeStreamClient(sid="77", uui=bots.uui("77", "echo"))
    original = fake.tone(seconds=0.03).dtmf("3").stop().run_bots(bots)
    recording = read_recording(tmp_path / "77.jsonl")
    directions = [r.direction for r in recording]
    # start, probe, 3 audio, DTMF, stop in; 3 echoed packets and a clearBuffer out.
    assert (directions.count("in"), directions.count("out")) == (7, 4)
    # Replaying the recorded caller side gives the bot the same messages and the same replies.
    bots2, second = make_bots()
    replayed = FakeStreamClient.replay(recording).run_bots(bots2)
    assert second == first
    assert [type(m) for m in replayed.received] == [type(m) for m in original.received]
    assert replayed.audio == original.audio
    assert replayed.sid == "77"


def test_echo_example_http_side_in_the_simulator() -> None:
    from test_examples import load_example

    from kookoo.stream import set_pending_reply
    from kookoo.testing import Simulator

    module = load_example("echo_bot")
    module.app.store = MemoryStore()
    sim = Simulator(module.app, seed=1)
    # No reply left by the bot: goodbye.
    call = sim.call().end_stream(duration=4)
    call.assert_heard("You are talking to the echo bot. Press hash to finish.", whole_call=True)
    call.assert_heard("Goodbye")
    assert call.ended
    assert all(t.findings == [] and t.app_errors == [] for t in call.turns)
    # The bot left a reply: it is played once.
    call = sim.call()
    set_pending_reply(module.app.store, call.sid, Response().play_text("From the bot").hangup())
    call.end_stream()
    call.assert_heard("From the bot")
    assert call.ended


def test_until_waits_for_the_bot_and_gives_up_after_its_timeout() -> None:
    bots, _ = make_bots()
    fake = FakeStreamClient(sid="1", uui=bots.uui("1", "echo"))
    fake.tone(seconds=0.05).until(lambda r: len(r.audio) >= 800).dtmf("1")
    fake.until(lambda r: r.clears == 1).stop()
    result = fake.run_bots(bots)
    # The DTMF was sent only after all five echoes were back, so the clear comes last.
    assert [type(m) for m in result.received] == [OutboundAudio] * 5 + [ClearBuffer]

    started = time.monotonic()
    never = FakeStreamClient(sid="1", uui=bots.uui("1", "echo"))
    never.until(lambda r: False, timeout=0.05).stop()
    assert never.run_bots(bots).stopped
    assert time.monotonic() - started < 5


def test_a_failing_bot_is_logged_with_the_sid_and_closes_1011(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bots = StreamBots(secret=SECRET)

    @bots.handler("broken")
    async def broken(session: AsyncStreamSession) -> None:
        raise ZeroDivisionError("boom")

    fake = FakeStreamClient(sid="5", uui=bots.uui("5", "broken")).tone(seconds=0.02).stop()
    with caplog.at_level(logging.ERROR, logger="kookoo.stream"):
        result = fake.run_bots(bots)
    assert (result.close_code, result.close_reason) == (1011, "bot error")
    assert not result.refused
    assert "stream 5: bot 'broken' failed" in caplog.text
    assert "ZeroDivisionError: boom" in caplog.text


def test_handler_registration_errors() -> None:
    bots, _ = make_bots()
    with pytest.raises(ValueError, match="a bot handler named 'echo' is already registered"):
        bots.add_handler("echo", bots.handlers["echo"])
    with pytest.raises(ValueError, match="non-empty name"):
        bots.add_handler("", bots.handlers["echo"])
    with pytest.raises(ValueError, match=r"no bot handler named 'nope'; known: \['echo'\]"):
        bots.uui("1", "nope")
    with pytest.raises(ValueError, match="non-empty secret"):
        StreamBots(secret="")
