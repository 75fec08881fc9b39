"""The command line for production: ``kookoo check``, ``kookoo config``, ``--version``,
``kookoo run`` surviving broken code on reload, ``kookoo call`` into a closed pipe, and never
swapping a configured store."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from servers import free_port
from test_store_faults import unwritable

import kookoo
from kookoo.cli import EXIT_BROKEN_PIPE, main

ROOT = Path(__file__).resolve().parent.parent
MENU = ROOT / "examples" / "menu.py"
TIMEOUT = 20.0
SECRET = "s3cret-token-for-tests-0123456789"

SHADOWED = """
from kookoo import Call, GotDTMF, KooKoo, NewCall, Response

app = KooKoo("shadowed")


@app.on_new_call(route="/healthz")
def hidden(event: NewCall) -> Response:
    return Response().hangup()


@app.on_new_call(route="/<lang>")
def by_lang(event: NewCall, lang: str) -> Response:
    return Response().hangup()


@app.on_new_call(route="/<name>/")
def by_name(event: NewCall, name: str) -> Response:
    return Response().hangup()


@app.on_dtmf
def menu(event: GotDTMF, call: Call) -> Response:
    return Response().play_text("ok").next_step("langauge")


@app.on_dtmf(step="language")
def language(event: GotDTMF, call: Call) -> Response:
    return Response().hangup()
"""


def kookoo_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kookoo", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"kookoo {kookoo.__version__}\n"


# -- kookoo check -----------------------------------------------------------------------------


def test_check_passes_a_good_app_with_a_writable_store(tmp_path: Path) -> None:
    db = tmp_path / "calls.sqlite3"
    result = kookoo_cli("check", str(MENU), cwd=tmp_path, env={"KOOKOO_DB": str(db)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{MENU}: store: SQLite database {db} (from KOOKOO_DB): reads and writes",
        f"{MENU}: handlers: 5 handlers, no problems",
    ]


def test_check_names_an_unwritable_kookoo_db(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    db = directory / "calls.sqlite3"
    with unwritable(directory):
        result = kookoo_cli("check", str(MENU), cwd=tmp_path, env={"KOOKOO_DB": str(db)})
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{MENU}: store: SQLite database {db} (from KOOKOO_DB) is unavailable")
    assert result.stderr == "kookoo check: 1 problem\n"


def test_check_names_a_store_url_that_cannot_be_reached(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = kookoo_cli("check", str(MENU), cwd=tmp_path, env={"KOOKOO_STORE": url})
    assert result.returncode == 1
    assert "store: Redis at 127.0.0.1:" in result.stdout
    assert "(from KOOKOO_STORE) is unavailable" in result.stdout


def test_check_finds_unknown_steps_and_shadowed_routes(tmp_path: Path) -> None:
    (tmp_path / "shadowed.py").write_text(SHADOWED)
    result = kookoo_cli("check", "shadowed.py", cwd=tmp_path, env={"KOOKOO_STORE": "memory://"})
    assert result.returncode == 1
    out = result.stdout
    assert "shadowed.py: handlers: handler menu names step 'langauge', which no handler serves" in (
        out
    )
    assert "did you mean 'language'?" in out
    assert (
        "shadowed.py: handlers: route '/healthz' never reaches its handlers: the health check "
        "answers there first; move the route or change health_path or KOOKOO_HEALTH_PATH"
    ) in out
    assert (
        "shadowed.py: handlers: route '/<name>' never gets a request: route '/<lang>' matches "
        "the same URLs and wins"
    ) in out
    assert "store: MemoryStore" in out
    assert result.stderr == "kookoo check: 3 problems\n"


def test_check_names_a_bad_variable_and_exits_2(tmp_path: Path) -> None:
    result = kookoo_cli("check", str(MENU), cwd=tmp_path, env={"KOOKOO_MAX_PARAMS": "lots"})
    assert result.returncode == 2
    assert "KOOKOO_MAX_PARAMS='lots': expected a whole number" in result.stderr
    assert kookoo_cli("check", "nowhere.py", cwd=tmp_path).returncode == 2


# -- kookoo config ----------------------------------------------------------------------------


def test_config_prints_the_settings_with_secrets_masked(tmp_path: Path) -> None:
    env = {
        "KOOKOO_SECRET": SECRET,
        "KOOKOO_STORE": f"sqlite:///{tmp_path}/c.sqlite3",
        "KOOKOO_MAX_PARAMS": "20",
        "KOOKOO_TRUSTED_PROXIES": "1",
    }
    result = kookoo_cli("config", str(MENU), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in result.stdout.splitlines()}
    assert (
        rows["store"] == f"SQLite database {tmp_path}/c.sqlite3 (from KOOKOO_STORE) [KOOKOO_STORE]"
    )
    assert rows["secret"] == "**** (1 secret) [KOOKOO_SECRET]"
    assert rows["max_params"] == "20 [KOOKOO_MAX_PARAMS]"
    assert rows["trusted_proxies"] == "1 [KOOKOO_TRUSTED_PROXIES]"
    assert rows["debug"] == "False [default]"
    assert rows["health_path"] == "'/healthz' [default]"
    assert not (tmp_path / "c.sqlite3").exists()  # printing the settings opened nothing


# -- kookoo call ------------------------------------------------------------------------------


def test_call_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # like `| head` that has already exited: every write fails
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "kookoo", "call", str(MENU), "--press", "1", "--press", "3"],
            cwd=tmp_path,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(write)
    assert "BrokenPipeError" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.returncode == EXIT_BROKEN_PIPE


def test_call_uses_the_store_kookoo_db_names(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    db = directory / "calls.sqlite3"
    with unwritable(directory):
        result = kookoo_cli("call", str(MENU), "--hangup", cwd=tmp_path, env={"KOOKOO_DB": str(db)})
    assert "kept in memory" not in result.stderr
    assert result.returncode == 1  # the app failed the call, and kookoo call says why
    assert result.stderr.startswith("kookoo call: error: the app logged an error answering ")
    assert f"SQLite database {db} (from KOOKOO_DB) is unavailable" in result.stderr


def test_call_says_when_it_keeps_state_in_memory(tmp_path: Path) -> None:
    result = kookoo_cli("call", str(MENU), "--hangup", cwd=tmp_path, env={"KOOKOO_DB": ""})
    assert result.returncode == 0
    assert result.stderr.startswith("kookoo call: the call state is kept in memory")
    assert list(tmp_path.iterdir()) == []  # no SQLite file left behind


def test_call_over_is_said_once(tmp_path: Path) -> None:
    # (in a process of its own: an app file loaded in-process stays loaded, store and all)
    result = kookoo_cli(
        "call", str(MENU), "--press", "1", "--press", "3", "--press", "1", cwd=tmp_path
    )
    assert result.returncode == 1
    assert result.stdout.count("call over: the app hung up") == 1


# -- kookoo run -------------------------------------------------------------------------------

GOOD = """
from kookoo import KooKoo, NewCall, Response

