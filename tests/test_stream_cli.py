"""``kookoo stream-call`` and ``kookoo stream-serve`` over real loopback sockets: the echo bot
under uvicorn (ASGI) and the standalone websockets server, a bot file driven with an in-process
app, refusals and usage errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_stream_echo import GOODBYE, bound_socket, echo_module, uvicorn_server

from kookoo.cli import main
from kookoo.stream import FakeStreamClient, StreamBots, read_recording, stream_uui
from kookoo.stream.audio import pcm16_from_samples
from kookoo.stream.fake import read_wav, write_wav

pytest.importorskip("websockets")

from kookoo.stream.server import serve_bots

SPEECH = pcm16_from_samples([(i * 7919) % 65536 - 32768 for i in range(4000)])  # 0.5 s
MORE = pcm16_from_samples([(i * 104729) % 65536 - 32768 for i in range(2400)])  # 0.3 s


@pytest.fixture
def wavs(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "speech.wav", tmp_path / "more.wav"
    write_wav(first, SPEECH)
    write_wav(second, MORE)
    return first, second


async def run_cli(argv: list[str]) -> int:
    """``kookoo ARGV`` in a worker thread (it runs its own event loop), the server in ours."""
    return await asyncio.to_thread(main, argv)


def test_stream_call_against_the_echo_bot_under_uvicorn(
    wavs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = echo_module()
    saved = tmp_path / "bot.wav"
    recorded = tmp_path / "call.jsonl"

    async def run() -> int:
        async with uvicorn_server(module.asgi) as base:
            return await run_cli(
                [
                    "stream-call",
                    f"ws://{base}/ws",
                    "--handler",
                    "echo",
                    "--secret",
                    module.SECRET,
                    "--sid",
                    "3341",
                    "--fast",
                    "--wav",
                    str(wavs[0]),
                    "--dtmf",
                    "1",
                    "--wav",
                    str(wavs[1]),
                    "--dtmf",
                    "#",
                    "--hold",
                    "5",
                    "--save-audio",
                    str(saved),
                    "--record",
                    str(recorded),
                    "--app",
                    f"http://{base}/",
                ]
            )

    status = asyncio.run(run())
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].endswith("/ws sid=3341")
    # What the bot sent, in order: 50 packets echoed, the clear after '1', 30 more, the hang-up.
    bot = [line for line in lines if line.startswith("bot: ")]
    assert [line.split(" (")[0] for line in bot] == [
        "bot: audio x50",
        "bot: clearBuffer",
        "bot: audio x30",
        "bot: callDisconnect",
    ]
    assert "-1 .. " in bot[0]
    assert "-51 .. " in bot[2]
    assert "-80)" in bot[2]
    assert "bot sent 0.80 s of audio in 80 packets (all unique)" in lines
    assert "stream over: the bot hung up (callDisconnect)" in lines
    # The bot's audio is the caller's, byte for byte.
    assert read_wav(saved) == SPEECH + MORE
    # Then the event=Stream request: the app plays what the bot left.
    at = lines.index("app answered HTTP 200:")
    assert lines[at - 1].startswith("-> event=Stream status=completed callduration=")
    assert "\n".join(lines[at + 1 :]) == GOODBYE.strip()

    # The recording holds both directions and replays as a test, with the same echo.
    frames = read_recording(recorded)
    inbound = [f for f in frames if f.direction == "in"]
    assert len(inbound) == 1 + 1 + 80 + 2  # start, the probe, 80 audio packets, two keys
    assert sum(f.direction == "out" for f in frames) == 80 + 2  # audio, clear, disconnect
    replayed = FakeStreamClient.replay(frames).run_bots(module.bots)
    assert replayed.audio == SPEECH + MORE
    assert replayed.disconnected_by_bot


BOT_FILE = """\
from kookoo import KooKoo, Response
from kookoo.state.stores import MemoryStore
from kookoo.stream import StreamBots

app = KooKoo("streamed", store=MemoryStore(), secret=False)
bots = StreamBots(secret="file-secret", store=lambda: app.store)


