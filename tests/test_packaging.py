"""What ``pip install kookoo`` puts on a machine, read from the installed distribution's metadata.

.ci/run also builds the wheel and lists its files (benchmarks/ and tests/ stay out of it).
"""

from __future__ import annotations

from importlib import metadata

import kookoo


def test_the_installed_version_is_kookoo_version() -> None:
    # The version is written once, in kookoo/__init__.py; setuptools reads it from there.
    assert metadata.version("kookoo") == kookoo.__version__


def test_only_the_library_and_its_pytest_plugin_are_installed() -> None:
    top_level = metadata.distribution("kookoo").read_text("top_level.txt")
    assert top_level is not None
    assert sorted(top_level.split()) == ["kookoo", "pytest_kookoo"]


def test_entry_points_name_the_plugin_module_and_the_cli() -> None:
    entry_points = metadata.distribution("kookoo").entry_points
    assert {(ep.group, ep.name, ep.value) for ep in entry_points} == {
        ("pytest11", "kookoo", "pytest_kookoo"),
        ("console_scripts", "kookoo", "kookoo.cli:main"),
    }