app = KooKoo(store=False)


@app.on_new_call
def hello(event: NewCall) -> Response:
    return Response().play_text("{text}").hangup()
"""


def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode()


def _wait_for(url: str, wanted: str, proc: subprocess.Popen[bytes], deadline: float) -> str:
    """Poll ``url`` until its body contains ``wanted`` (bounded); return the body."""
    last = ""
    while time.monotonic() < deadline:
        assert proc.poll() is None, "kookoo run exited"
        with contextlib.suppress(OSError, http.client.HTTPException):  # mid-restart
            _, last = _fetch(url)
        if wanted in last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"never saw {wanted!r}; last answer: {last!r}")


def _touch(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    later = time.time() + bump  # the reloader compares modification times
    os.utime(path, (later, later))


def test_run_survives_a_syntax_error_during_reload(tmp_path: Path) -> None:
    app_file = tmp_path / "ivr.py"
    _touch(app_file, textwrap.dedent(GOOD.format(text="first")), 0)
    port = free_port()
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kookoo", "run", str(app_file), "--port", str(port)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/?event=NewCall&sid=1"
    try:
        deadline = time.monotonic() + 30
        _wait_for(url, "first", proc, deadline)
        _touch(app_file, "def broken(:\n", 2)
        body = _wait_for(url, "could not be loaded", proc, deadline)
        assert "SyntaxError" in body
        _touch(app_file, textwrap.dedent(GOOD.format(text="fixed")), 4)
        _wait_for(url, "fixed", proc, deadline)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert "waiting for the code to be fixed" in (tmp_path / "run.log").read_text()


def test_check_and_config_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KOOKOO_DB", str(tmp_path / "calls.sqlite3"))
    # A file of its own: a loaded module is cached, and other tests load examples/menu.py.
    stateful = tmp_path / f"stateful_{uuid.uuid4().hex}.py"
    stateful.write_text(
        "from kookoo import Call, KooKoo, NewCall, Response\n"
        "app = KooKoo()\n"
        "@app.on_new_call\n"
        "def hi(event: NewCall, call: Call) -> Response:\n"
        "    return Response().hangup()\n"
    )
    assert main(["config", str(stateful)]) == 0
    assert f"SQLite database {tmp_path}/calls.sqlite3  [KOOKOO_DB]" in capsys.readouterr().out
    assert main(["check", str(stateful)]) == 0
    assert "reads and writes" in capsys.readouterr().out
    wsgi = tmp_path / f"plain_{uuid.uuid4().hex}.py"
    wsgi.write_text("def app(environ, start_response):\n    return []\n")
    assert main(["check", str(wsgi)]) == 2
    assert capsys.readouterr().err == f"kookoo check: {wsgi} is not a kookoo app\n"
    assert main(["config", str(tmp_path / "missing.py")]) == 2
    stateless = tmp_path / f"stateless_{uuid.uuid4().hex}.py"
    stateless.write_text(
        "from kookoo import KooKoo, NewCall, Response\n"
        "app = KooKoo(store=False)\n"
        "app.add_handler(NewCall, lambda event: Response().hangup())\n"
    )
    assert main(["check", str(stateless)]) == 0
    assert "store: not used (no handler keeps call state)" in capsys.readouterr().out
