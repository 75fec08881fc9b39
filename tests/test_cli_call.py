"""``kookoo call``, ``kookoo routes`` and ``kookoo run``: in a subprocess, through a
pseudo-terminal, and in-process for the error paths."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port
from werkzeug.serving import make_server

from kookoo.cli import main
from kookoo.testing import Simulator

ROOT = Path(__file__).resolve().parent.parent
# What `kookoo call` says when it keeps a file target's call state in memory.
MEMORY_NOTE = (
    "kookoo call: the call state is kept in memory for this call (set KOOKOO_DB or "
    "KOOKOO_STORE to use a real store)\n"
)
MENU = ROOT / "examples" / "menu.py"
TIMEOUT = 20.0

MENU_SUPPORT_BUSY = """\
-> NewCall cid=09876543210 called_number=918065740671
caller hears: Welcome to Acme. For English press 1.
caller hears: हिंदी के लिए 2 दबाएँ।
app waits for digits (max 1, timeout 5 s)
-> GotDTMF data=1
caller hears: For sales press 1. For support press 2. To hear our address press 3.
app waits for digits (max 1, timeout 5 s)
-> GotDTMF data=2
caller hears: Connecting you to support. Please hold.
app waits for the dial to 08041169707 (answered or not)
-> Dial status=not_answered data=-1 callduration=0 message=NoAnswer
caller hears: Everyone on the support team is busy. Please call again later. Goodbye.
-> Disconnect message=NormalCallClearing process=none total_call_duration=37
call over: the app hung up
"""

BAD_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/xml")])
    if "event=NewCall" in environ["QUERY_STRING"]:
        return [b"<response><collectdtmf l='1'><playtext>Menu</playtext></collectdtmf></response>"]
    return [b"<response><playtext>Oops</response>"]
"""


def kookoo(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "kookoo", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )


# -- kookoo call, non-interactive --------------------------------------------------------------


def test_call_walks_the_menu_from_outside_the_repo(tmp_path: Path) -> None:
    result = kookoo(
        "call", str(MENU), "--press", "1", "--press", "2", "--dial", "not_answered", cwd=tmp_path
    )
    assert (result.returncode, result.stderr) == (0, MEMORY_NOTE)
    assert result.stdout == MENU_SUPPORT_BUSY
    assert list(tmp_path.iterdir()) == []  # state was kept in memory: no SQLite file


