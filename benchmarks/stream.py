"""``python -m benchmarks.stream``: many real-time voice-bot streams next to plain IVR requests.

Serves ``examples/echo_bot.py`` with uvicorn (ASGI transport: sockets on the event loop, HTTP
through a2wsgi to the WSGI app) in a child process, then from this process:

1. baseline: plain IVR requests (``event=NewCall``, answered by the WSGI app) one after the
   other for ``--baseline`` seconds, no streams;
2. load: ``--streams`` calls at once, each doing what KooKoo does — the NewCall request, then a
   socket with the token from ``x-uui``, ``--seconds`` of caller audio paced at 10 ms a packet,
   ``stop`` — while the same plain requests keep going.

Reported: plain request latency p50/p99 in both phases side by side; per stream whether all
audio came back, how late the caller's side finished against the wall clock (real time means
near 0), and the echo latency p50/p99/max of each 10 ms packet. Needs ``kookoo[asgi]``. The
fake clients share the machine's cores with the server, as in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from lxml import etree

from kookoo.stream import FakeStreamClient, FakeStreamResult, OutboundAudio

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret"  # KOOKOO_SECRET of the servers: every HTTP request carries it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _get(base: str, params: dict[str, str]) -> str:
    query = urlencode({**params, "kk_token": SECRET})
    with urllib.request.urlopen(f"{base}/?{query}", timeout=30) as response:
        body: bytes = response.read()
        return body.decode("utf-8")


class PlainRequests(threading.Thread):
    """Sends plain IVR requests one after the other and keeps their latencies."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.latencies: list[float] = []
        self.running = threading.Event()
        self.running.set()
        self.count = 0

    def run(self) -> None:
        while self.running.is_set():
            self.count += 1
            started = time.perf_counter()
            _get(self.base, {"event": "NewCall", "sid": f"plain-{self.count}", "cid": "0987"})
            self.latencies.append(time.perf_counter() - started)
            time.sleep(0.01)


def _wait_listening(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"{server.args} exited during start-up") from None
            time.sleep(0.05)
    server.terminate()
    raise RuntimeError(f"{server.args} did not start within 20 s")


