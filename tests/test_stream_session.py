"""Stream sessions (sans-IO and async), the JSONL recorder, and pending replies in the store."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest

from kookoo import Call, Response
from kookoo.protocol.phone import PhoneNumber
from kookoo.state.stores import ConflictError, MemoryStore
from kookoo.stream import (
    REPLIES_NAMESPACE,
    AsyncStreamSession,
    Audio,
    CallDisconnect,
    ClearBuffer,
    Decoder,
    Dtmf,
    JsonlRecorder,
    OutboundAudio,
    RecordedFrame,
    Start,
    Stop,
    StreamSession,
    parse_outbound,
    pending_reply,
    read_recording,
    set_pending_reply,
    take_pending_reply,
)
from kookoo.stream.audio import pcm16_from_samples

START = '{"event":"start","ucid":"3341","call_id":"0987","did":"0801","x_headers":"{}"}'
PROBE = json.dumps(
    {"event": "media", "type": "media", "data": {"samples": [0] * 160, "sampleRate": 16000}}
)


def media(value: int) -> str:
    return json.dumps(
        {"event": "media", "type": "media", "data": {"samples": [value] * 80, "sampleRate": 8000}}
    )


class Pipe:
    """A scripted transport: frames to hand out, frames sent."""

    def __init__(self, frames: list[str | bytes]) -> None:
        self.frames = list(frames)
        self.sent: list[str] = []

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def receive(self) -> str | bytes | None:
        return self.frames.pop(0) if self.frames else None


def test_sans_io_session() -> None:
    session = StreamSession(seqid_prefix="b")
    assert session.sid is None
    (start,) = session.receive(START)
    assert isinstance(start, Start)
    assert session.sid == "3341"
    assert session.start_frame == START
    assert session.receive(PROBE) == []
    (audio,) = session.receive(media(5))
    assert isinstance(audio, Audio)
    frames = session.send_audio(audio.pcm + audio.pcm[:10])
    assert [json.loads(f)["ucid"] for f in frames] == ["3341"]
    assert session.encoder.pending_samples == 5
    assert session.clear() == '{"command":"clearBuffer"}'
    assert session.encoder.pending_samples == 0
    (stop,) = session.receive('{"event":"stop","cause":433}')
    assert session.stop == stop == Stop(cause=433)
    assert session.hang_up_bot() == '{"command":"callDisconnect"}'
    assert session.hung_up


def test_bad_frames_are_counted_and_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    session = StreamSession()
    session.receive(START)
    with caplog.at_level(logging.WARNING, logger="kookoo.stream"):
        assert session.receive("garbage") == []
    assert session.bad_frames == 1
    assert "stream 3341: skipped a frame: frame is not JSON" in caplog.text
    assert len(session.receive(media(1))) == 1


def test_async_session_iterates_until_stop() -> None:
    pipe = Pipe(
        [
            START,
            PROBE,
            media(1),
            '{"event":"media","type":"dtmf","signal":"5"}',
            '{"event":"stop","cause":433}',
            media(2),
        ]
    )

    async def run() -> list[object]:
        session = AsyncStreamSession(pipe, seqid_prefix="s")
        seen: list[object] = []
        async for message in session:
            seen.append(message)
            if isinstance(message, Audio):
                await session.send_audio(message.pcm)
            elif isinstance(message, Dtmf):
                await session.clear()
        assert session.closed
        assert await session.receive() is None
        return seen

    seen = asyncio.run(run())
    assert [type(m).__name__ for m in seen] == ["Start", "Audio", "Dtmf", "Stop"]
    assert [type(parse_outbound(f)) for f in pipe.sent] == [OutboundAudio, ClearBuffer]
    assert pipe.frames == [media(2)]  # nothing read after stop


def test_async_session_ends_when_the_socket_closes() -> None:
    async def run() -> tuple[Start | None, list[object]]:
        session = AsyncStreamSession(Pipe(['{"event":"connected"}', START]))
        start = await session.receive_start()
        return start, [m async for m in session]

    start, rest = asyncio.run(run())
    assert start is not None
    assert start.sid == "3341"
    assert rest == []
    assert asyncio.run(AsyncStreamSession(Pipe([])).receive_start()) is None


def test_hang_up_bot_stores_the_next_reply_before_disconnecting() -> None:
    store = MemoryStore()
    pipe = Pipe([START])
    reply = Response().play_text("Transferring you").hangup()

    async def run() -> None:
        session = AsyncStreamSession(pipe, store=store)
        await session.receive_start()
        await session.hang_up_bot(next=reply)

    asyncio.run(run())
    assert [type(parse_outbound(f)) for f in pipe.sent] == [CallDisconnect]
    assert pending_reply(store, "3341") == str(reply)


def test_hang_up_bot_needs_a_store_and_a_sid() -> None:
    async def run(session: AsyncStreamSession) -> None:
        await session.hang_up_bot(next="<response/>")

    with pytest.raises(RuntimeError, match="needs a session with a call store"):
        asyncio.run(run(AsyncStreamSession(Pipe([]))))
    with pytest.raises(RuntimeError, match="before start"):
        asyncio.run(run(AsyncStreamSession(Pipe([]), store=MemoryStore())))
    pipe = Pipe([])
    asyncio.run(AsyncStreamSession(pipe).hang_up_bot())
    assert pipe.sent == ['{"command":"callDisconnect"}']


def test_a_pending_reply_leaves_the_call_alone_and_is_taken_once() -> None:
    store = MemoryStore()
    # Call parses numbers given as text (documented); its fields are typed PhoneNumber only.
    call = Call("1", caller="0987")  # type: ignore[arg-type]
    call.state["lang"] = "hi"
    store.save(call)
    assert pending_reply(store, "1") is None
    assert pending_reply(store, "nope") is None
    assert take_pending_reply(store, "nope") is None
    set_pending_reply(store, "1", "<response><hangup/></response>")
    loaded = store.load("1")
    assert loaded is not None
    assert (loaded.version, loaded.state) == (1, {"lang": "hi"})  # the call is not touched
    assert loaded.caller == PhoneNumber.parse("0987")
    assert pending_reply(store, "1") == "<response><hangup/></response>"  # a read leaves it
    set_pending_reply(store, "1", "<response><playtext>Bye</playtext></response>")  # replaced
    assert take_pending_reply(store, "1") == "<response><playtext>Bye</playtext></response>"
    assert take_pending_reply(store, "1") is None
    assert pending_reply(store, "1") is None


def test_set_pending_reply_creates_the_call_and_checks_types() -> None:
    store = MemoryStore()
    set_pending_reply(store, "new", Response().hangup())
    made = store.load("new")  # an app that keeps state takes the Stream request as a call's
    assert made is not None
    assert (made.version, made.state) == (1, {})
    set_pending_reply(store, "new", "<response/>")
    assert store.load("new").version == 1  # type: ignore[union-attr]
    assert pending_reply(store, "new") == "<response/>"
    with pytest.raises(TypeError, match="reply must be a Response or an XML str, got int"):
        set_pending_reply(store, "new", 5)  # type: ignore[arg-type]


def test_a_pending_reply_lives_as_long_as_a_live_call() -> None:
    now = [1_750_000_000.0]
    store = MemoryStore(ttl_seconds=600, clock=lambda: now[0])
    set_pending_reply(store, "1", "<response/>")
    now[0] += 599
    assert pending_reply(store, "1") == "<response/>"
    now[0] += 1
    assert take_pending_reply(store, "1") is None


class RacingStore(MemoryStore):
    """Another writer changes the reply between our read and our write, ``races`` times."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def read_value(self, namespace: str, key: str) -> tuple[int, str | None]:
        read = super().read_value(namespace, key)
        if self.races > 0:
            self.races -= 1
            rival = f"<rival n='{self.races}'/>"
            races, self.races = self.races, 0  # the rival's own update does not race
            self.update(namespace, key, lambda _: rival, ttl_seconds=60)
            self.races = races
        return read


