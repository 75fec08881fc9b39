"""examples/voice_bot.py end to end: its pipecat pipeline (stub LLM and TTS, KooKooFrameSerializer
with 10 ms output chunks) on a loopback socket, driven by the fake KooKoo stream client, and
the app's HTTP side before and after. Skipped without ``kookoo[pipecat]``, except in CI
(``KOOKOO_REQUIRE_PIPECAT=1``), where a missing pipecat fails the run."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import warnings
from types import ModuleType

import pytest
from lxml import etree
from test_examples import load_example
from werkzeug.test import Client

from kookoo.state.stores import MemoryStore
from kookoo.stream import (
    CallDisconnect,
    FakeStreamClient,
    FakeStreamResult,
    OutboundAudio,
    stream_uui,
)
from kookoo.stream.fake import generate_tone

with warnings.catch_warnings():
    # pipecat 1.14 imports the deprecated audioop module (kookoo's own code does not).
    warnings.simplefilter("ignore", DeprecationWarning)
    if os.environ.get("KOOKOO_REQUIRE_PIPECAT") == "1":
        import pipecat  # CI installs kookoo[pipecat]: fail, do not skip
    else:
        pytest.importorskip("pipecat")
    import pipecat.transports.websocket.server  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SILENCE = bytes(2 * 800)  # 100 ms
VOICE = generate_tone(300, seconds=0.3, amplitude=6000)


def voice_module() -> ModuleType:
    module = load_example("voice_bot")
    module.app.store = MemoryStore()
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def play(module: ModuleType, fake: FakeStreamClient) -> FakeStreamResult:
    """Serve one call with the example's pipeline and play ``fake`` to it."""
    port = free_port()
    running = asyncio.create_task(module.run_call("127.0.0.1", port))
    try:
        for _ in range(300):  # bounded: the server listens within ~3 s
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                await asyncio.sleep(0.01)
        return await fake.connect(f"ws://127.0.0.1:{port}/")
    finally:
        await asyncio.wait_for(running, 15)


def new_call(module: ModuleType, sid: str) -> str:
    """The x-uui the app puts on <stream> for NewCall."""
    response = Client(module.app).get(
        "/", query_string={"event": "NewCall", "sid": sid, "cid": "0987", "kk_token": module.SECRET}
    )
    assert response.status_code == 200
    element = etree.fromstring(response.get_data()).find("stream")
    assert element is not None
    assert element.get("url") == module.BOT_URL
    uui = element.get("x-uui")
    assert uui is not None
    assert json.loads(uui)["sid"] == sid
    return uui


def test_voice_bot_answers_keys_and_speech_then_hands_back() -> None:
    module = voice_module()
    uui = new_call(module, "3341")
    heard: list[bytes] = []

    def said(*texts: str) -> int:
        heard[:] = [module.speech(t) for t in texts]
        return len(b"".join(heard))

    greeting = said(module.GREETING)
    balance = said(module.GREETING, module.ANSWERS["1"])
    spoken = said(module.GREETING, module.ANSWERS["1"], module.HEARD_SPEECH)
    fake = FakeStreamClient(sid="3341", uui=uui)
    # Each step waits for the bot's answer (not a fixed pause): pipecat's DTMF frames are
    # system frames and would overtake audio still queued.
    fake.audio(SILENCE).until(lambda r: len(r.audio) >= greeting, timeout=10)
    fake.dtmf("1").until(lambda r: len(r.audio) >= balance, timeout=10)
    fake.audio(VOICE + SILENCE * 3).until(lambda r: len(r.audio) >= spoken, timeout=10)
    fake.dtmf("#").pause(10).stop()
    result = asyncio.run(play(module, fake))

    everything = said(module.GREETING, module.ANSWERS["1"], module.HEARD_SPEECH, "Goodbye")
    assert len(result.audio) == everything
    assert result.audio == b"".join(heard)
    packets = [m for m in result.received if isinstance(m, OutboundAudio)]
    # audio_out_10ms_chunks=1: every packet is one 80-sample KooKoo packet.
    assert {len(p.pcm) for p in packets} == {160}
    assert len(set(result.seqids)) == len(packets) == everything // 160
    assert isinstance(result.received[-1], CallDisconnect)
    assert result.disconnected_by_bot

    # KooKoo's event=Stream then reaches the app, which thanks the caller.
    params = {**result.http_params(duration=4), "kk_token": module.SECRET}
    response = Client(module.app).get("/", query_string=params)
    assert response.get_data(as_text=True) == (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        "<response><playtext>Thank you for calling. Goodbye</playtext><hangup/></response>"
    )


def test_voice_bot_refuses_a_token_for_another_call() -> None:
    module = voice_module()
    forged = stream_uui("another-secret-0123456789", sid="7", handler="voice")
    fake = FakeStreamClient(sid="7", uui=forged).audio(SILENCE).dtmf("1").pause(10).stop()
    result = asyncio.run(play(module, fake))
    assert result.audio == b""
    assert result.received == [CallDisconnect()]


def test_stubs_are_deterministic() -> None:
    module = voice_module()
    assert module.answer_for("2") == module.ANSWERS["2"]
    assert module.answer_for("7") == module.UNKNOWN_KEY
    # one 50 ms tone and 10 ms of silence per word, at 8 kHz
    assert len(module.speech("two words")) == 2 * 2 * 480
    assert module.speech("Goodbye") == module.speech("Goodbye")
    ears = module.Utterances()
    assert ears.feed(VOICE) == 0  # still speaking
    assert ears.feed(SILENCE) == 0
    assert ears.feed(SILENCE) == 1  # 200 ms of silence: the utterance is over
    assert ears.feed(generate_tone(300, seconds=0.05) + SILENCE * 3) == 0  # too short
    assert not module.token_ok({}, None)
    good = json.loads(stream_uui(module.SECRET, sid="5", handler="voice"))
    assert module.token_ok(good, "5")
    assert not module.token_ok(good, "6")
    other = json.loads(stream_uui(module.SECRET, sid="5", handler="echo"))
    assert not module.token_ok(other, "5")
