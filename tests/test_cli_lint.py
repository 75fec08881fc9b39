from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from kookoo.cli import main

RESPONSES = Path(__file__).parent / "data" / "responses"
MALFORMED = RESPONSES / "malformed" / "php-demo-collectdtmf-doc-comment.txt"
CLEAN = RESPONSES / "07-docs-collectdtmf-pin.xml"
EMPTY_PLAYTEXT = RESPONSES / "10-php-demo-dial.xml"
FRAGMENT = RESPONSES / "31-voicebot-dial-new-attrs.xml"

KK112 = (
    "KK112 <playtext> is empty, so KooKoo has nothing to speak. KooKoo's own demo sends one and "
    "it seems harmless, but remove it or put the words inside it."
)
KK002 = (
    "KK002 The document is a bare <dial> without the <response> root. KooKoo reads only replies "
    "wrapped in <response>...</response>; put <dial> inside <response>."
)
KK001 = (
    "KK001 The XML is not well-formed: expected '>' (column 35). KooKoo cannot read a malformed "
    "reply, so the call goes wrong at this point; fix the markup."
)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main(["lint", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_clean_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, CLEAN) == (0, "", "")


def test_all_vectors(capsys: pytest.CaptureFixture[str]) -> None:
    files = [*sorted(RESPONSES.glob("*.xml")), MALFORMED]
    status, out, err = run(capsys, *files)
    assert status == 1
    assert out.splitlines() == [
        f"{EMPTY_PLAYTEXT}:2: {KK112}",
        f"{FRAGMENT}:1: {KK002}",
        f"{MALFORMED}:4: {KK001}",
    ]
    assert err == "kookoo lint: 2 errors, 1 warning\n"


def test_malformed_fails_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, MALFORMED) == (
        1,
        f"{MALFORMED}:4: {KK001}\n",
        "kookoo lint: 1 error, 0 warnings\n",
    )


def test_warnings_pass_unless_strict(capsys: pytest.CaptureFixture[str]) -> None:
    line = f"{EMPTY_PLAYTEXT}:2: {KK112}\n"
    summary = "kookoo lint: 0 errors, 1 warning\n"
    assert run(capsys, EMPTY_PLAYTEXT) == (0, line, summary)
    assert run(capsys, "--strict", EMPTY_PLAYTEXT) == (1, line, summary)


def test_quiet_hides_what_does_not_fail(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--quiet", EMPTY_PLAYTEXT) == (0, "", "")
    assert run(capsys, "-q", EMPTY_PLAYTEXT, FRAGMENT) == (1, f"{FRAGMENT}:1: {KK002}\n", "")
    # With --strict warnings fail the run, so they are shown.
    assert run(capsys, "-q", "--strict", EMPTY_PLAYTEXT) == (
        1,
        f"{EMPTY_PLAYTEXT}:2: {KK112}\n",
        "",
    )


def test_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"<response>\n<dial>1</dial>\n<hangup/>\n</response>\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status, out, err = run(capsys, "-")
    assert status == 1
    assert out == (
        "<stdin>:3: KK102 <hangup> is in the same reply as <dial> (line 2). KooKoo's own demo "
        "says not to send hangup with dial: the call is still ringing or connected when KooKoo "
        "reads it. Return <hangup> in your reply to the Dial event instead.\n"
    )
    assert err == "kookoo lint: 1 error, 0 warnings\n"


def test_files_are_read_as_bytes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin1.xml"
    path.write_bytes(
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<response><playtext>Café</playtext>'
        "</response>".encode("latin-1")
    )
    assert run(capsys, path) == (0, "", "")


def test_unknown_line_is_printed_as_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"<response>" + b" " * 1_000_001 + b"</response>")
    status, out, _ = run(capsys, path)
    assert status == 1
    assert out.startswith(f"{path}:0: KK001 The XML is not well-formed: document is ")


def test_unreadable_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.xml"
    status, out, err = run(capsys, missing, CLEAN)
    assert status == 2
    assert out == ""
    assert err == f"kookoo lint: cannot read {missing}: No such file or directory\n"


def test_directory_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = run(capsys, tmp_path)
    assert status == 2
    assert err.startswith(f"kookoo lint: cannot read {tmp_path}: ")


def test_unreadable_file_beats_findings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run(capsys, MALFORMED, tmp_path / "missing.xml")
    assert status == 2
    assert out == f"{MALFORMED}:4: {KK001}\n"


def test_no_files_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys)
    assert status == 2
    assert out == ""
    assert err.endswith("kookoo lint: error: the following arguments are required: FILE\n")


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert capsys.readouterr().err.endswith(
        "kookoo: error: the following arguments are required: COMMAND\n"
    )


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--fix", str(CLEAN)]) == 2
    assert "unrecognized arguments: --fix" in capsys.readouterr().err


def test_help_lists_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kookoo lint [-h] [--strict] [-q] FILE [FILE ...]\n")
    assert "  KK102  error    hangup in the same reply as dial\n" in out


def test_python_dash_m(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kookoo", "lint", str(CLEAN), str(MALFORMED)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == f"{MALFORMED}:4: {KK001}\n"
    assert proc.stderr == "kookoo lint: 1 error, 0 warnings\n"