def test_set_pending_reply_retries_a_lost_race() -> None:
    store = RacingStore(races=2)
    set_pending_reply(store, "1", "<response/>")
    assert store.races == 0
    assert store.get(REPLIES_NAMESPACE, "1") == "<response/>"


def test_set_pending_reply_gives_up_after_attempts() -> None:
    with pytest.raises(ConflictError):
        set_pending_reply(RacingStore(races=5), "1", "<response/>", attempts=3)


def test_take_pending_reply_gets_what_a_racing_bot_wrote_last() -> None:
    store = RacingStore(races=0)
    set_pending_reply(store, "1", "<first/>")
    store.races = 1  # the bot replaces the reply while the HTTP side takes it
    assert take_pending_reply(store, "1") == "<rival n='0'/>"
    assert pending_reply(store, "1") is None


def test_recorder_round_trip(tmp_path: Path) -> None:
    ticks = iter([10.0, 10.5, 11.25])
    path = tmp_path / "call.jsonl"
    with JsonlRecorder(path, clock=lambda: next(ticks)) as recorder:
        session = StreamSession(seqid_prefix="r", recorder=recorder)
        session.receive(START)
        session.receive(b'{"event":"stop"}')
        session.clear()
    assert read_recording(path) == [
        RecordedFrame(0.0, "in", START),
        RecordedFrame(0.5, "in", b'{"event":"stop"}'),
        RecordedFrame(1.25, "out", '{"command":"clearBuffer"}'),
    ]


