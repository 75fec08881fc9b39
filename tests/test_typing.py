"""The handler contract is a type: mypy --strict rejects handlers that break it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")  # in the test extra; CI has it

HERE = Path(__file__).parent / "typing"


@pytest.fixture(scope="module")
def mypy_output() -> str:
    """One mypy --strict run over both files (it takes several seconds)."""
    stdout: str
    stderr: str
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict",
            "--no-incremental",
            "--cache-dir=/dev/null",
            "--no-error-summary",
            str(HERE / "bad_handlers.py"),
            str(HERE / "good_handlers.py"),
        ]
    )
    return stdout + stderr


def _reported(output: str, name: str) -> set[int]:
    return {int(m.group(1)) for m in re.finditer(rf"{re.escape(name)}:(\d+): error", output)}


def test_every_broken_handler_is_reported(mypy_output: str) -> None:
    path = HERE / "bad_handlers.py"
    expected = {
        number
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "  # error:" in line
    }
    assert len(expected) == 8
    # Each broken handler is reported on its decorator line, and nothing else is.
    assert _reported(mypy_output, path.name) == expected, mypy_output


def test_handlers_that_keep_the_contract_pass(mypy_output: str) -> None:
    assert _reported(mypy_output, "good_handlers.py") == set(), mypy_output