def test_call_with_the_console_script_and_module_target(tmp_path: Path) -> None:
    # CI installs the project, so the console script must be there: a missing one fails.
    script = Path(sys.executable).with_name("kookoo")
    assert script.is_file(), f"the kookoo console script is not installed beside {sys.executable}"
    result = subprocess.run(
        [str(script), "call", "examples.menu:app", "--press", "1", "--press", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "-> Disconnect message=NormalCallClearing process=none total_call_duration=6",
        "call over: the app hung up",
    ]
    assert "caller hears: We are at 42 MG Road, Bengaluru." in result.stdout


def test_call_json_is_the_whole_transcript(tmp_path: Path) -> None:
    result = kookoo(
        "call",
        str(MENU),
        "--sid",
        "1104528084461170",
        "--cid",
        "8041169706",
        "--called-number",
        "911130803946",
        "--press",
        "1",
        "--press",
        "1",
        "--dial",
        "answered:60",
        "--json",
        cwd=tmp_path,
    )
    assert (result.returncode, result.stderr) == (0, MEMORY_NOTE)
    data = json.loads(result.stdout)
    assert data["sid"] == "1104528084461170"
    assert (data["caller"], data["called_number"]) == ("8041169706", "911130803946")
    assert (data["ended_by"], data["waiting_for"], data["error"]) == ("app", None, None)
    assert data["heard"][-2:] == [
        "Connecting you to sales. Please hold.",
        "Thank you for calling Acme. Goodbye.",
    ]
    assert [t["params"].get("event") for t in data["turns"]] == [
        "NewCall",
        "GotDTMF",
        "GotDTMF",
        "Dial",
        "Disconnect",
    ]
    assert data["turns"][0]["url"] == (
        "http://localhost/?event=NewCall&sid=1104528084461170&cid=8041169706"
        "&cid_e164=%2B918041169706&called_number=911130803946&circle=KARNATAKA&operator=Airtel"
    )
    assert data["turns"][0]["xml"].startswith("<?xml version='1.0' encoding='UTF-8'?>\n<response")
    assert data["turns"][3]["params"] == {
        "event": "Dial",
        "sid": "1104528084461170",
        "status": "answered",
        "data": "-1",
        "callduration": "60",
        "message": "NormalCallClearing",
    }


def test_call_script_file(tmp_path: Path) -> None:
    script = tmp_path / "call.txt"
    script.write_text(
        "# the Hindi menu, then silence three times\npress 2\n\ntimeout\npress\ntimeout\n"
    )
    result = kookoo("call", str(MENU), "--script", str(script), "--press", "9", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("->")] == [
        "-> NewCall cid=09876543210 called_number=918065740671",
        "-> GotDTMF data=9",
        "-> GotDTMF data=2",
        "-> GotDTMF data=",
        "-> GotDTMF data=",
        "-> GotDTMF data=",
        "-> Disconnect message=NormalCallClearing process=none total_call_duration=24",
    ]
    assert lines[-3] == "caller hears: हमें आपका विकल्प नहीं मिला। धन्यवाद।"


def test_call_hangs_up_when_the_actions_run_out(tmp_path: Path) -> None:
    result = kookoo("call", str(MENU), "--press", "1", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-3:] == [
        "(no more actions: the caller hangs up)",
        "-> Hangup process=collectdtmf total_call_duration=4 data=",
        "call over: the caller hung up",
    ]


# -- kookoo call, errors (in-process) ----------------------------------------------------------


@pytest.fixture
def bad_app(tmp_path: Path) -> Path:
    path = tmp_path / "kk_bad_app.py"
    path.write_text(BAD_APP)
    return path


def test_call_invalid_xml_exits_1(bad_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", str(bad_app), "--press", "1"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "-> NewCall cid=09876543210 called_number=918065740671",
        "caller hears: Menu",
        "app waits for digits (max 1, timeout 4 s)",
        "-> GotDTMF data=1",
        "lint KK001 (line 1): The XML is not well-formed: Opening and ending tag mismatch: "
        "playtext line 1 and response (column 36). KooKoo cannot read a malformed reply, so "
        "the call goes wrong at this point; fix the markup.",
    ]
    assert err.startswith(
        "kookoo call: error: the app's reply to GotDTMF data='1' is not KooKoo XML:\n  line 1: "
        "KK001 "
    )


def test_call_invalid_xml_json(bad_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", str(bad_app), "--press", "1", "--json"]) == 1
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert data["ended_by"] == "error"
    assert data["error"].startswith("the app's reply to GotDTMF data='1' is not KooKoo XML:")
    assert data["turns"][-1]["findings"][0]["code"] == "KK001"


def test_call_unexpected_and_leftover_actions_exit_1(
    bad_app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["call", str(bad_app), "--record"]) == 1
    assert capsys.readouterr().err == (
        "kookoo call: error: record() but the app is waiting for digits (press() or timeout())\n"
    )
    assert main(["call", str(MENU), "--press", "1", "--press", "3", "--press", "1"]) == 1
    assert capsys.readouterr().err == (
        MEMORY_NOTE + "kookoo call: error: the call ended with 1 action(s) left: press\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no/such/app.py"], "kookoo call: no such file: no/such/app.py\n"),
        (["no_such_module_kk:app"], "kookoo call: cannot import 'no_such_module_kk': "),
        ([str(MENU), "--script", "/no/such/script"], "kookoo call: cannot read /no/such/script"),
        ([str(MENU), "--dial", "maybe"], "kookoo call: --dial maybe: say answered[:SECONDS] or"),
    ],
)
def test_call_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if "--dial" in args:
        args = [*args, "--press", "1", "--press", "1"]  # never mutate the shared param list
    assert main(["call", *args]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_call_script_with_an_unknown_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "s.txt"
    script.write_text("press 1\njump 3\n")
    assert main(["call", str(MENU), "--script", str(script)]) == 2
    assert capsys.readouterr().err == (
        f"kookoo call: {script}:2: unknown action 'jump' (known: press, timeout, record, dial, "
        "say, leave-conference, end-stream, hangup)\n"
    )


@pytest.fixture
def served_menu(tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the menu example behind a real HTTP server on loopback."""
    from test_examples import load_example

    from kookoo.state.stores import MemoryStore

    module = load_example("menu")
    module.app.store = MemoryStore()
    server = make_server("127.0.0.1", 0, module.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_call_a_url(served_menu: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["call", served_menu, "--press", "1", "--press", "2", "--dial", "not_answered"]
    assert main(args) == 0
    assert capsys.readouterr().out == MENU_SUPPORT_BUSY


# -- kookoo call, interactive through a pseudo-terminal ----------------------------------------


class Terminal:
    """A child process on a pseudo-terminal; read until a text shows up, with a deadline."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            close_fds=True,
        )
        os.close(slave)
        self.output = b""

    def expect(self, text: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        wanted = text.encode()
        while wanted not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not seen; output so far:\n{self._text()}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{text!r} not seen before EOF:\n{self._text()}")
                self.output += chunk
        return self._text()

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def _text(self) -> str:
        return self.output.decode("utf-8", errors="replace").replace("\r\n", "\n")

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)


def test_call_interactive_in_a_terminal(tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "kookoo", "call", str(MENU), "--sid", "7"], tmp_path)
    try:
        term.expect("Press keys (Enter: no input, h: hang up): ")
        term.send("12")  # two keys for a one-key menu: refused, asked again
        term.expect("not possible: press('12'): the app collects at most 1 digit")
        term.send("1")
        term.expect("caller hears: For sales press 1.")
        term.send("1")
        term.expect("Dial outcome: a[:SECONDS] answered, n not answered (h: hang up) [a]: ")
        term.send("a:20")
        output = term.expect("call over: the app hung up")
    finally:
        status = term.close()
    assert status == 0
    assert "caller hears: Welcome to Acme. For English press 1." in output
    assert "-> Dial status=answered data=-1 callduration=20 message=NormalCallClearing" in output
    assert "caller hears: Thank you for calling Acme. Goodbye." in output