def test_replayed_recording_gives_the_same_messages(tmp_path: Path) -> None:
    frames = [
        START,
        PROBE,
        media(3),
        '{"event":"media","type":"dtmf","signal":"#"}',
        '{"event":"stop","cause":433}',
    ]
    buffer = io.StringIO()
    recorder = JsonlRecorder(buffer)
    live = StreamSession(recorder=recorder)
    live_messages = [m for f in frames for m in live.receive(f)]
    recorder.close()
    replay = Decoder()
    recorded = read_recording(buffer.getvalue().splitlines())
    assert [m for r in recorded for m in replay.feed(r.frame)] == live_messages
    assert live_messages[1] == Audio(pcm=pcm16_from_samples([3] * 80))


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("nope", "line 2 is not a recorded frame"),
        ('{"at":0,"dir":"sideways","text":"x"}', "dir is 'sideways'"),
        ('{"at":0,"dir":"in"}', "line 2 is not a recorded frame"),
        ('{"at":0,"dir":"in","b64":"@@"}', "line 2 is not a recorded frame"),
    ],
)
def test_bad_recordings(line: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        read_recording(["", line])


def test_paced_audio_stays_a_bounded_time_ahead_and_stops_on_clear() -> None:
    pipe = Pipe([])
    sleeps: list[float] = []
    now = [100.0]

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        now[0] += seconds
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would

    async def run() -> None:
        session = AsyncStreamSession(pipe, pace_ahead=0.05, clock=lambda: now[0], sleep=fake_sleep)
        await session.send_audio(pcm16_from_samples([1] * 800))  # 100 ms
        # 5 packets go out at once (50 ms ahead), then one per 10 ms of playing.
        assert sleeps == [0.01] * 5
        assert len(pipe.sent) == 10

        # A clear() from another task stops a paced send of 1 s of audio.
        talker = asyncio.create_task(session.send_audio(pcm16_from_samples([2] * 8000)))
        while len(pipe.sent) < 20:
            await asyncio.sleep(0)
        await session.clear()
        await talker

    asyncio.run(run())
    kinds = [type(parse_outbound(f)) for f in pipe.sent]
    assert kinds[-1] is ClearBuffer
    assert kinds.count(OutboundAudio) <= 22  # most of the second utterance was never sent


def test_pace_ahead_must_be_positive() -> None:
    with pytest.raises(ValueError, match="pace_ahead must be positive"):
        AsyncStreamSession(Pipe([]), pace_ahead=0)