@app.on_new_call
def welcome(event):
    return Response().stream("524431", url="ws://127.0.0.1/", uui=bots.uui(event.sid, "talk"))


@bots.handler("talk")
async def talk(session):
    async for message in session:
        if getattr(message, "digit", None) == "9":
            await session.send_audio(bytes(range(256)) * 5)  # 640 samples: 8 packets
            await session.hang_up_bot(next=Response().play_text("Back in the IVR").hangup())
            return
"""


def test_stream_call_sends_event_stream_to_an_in_process_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The bot and the in-process app share the file's MemoryStore: the reply the bot left is
    # what the app answers.
    path = tmp_path / "botfile.py"
    path.write_text(BOT_FILE)
    from kookoo.stream.bots import load_bots

    bots = load_bots(f"{path}:bots")

    async def run() -> int:
        sock = bound_socket()
        async with await serve_bots(bots, sock=sock):
            url = f"ws://127.0.0.1:{sock.getsockname()[1]}/"
            args = ["--fast", "--dtmf", "9", "--app", str(path), "--sid", "77"]
            return await run_cli(
                ["stream-call", url, "--handler", "talk", "--secret", "file-secret", *args]
            )

    status = asyncio.run(run())
    out = capsys.readouterr().out
    assert status == 0, out
    assert "bot sent 0.08 s of audio in 8 packets (all unique)" in out
    assert out.rstrip().endswith(
        "-> event=Stream status=completed callduration=1\napp answered HTTP 200:\n"
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        "<response><playtext>Back in the IVR</playtext><hangup/></response>"
    )


def test_stream_call_reports_a_refused_socket_and_the_hangup_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = echo_module()
    app_file = tmp_path / "botfile3.py"
    app_file.write_text(BOT_FILE)

    async def run() -> int:
        sock = bound_socket()
        async with await serve_bots(module.bots, sock=sock):
            url = f"ws://127.0.0.1:{sock.getsockname()[1]}/"
            wrong = await run_cli(
                ["stream-call", url, "--handler", "echo", "--secret", "not-it", "--fast"]
            )
            assert wrong == 1
            assert "socket refused (close 1008): stream token" in capsys.readouterr().out
            # The caller hangs up (stop, no callDisconnect): KooKoo's next request is Hangup.
            args = ["--fast", "--hold", "0", "--stop-cause", "none", "--app", str(app_file)]
            return await run_cli(
                ["stream-call", url, "--handler", "echo", "--secret", module.SECRET, *args]
            )

    status = asyncio.run(run())
    out = capsys.readouterr().out
    assert status == 0, out
    assert "stream over: stop sent" in out
    assert "-> event=Hangup process=stream\napp answered HTTP 200:" in out


def test_stream_call_cannot_connect(capsys: pytest.CaptureFixture[str]) -> None:
    sock = bound_socket()  # bound, not listening: the connection is refused
    try:
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/"
        status = main(["stream-call", url, "--uui", "{}", "--fast", "--hold", "0"])
    finally:
        sock.close()
    assert status == 1
    assert "kookoo stream-call: cannot connect to ws://127.0.0.1:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give --handler NAME (a token is signed for it) or --uui JSON"),
        (["--handler", "echo"], "signing the token needs the app's secret"),
        (["--uui", "{}", "--wav", "missing.wav"], "--wav missing.wav: "),
        (["--handler", "echo", "--secret", "s", "--data", "x"], "--data 'x': expected KEY=VALUE"),
        (["--uui", "{}", "--stop-cause", "soon"], "--stop-cause 'soon': a number, or 'none'"),
        (["--uui", "{}", "--pause", "x"], "--pause 'x': expected seconds"),
        (["--uui", "{}", "--app", "nowhere.py"], "no such file: nowhere.py"),
    ],
)
def test_stream_call_usage_errors(
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KOOKOO_SECRET", raising=False)
    assert main(["stream-call", "ws://127.0.0.1:9/", *extra]) == 2
    assert message in capsys.readouterr().err


def test_stream_call_refuses_a_file_that_is_not_a_wav(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "noise.wav"
    path.write_bytes(b"not a wav file at all")
    assert main(["stream-call", "ws://127.0.0.1:9/", "--uui", "{}", "--wav", str(path)]) == 2
    assert f"--wav {path}: " in capsys.readouterr().err


def test_stream_serve_runs_the_standalone_server(tmp_path: Path) -> None:
    # The real command in its own process: port 0, the bound port read from its log line;
    # in tmp_path, where the echo bot's default SQLite store goes.
    secret = "serve-secret-0123456789"
    env = {**os.environ, "KOOKOO_SECRET": secret, "PYTHONPATH": str(Path.cwd())}
    process = subprocess.Popen(
        [sys.executable, "-m", "kookoo", "stream-serve", "examples.echo_bot:bots", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stderr is not None
        line = ""
        for _ in range(50):  # bounded: the log line comes once the server listens
            line = process.stderr.readline()
            if "serving stream bots on ws://" in line or not line:  # or it exited
                break
        assert "serving stream bots on ws://127.0.0.1:" in line, line
        url = line.split("serving stream bots on ")[1].strip() + "/ws"
        fake = FakeStreamClient(sid="55", uui=stream_uui(secret, sid="55", handler="echo"))
        fake.audio(SPEECH).dtmf("#").pause(5).stop()
        result = asyncio.run(fake.connect(url))
        assert result.audio == SPEECH
        assert result.disconnected_by_bot
        refused = FakeStreamClient(sid="55", uui=stream_uui("other", sid="55", handler="echo"))
        assert asyncio.run(refused.stop().connect(url)).refused
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def test_stream_serve_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stream-serve", "examples.echo_bot:app"]) == 2
    assert "examples.echo_bot:app is a KooKoo, not a StreamBots" in capsys.readouterr().err
    assert main(["stream-serve", "examples.echo_bot:nothing"]) == 2
    assert "has no attribute 'nothing'" in capsys.readouterr().err
    assert main(["stream-serve", "no_such_module_here"]) == 2
    assert "cannot import 'no_such_module_here'" in capsys.readouterr().err
    assert main(["stream-serve", "not a module"]) == 2
    assert "is not module:bots or path/to/file.py[:bots]" in capsys.readouterr().err


def test_stream_serve_loads_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "botfile2.py"
    path.write_text(textwrap.dedent(BOT_FILE))
    from kookoo.stream.bots import load_bots

    served: list[tuple[object, str, int]] = []
    monkeypatch.setattr("kookoo.stream.server.run_server", lambda b, h, p: served.append((b, h, p)))
    assert main(["stream-serve", str(path), "--host", "127.0.0.2", "--port", "0"]) == 0
    ((bots, host, port),) = served
    assert bots is load_bots(f"{path}:bots")
    assert (host, port) == ("127.0.0.2", 0)


def test_stream_call_reports_a_refused_handshake_a_failing_bot_and_an_http_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = echo_module()
    bots: StreamBots = module.bots

    @bots.handler("broken")
    async def broken(session: object) -> None:
        raise RuntimeError("bug in the bot")

    async def run() -> None:
        async with uvicorn_server(module.asgi) as base:
            # Another path: the ASGI app refuses the upgrade (HTTP 403).
            status = await run_cli(["stream-call", f"ws://{base}/elsewhere", "--uui", "{}"])
            assert status == 1
            assert "InvalidStatus" in capsys.readouterr().err
            # A bot that raises: its socket is closed with 1011.
            args = ["--secret", module.SECRET, "--fast", "--hold", "0"]
            status = await run_cli(["stream-call", f"ws://{base}/ws", "--handler", "broken", *args])
            assert status == 1
            assert "socket closed with 1011: bot error" in capsys.readouterr().out
            # The app answers the Hangup with an HTTP error: the run fails.
            app_url = ["--app", f"http://{base}/nowhere/"]
            status = await run_cli(
                ["stream-call", f"ws://{base}/ws", "--handler", "echo", *args, *app_url]
            )
            assert status == 1
            assert "app answered HTTP 404:" in capsys.readouterr().out

    asyncio.run(run())