def test_call_interactive_hangup_and_eof(tmp_path: Path) -> None:
    result = kookoo("call", str(MENU), cwd=tmp_path, stdin="h\n")
    assert result.returncode == 0
    assert result.stdout.endswith(
        "Press keys (Enter: no input, h: hang up): "
        "-> Hangup process=collectdtmf total_call_duration=2 data=\n"
        "call over: the caller hung up\n"
    )
    result = kookoo("call", str(MENU), cwd=tmp_path, stdin="\n1\n")  # no input, then EOF
    assert result.returncode == 0
    assert "-> GotDTMF data=\n" in result.stdout
    assert result.stdout.endswith("call over: the caller hung up\n")


# -- kookoo routes -----------------------------------------------------------------------------


def test_routes_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", str(MENU)]) == 0
    assert capsys.readouterr().out == (
        "ROUTE  EVENT    STEP        HANDLER\n"
        "/      Dial     transfer    after_transfer\n"
        "/      GotDTMF  department  choose_department\n"
        "/      GotDTMF  language    choose_language\n"
        "/      Hangup   -           caller_hung_up\n"
        "/      NewCall  -           welcome\n"
        "secret: off (anyone who can reach the URL drives calls; set KOOKOO_SECRET)\n"
    )


def test_routes_of_something_else(bad_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", str(bad_app)]) == 2
    assert capsys.readouterr().err == f"kookoo routes: {bad_app} is not a kookoo app\n"
    assert main(["routes", "nowhere_kk:app"]) == 2


# -- kookoo run --------------------------------------------------------------------------------


def test_run_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kookoo run [-h] [--host HOST] [--port PORT] [--no-reload]")


def wait_for_port(port: int, proc: subprocess.Popen[str]) -> None:
    """Wait (at most TIMEOUT seconds) until something accepts connections on loopback ``port``;
    fail at once if ``proc`` exits first."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode} before listening")
            if time.monotonic() > deadline:
                pytest.fail(f"nothing listens on port {port} after {TIMEOUT} s")
            time.sleep(0.05)


def test_run_serves_the_app_with_one_log_line_per_request(tmp_path: Path) -> None:
    port = free_port()
    port_arg = str(port)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kookoo",
            "run",
            "examples.menu:app",
            "--no-reload",
            "--port",
            port_arg,
        ],
        cwd=ROOT,
        env={**os.environ, "KOOKOO_DB": str(tmp_path / "calls.sqlite3")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, proc)
        # Exactly once: a retried call would log a second NewCall.
        call = Simulator(f"http://127.0.0.1:{port}/", timeout=TIMEOUT).call(sid="42")
        call.press("1").hangup()
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    lines = [line for line in err.splitlines() if "sid=42" in line]
    assert [re.sub(r"^.*?sid=", "sid=", re.sub(r" ms=[0-9.]+$", "", x)) for x in lines] == [
        "sid=42 event=NewCall route=/ handler=welcome status=200",
        "sid=42 event=GotDTMF route=/ handler=choose_language status=200",
        "sid=42 event=Hangup route=/ handler=caller_hung_up status=200",
    ]
    assert "GET /?event" not in err  # no second, access-log line per request


def test_non_ascii_digits_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["call", str(MENU), "--press", "1", "--press", "1", "--dial", "answered:²"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "kookoo call: --dial answered:²: the talk time must be whole seconds" in err


def test_outbound_call_plays_newcall_with_outbound_sid_and_posts_the_callback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_file = tmp_path / "outbound_app.py"
    app_file.write_text(
        "from kookoo import CallStatus, KooKoo, NewCall, Response\n"
        "from kookoo.state.stores import MemoryStore\n"
        "app = KooKoo(store=MemoryStore())\n"
        "ENDED = []\n"
        "@app.on_new_call\n"
        "def hello(event: NewCall) -> Response:\n"
        "    kind = 'outbound' if event.is_outbound else 'inbound'\n"
        "    return Response().play_text(f'Hello {kind} {event.caller}').hangup()\n"
        "@app.on_call_status(route='/ended')\n"
        "def ended(event: CallStatus) -> None:\n"
        "    ENDED.append(event.status)\n"
    )
    status = main(
        ["call", str(app_file), "--outbound", "--cid", "9876543210", "--callback", "/ended"]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert out.splitlines() == [
        "-> NewCall cid=9876543210 called_number=918065740671 outbound_sid=2470213640781001",
        "caller hears: Hello outbound +919876543210",
        "-> Disconnect message=NormalCallClearing process=none total_call_duration=2",
        "call over: the app hung up",
        "completion callback: HTTP 200 OK",
    ]
