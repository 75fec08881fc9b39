"""Importing apps named as ``module:app`` or ``path/to/file.py[:app]``."""

from __future__ import annotations

from pathlib import Path

import pytest

from kookoo.core.loading import load_app

ROOT = Path(__file__).resolve().parent.parent


def test_module_and_file_forms_load_the_same_app() -> None:
    assert load_app("examples.menu:app") is load_app(str(ROOT / "examples" / "menu.py"))


def test_a_missing_import_inside_a_file_is_a_value_error(tmp_path: Path) -> None:
    target = tmp_path / "badapp.py"
    target.write_text("import kookoo_no_such_module\napp = None\n")
    with pytest.raises(ValueError, match=r"cannot import .*badapp.py: No module named"):
        load_app(f"{target}:app")


def test_a_bug_in_the_file_keeps_its_own_traceback(tmp_path: Path) -> None:
    target = tmp_path / "buggy.py"
    target.write_text("app = 1 / 0\n")
    with pytest.raises(ZeroDivisionError):
        load_app(str(target))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("not a spec!", "is not module:app"),
        ("examples.menu:nothing", "has no attribute 'nothing'"),
        ("examples.menu:DEPARTMENTS", "is dict, not a WSGI app"),
        ("no/such/file.py", "no such file"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_app(spec)