def _start_servers(
    port: int, db: str, transport: str, uvicorn_ws: str
) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    ws_port = port if transport == "asgi" else _free_port()
    ws_path = "/ws" if transport == "asgi" else "/"
    env.update(
        KOOKOO_SECRET=SECRET,
        KOOKOO_DB=db,
        ECHO_BOT_URL=f"ws://127.0.0.1:{ws_port}{ws_path}",
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.echo_bot:asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ws",
        uvicorn_ws,
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    servers = [subprocess.Popen(command, cwd=ROOT, env=env)]
    if transport == "websockets":
        standalone = [sys.executable, "-m", "kookoo", "stream-serve", "examples.echo_bot:bots"]
        standalone += ["--port", str(ws_port)]
        servers.append(subprocess.Popen(standalone, cwd=ROOT, env=env))
    try:
        for server, listen in zip(servers, [port, ws_port], strict=False):
            _wait_listening(server, listen)
    except RuntimeError:
        for server in servers:
            server.terminate()
        raise
    return servers


async def _one_stream(base: str, number: int, seconds: float) -> dict[str, Any]:
    sid = f"stream-{number}"
    xml = await asyncio.to_thread(_get, base, {"event": "NewCall", "sid": sid, "cid": "0987"})
    element = etree.fromstring(xml.encode("utf-8")).find("stream")
    assert element is not None, xml
    fake = FakeStreamClient(sid=sid, uui=element.get("x-uui"), realtime=True, linger=10)
    fake.tone(300 + number, seconds=seconds).stop()
    result: FakeStreamResult = await fake.connect(element.get("url") or "")
    audio_sent = result.sent_at[2:-1]  # skip start, the probe and stop
    audio_back = [
        at
        for message, at in zip(result.received, result.received_at, strict=True)
        if isinstance(message, OutboundAudio)
    ]
    echo = [back - sent for sent, back in zip(audio_sent, audio_back, strict=False)]
    return {
        "complete": result.audio == fake.caller_audio,
        "late_seconds": (result.sent_at[-1] - result.sent_at[0]) - seconds,
        "echo": echo,
    }


async def _streams(base: str, count: int, seconds: float) -> list[dict[str, Any]]:
    return await asyncio.gather(*(_one_stream(base, n, seconds) for n in range(count)))


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its table (``--json FILE`` also saves the numbers)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stream")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline", type=float, default=3.0)
    parser.add_argument(
        "--transport",
        choices=["asgi", "websockets"],
        default="asgi",
        help="asgi: sockets and HTTP in one uvicorn process; websockets: sockets in the "
        "standalone kookoo stream-serve process, HTTP in uvicorn",
    )
    parser.add_argument(
        "--uvicorn-ws",
        default="websockets-sansio",
        help="uvicorn's WebSocket implementation (websockets-sansio, websockets, wsproto)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    children_before = os.times()
    client_cpu_before = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        servers = _start_servers(
            port, str(Path(tmp) / "calls.sqlite3"), args.transport, args.uvicorn_ws
        )
        try:
            plain = PlainRequests(base)
            plain.start()
            time.sleep(args.baseline)
            baseline = list(plain.latencies)
            mark = len(plain.latencies)
            started = time.monotonic()
            results = asyncio.run(_streams(base, args.streams, args.seconds))
            wall = time.monotonic() - started
            loaded = plain.latencies[mark:]
            plain.running.clear()
            plain.join(30)
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)
    children_after = os.times()
    server_cpu = (children_after.children_user - children_before.children_user) + (
        children_after.children_system - children_before.children_system
    )
    client_cpu = time.process_time() - client_cpu_before

    echo = [value for result in results for value in result["echo"]]
    late = [result["late_seconds"] for result in results]
    summary = {
        "streams": args.streams,
        "transport": args.transport,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "complete_streams": sum(result["complete"] for result in results),
        "wall_seconds": wall,
        "server_cpu_seconds": server_cpu,
        "client_cpu_seconds": client_cpu,
        "late_seconds_max": max(late),
        "late_seconds_p50": statistics.median(late),
        "echo_ms_p50": 1000 * _percentile(echo, 0.5),
        "echo_ms_p99": 1000 * _percentile(echo, 0.99),
        "echo_ms_max": 1000 * max(echo),
        "plain_requests_baseline": len(baseline),
        "plain_ms_p50_baseline": 1000 * _percentile(baseline, 0.5),
        "plain_ms_p99_baseline": 1000 * _percentile(baseline, 0.99),
        "plain_requests_loaded": len(loaded),
        "plain_ms_p50_loaded": 1000 * _percentile(loaded, 0.5),
        "plain_ms_p99_loaded": 1000 * _percentile(loaded, 0.99),
    }
    print(
        f"{args.streams} streams x {args.seconds:g} s of 10 ms packets, {os.cpu_count()} CPUs, "
        f"transport {args.transport}"
        + (f" (uvicorn --ws {args.uvicorn_ws})" if args.transport == "asgi" else "")
    )
    print(f"  complete echoes        {summary['complete_streams']}/{args.streams}")
    print(
        f"  CPU seconds            servers {server_cpu:.1f}, clients {client_cpu:.1f} "
        f"(whole run, {wall:.1f} s of streams + {args.baseline:g} s baseline)"
    )
    print(
        f"  caller side late by    p50 {summary['late_seconds_p50']:.3f} s, "
        f"max {summary['late_seconds_max']:.3f} s (0 = real time)"
    )
    print(
        f"  echo latency           p50 {summary['echo_ms_p50']:.1f} ms, "
        f"p99 {summary['echo_ms_p99']:.1f} ms, max {summary['echo_ms_max']:.1f} ms"
    )
    print("  plain IVR request      baseline          under load")
    print(
        f"    p50                  {summary['plain_ms_p50_baseline']:6.1f} ms         "
        f"{summary['plain_ms_p50_loaded']:6.1f} ms"
    )
    print(
        f"    p99                  {summary['plain_ms_p99_baseline']:6.1f} ms         "
        f"{summary['plain_ms_p99_loaded']:6.1f} ms"
    )
    print(
        f"    requests             {summary['plain_requests_baseline']:6d}            "
        f"{summary['plain_requests_loaded']:6d}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
