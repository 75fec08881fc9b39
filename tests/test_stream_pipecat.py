"""The pipecat FrameSerializer: unit cases, and a pipecat pipeline end to end with the fake
KooKoo client over a loopback socket. Skipped without ``kookoo[pipecat]``, except in CI
(``KOOKOO_REQUIRE_PIPECAT=1``, set by .ci/run), where a missing pipecat fails the run."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import warnings
from typing import Any

import pytest

with warnings.catch_warnings():
    # pipecat 1.14 imports the deprecated audioop module (kookoo's own code does not).
    warnings.simplefilter("ignore", DeprecationWarning)
    if os.environ.get("KOOKOO_REQUIRE_PIPECAT") == "1":
        import pipecat  # noqa: F401  # CI installs kookoo[pipecat]: fail, do not skip
    else:
        pytest.importorskip("pipecat")
    from pipecat.audio.dtmf.types import KeypadEntry
    from pipecat.frames.frames import (
        CancelFrame,
        EndFrame,
        Frame,
        InputAudioRawFrame,
        InputDTMFFrame,
        InterruptionFrame,
        OutputAudioRawFrame,
    )

from kookoo.stream import (
    CallDisconnect,
    ClearBuffer,
    FakeStreamClient,
    OutboundAudio,
    parse_outbound,
)
from kookoo.stream.audio import pcm16_from_samples
from kookoo.stream.pipecat import PIPECAT_VERSION, KooKooFrameSerializer

START = '{"event":"start","ucid":"3341","call_id":"0987","did":"0801","x_headers":"{\\"a\\":1}"}'


def media(samples: list[int], rate: int = 8000) -> str:
    return json.dumps(
        {"event": "media", "type": "media", "data": {"samples": samples, "sampleRate": rate}}
    )


def test_pinned_version_is_the_installed_one() -> None:
    from importlib.metadata import version

    assert version("pipecat-ai") == PIPECAT_VERSION


def test_deserialize() -> None:
    async def run() -> list[Frame | None]:
        serializer = KooKooFrameSerializer(params=KooKooFrameSerializer.InputParams())
        frames = [
            await serializer.deserialize(START),
            await serializer.deserialize(media([0] * 160, rate=16000)),  # the probe
            await serializer.deserialize(media(list(range(80)))),
            await serializer.deserialize('{"event":"media","type":"dtmf","signal":"5"}'),
            await serializer.deserialize('{"event":"media","type":"dtmf","signal":"A"}'),
            await serializer.deserialize("garbage"),
            await serializer.deserialize('{"event":"mark","seqid":"x"}'),
            await serializer.deserialize('{"event":"stop","cause":433}'),
        ]
        assert serializer.start is not None
        assert serializer.start.sid == "3341"
        assert serializer.start.uui == {"a": 1}
        assert serializer.bad_frames == 1
        return frames

    start, probe, audio, dtmf, bad_digit, garbage, mark, stop = asyncio.run(run())
    assert start is probe is bad_digit is garbage is mark is stop is None
    assert isinstance(audio, InputAudioRawFrame)
    assert audio.audio == pcm16_from_samples(list(range(80)))
    assert (audio.sample_rate, audio.num_channels) == (8000, 1)
    assert isinstance(dtmf, InputDTMFFrame)
    assert dtmf.button == KeypadEntry.FIVE


def test_deserialize_resamples_to_the_pipeline_rate() -> None:
    async def run() -> list[Frame | None]:
        params = KooKooFrameSerializer.InputParams(sample_rate=16000)
        serializer = KooKooFrameSerializer(params=params)
        await serializer.deserialize(START)
        # 0.4 s in; pipecat's soxr stream resampler releases audio in ~100 ms batches.
        return [await serializer.deserialize(media([1000] * 80)) for _ in range(40)]

    frames = [f for f in asyncio.run(run()) if f is not None]
    assert frames
    assert all(isinstance(f, InputAudioRawFrame) and f.sample_rate == 16000 for f in frames)
    total = sum(len(f.audio) // 2 for f in frames if isinstance(f, InputAudioRawFrame))
    assert 5000 < total <= 6400  # about twice the 3200 samples in, less the filter's delay


def test_serialize() -> None:
    async def run() -> list[Any]:
        params = KooKooFrameSerializer.InputParams(seqid_prefix="p")
        serializer = KooKooFrameSerializer("3341", params=params)
        ten_ms = pcm16_from_samples(list(range(80)))
        return [
            await serializer.serialize(OutputAudioRawFrame(ten_ms, 8000, 1)),
            await serializer.serialize(OutputAudioRawFrame(ten_ms[:100], 8000, 1)),  # 50 samples
            await serializer.serialize(OutputAudioRawFrame(ten_ms + ten_ms, 8000, 1)),
            await serializer.serialize(InterruptionFrame()),
            await serializer.serialize(EndFrame()),
            await serializer.serialize(CancelFrame()),
        ]

    one, short, carried, clear, end, cancel = asyncio.run(run())
    first = json.loads(one)
    assert (first["ucid"], first["seqid"], first["data"]["numberOfFrames"]) == ("3341", "p-1", 80)
    assert short is None  # carried over, never padded
    # 50 carried + 160 = 210 samples: two packets' worth in one message, 50 carried again.
    second = parse_outbound(carried)
    assert isinstance(second, OutboundAudio)
    assert len(second.pcm) == 320
    assert second.seqid == "p-2"
    assert parse_outbound(clear) == ClearBuffer()
    assert parse_outbound(end) == CallDisconnect()
    assert cancel is None  # callDisconnect is sent once


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pipecat_pipeline_end_to_end_with_the_fake_client() -> None:
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.transports.websocket.server import (
        SingleClientWebsocketServerParams,
        SingleClientWebsocketServerTransport,
    )

    class Echo(FrameProcessor):
        """A stand-in for STT -> LLM -> TTS: say back what was heard; '#' ends the bot."""

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, InputAudioRawFrame):
                await self.push_frame(OutputAudioRawFrame(frame.audio, frame.sample_rate, 1))
            elif isinstance(frame, InputDTMFFrame) and frame.button == KeypadEntry.POUND:
                await self.push_frame(EndFrame())
            else:
                await self.push_frame(frame, direction)

    port = _free_port()
    speech = pcm16_from_samples([(i * 7919) % 65536 - 32768 for i in range(2400)])  # 0.3 s

    async def run() -> Any:
        transport = SingleClientWebsocketServerTransport(
            params=SingleClientWebsocketServerParams(
                serializer=KooKooFrameSerializer(),
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_in_sample_rate=8000,
                audio_out_sample_rate=8000,
                audio_out_10ms_chunks=1,
                audio_out_end_silence_secs=0,
            ),
            host="127.0.0.1",
            port=port,
        )
        task = PipelineTask(
            Pipeline([transport.input(), Echo(), transport.output()]),
            params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
        )

        @transport.event_handler("on_client_disconnected")  # type: ignore[untyped-decorator]
        async def disconnected(transport: object, websocket: object) -> None:
            await task.cancel()

        runner = PipelineRunner(handle_sigint=False)
        await runner.add_workers(task)
        running = asyncio.create_task(runner.run())
        fake = FakeStreamClient(sid="3341")
        # '#' only once the echo is back: pipecat's EndFrame may overtake queued output audio.
        fake.audio(speech).until(lambda r: len(r.audio) >= len(speech), timeout=10)
        fake.dtmf("#").pause(10).stop()
        try:
            for _ in range(200):  # bounded: the server starts within ~2 s
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                        break
                except OSError:
                    await asyncio.sleep(0.01)
            result = await fake.connect(f"ws://127.0.0.1:{port}")
        finally:
            await asyncio.wait_for(running, 15)
        return fake, result

    fake, result = asyncio.run(run())
    assert result.audio == fake.caller_audio
    assert len(set(result.seqids)) == len(result.seqids) == 30
    assert isinstance(result.received[-1], CallDisconnect)
