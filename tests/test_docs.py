"""The documentation cannot rot: every code block on every page in docs/ runs here.

Rules for writing pages (each enforced below):

- Fences start at the beginning of a line; the language is one of :data:`LANGUAGES`.
- ``python`` blocks with a title (```` ```python title="menu.py" ````) are files: they are
  written into the page's own temporary directory, where later blocks import or run them.
  Untitled ``python`` blocks run in order in one namespace per page, with that directory as
  the working directory and on ``sys.path``.  A block that is only
  ``--8<-- "examples/x.py"`` includes a tested file (the snippets extension).
- An ``xml`` block shows what the code before it produced: it is compared with the page
  namespace's ``reply`` (a Response, str, bytes, a simulated call's last turn), element by
  element, after which ``reply`` is forgotten.  On the lint rules page, an ``xml`` block titled
  ``Bad (KK102)`` must produce exactly that finding, one titled ``Fixed`` none.
- ``ini``/``toml``/``json`` blocks have a title and are written as files, like ``xml`` blocks
  titled ``*.xml``.
- ``text`` blocks are figures (a request's walk through the modules): every ``dir/file.py``
  they name must exist in the package.
- ``console`` blocks: ``$ command`` lines, each followed by its exact output (a line ``...``
  stands for any lines, ``…`` inside a line for any text).  The commands run in the page's
  directory; only :data:`NOT_RUN` commands (installs, servers that run until stopped) are
  not, and those show no output.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from _pytest.assertion.rewrite import rewrite_asserts  # readable failures in pages
from lxml import etree

import kookoo
from kookoo import Response, lint
from kookoo.protocol.events import EVENT_TYPES, CallStatus, UnknownEvent

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
LANGUAGES = {"python", "xml", "console", "ini", "toml", "json", "text"}
NOT_RUN = ("pip install", "gunicorn ", "kookoo run ", "mkdocs serve", "python -m kookoo.stream")
FENCE = re.compile(
    r'^```(?P<lang>[a-z]*)(?: +title="(?P<title>[^"]*)")?[ \t]*\n(?P<body>.*?)^```[ \t]*$',
    re.MULTILINE | re.DOTALL,
)
INCLUDE = re.compile(r'^--8<-- "(?P<path>[^"]+)"$')


@dataclasses.dataclass
class Block:
    lang: str
    title: str | None
    body: str
    line: int


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(m["lang"], m["title"], m["body"], text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]


def canonical(xml: str | bytes) -> bytes:
    """XML with the declaration and the whitespace between tags removed."""
    data = xml.encode() if isinstance(xml, str) else xml
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.tostring(etree.fromstring(data, parser), method="c14n")


def produced(value: Any) -> bytes:
    """The XML a page's ``reply`` stands for."""
    if isinstance(value, str | bytes):
        return canonical(value)
    if hasattr(value, "last_turn"):  # a SimulatedCall: its last reply
        value = value.last_turn
    if hasattr(value, "body"):
        return canonical(value.body)
    if hasattr(value, "to_xml"):
        return canonical(value.to_xml())
    raise AssertionError(f"reply is {type(value).__name__}, not something with XML")


def output_pattern(expected: list[str]) -> re.Pattern[str]:
    parts = []
    for line in expected:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*".join(map(re.escape, line.split("…"))) + r"[ \t]*\n")
    return re.compile("".join(parts), re.DOTALL)


def run_console(block: Block, workdir: Path, page: Path) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            assert commands, f"{page.name}:{block.line}: console output before any command"
            commands[-1][1].append(line.rstrip())
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=f"{workdir}{os.pathsep}{ROOT}",
        KOOKOO_DB=str(workdir / "calls.sqlite3"),
        COLUMNS="80",
        NO_COLOR="1",
    )
    env.pop("PYTEST_ADDOPTS", None)
    for command, expected in commands:
        if command.startswith(NOT_RUN):
            assert not any(expected), f"{page.name}:{block.line}: {command!r} is not run"
            continue
        argv = shlex.split(command)
        if argv[0] == "python":
            argv[0] = sys.executable
        done = subprocess.run(
            argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        out = done.stdout + done.stderr
        while expected and not expected[-1]:
            expected.pop()
        pattern = output_pattern(expected)
        normalised = "\n".join(line.rstrip() for line in out.splitlines()) + "\n"
        assert pattern.fullmatch(normalised), (
            f"{page.relative_to(DOCS)}:{block.line}: `{command}` printed\n{out}\n"
            f"expected\n" + "\n".join(expected)
        )


def compiled(block: Block, page: Path) -> CodeType:
    """The block as code whose tracebacks name the page and its line, with pytest's
    assertion messages (``assert a == b`` shows both sides)."""
    source = "\n" * block.line + block.body
    tree = ast.parse(source, str(page))
    rewrite_asserts(tree, source.encode(), str(page))
    return compile(tree, str(page), "exec")


def run_page(page: Path, workdir: Path, namespace: dict[str, Any]) -> None:
    for block in blocks(page):
        where = f"{page.relative_to(DOCS)}:{block.line}"
        assert block.lang in LANGUAGES, f"{where}: a ```{block.lang} block cannot be tested"
        include = INCLUDE.match(block.body.strip())
        if block.lang == "python" and include:
            assert (ROOT / include["path"]).is_file(), f"{where}: {include['path']} is missing"
        elif block.title and (block.lang != "xml" or block.title.endswith(".xml")):
            (workdir / block.title).parent.mkdir(parents=True, exist_ok=True)
            (workdir / block.title).write_text(block.body, encoding="utf-8")
        elif block.lang == "python":
            exec(compiled(block, page), namespace)
        elif block.lang in {"ini", "toml", "json"}:
            raise AssertionError(f"{where}: a ```{block.lang} block needs a title (its file)")
        elif block.lang == "xml" and block.title:
            found = [f.code for f in lint(block.body)]
            match = re.fullmatch(r"Bad \((KK\d{3})\)", block.title)
            if match:
                assert found == [match[1]], f"{where}: lint found {found}, not {match[1]}"
            else:
                assert block.title == "Fixed", f"{where}: xml title {block.title!r}"
                assert found == [], f"{where}: the fixed reply has findings {found}"
        elif block.lang == "xml":
            assert "reply" in namespace, f"{where}: no `reply` before this XML"
            assert produced(namespace.pop("reply")) == canonical(block.body), where
        elif block.lang == "console":
            run_console(block, workdir, page)
        elif block.lang == "text":
            for path in re.findall(r"\b[a-z_]+/[a-z_/]*[a-z_]+\.py\b", block.body):
                assert (ROOT / "kookoo" / path).is_file(), f"{where}: kookoo/{path} is missing"


#: The tutorial's pages build one project: they run in this order, in one directory.
TUTORIAL = ["index.md", "first-app.md", "menu.md", "tests.md", "serve.md"]
GROUPS = [
    [DOCS / "tutorial" / name for name in TUTORIAL],
    *([page] for page in PAGES if page.parent.name != "tutorial"),
]


def test_tutorial_pages_are_all_run() -> None:
    assert sorted(TUTORIAL) == sorted(p.name for p in (DOCS / "tutorial").glob("*.md"))


@pytest.mark.parametrize(
    "group",
    GROUPS,
    ids=[
        str(g[0].relative_to(DOCS).parent if len(g) > 1 else g[0].relative_to(DOCS)) for g in GROUPS
    ],
)
def test_page_samples_run(
    group: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("KOOKOO_DB", str(tmp_path / "calls.sqlite3"))
    modules = set(sys.modules)
    namespace: dict[str, Any] = {"__name__": "docs_page"}
    try:
        for page in group:
            run_page(page, tmp_path, namespace)
    finally:
        # The page's own modules (menu.py, ...) must not leak into the next page's imports.
        for name in set(sys.modules) - modules:
            if str(tmp_path) in str(getattr(sys.modules[name], "__file__", "") or ""):
                del sys.modules[name]


def test_every_fence_is_seen() -> None:
    """An indented or unusual fence would escape the checks above."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fences = [line for line in text.splitlines() if line.lstrip().startswith("```")]
        assert len(fences) == 2 * len(blocks(page)), f"{page.relative_to(DOCS)}: odd fences"
        assert all(line.startswith("```") for line in fences), page


def test_the_xml_check_can_fail() -> None:
    assert produced(Response().hangup()) == canonical("<response>\n  <hangup/>\n</response>")
    assert produced(Response().hangup()) != canonical("<response><hangup>x</hangup></response>")
    assert output_pattern(["a", "...", "c … d"]).fullmatch("a\nb\nb\nc x y d\n")
    assert not output_pattern(["a", "c"]).fullmatch("a\nb\nc\n")


# -- reference completeness -----------------------------------------------------------------


def test_reference_lists_every_public_name() -> None:
    api = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: kookoo\.(?:lint\.)?(\w+)$", api, re.MULTILINE))
    assert documented == set(kookoo.__all__)


def test_reference_covers_every_public_submodule() -> None:
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))
    for module in (
        *("testing", "state.stores", "flow", "protocol.lang", "outbound"),
        *("testing.fake_outbound", "stream", "testing.servers"),
        *("web.security", "web.signing", "state.limits"),
        *("web.config", "web.logs", "web.health", "web.metrics", "web.checks"),
        *("core.settings", "core.signing", "core.errors", "core.text", "core.loading"),
        *("web", "web.context", "web.pipeline", "web.scaffold", "web.handlers"),
        *("web.capacity", "web.streams", "state.session"),
    ):
        assert f"::: kookoo.{module}\n" in pages, module
    assert "::: pytest_kookoo\n" in pages


def event_classes() -> list[type[kookoo.Event]]:
    return [*EVENT_TYPES.values(), CallStatus, UnknownEvent]


def test_events_page_lists_every_event_and_field() -> None:
    text = (DOCS / "reference" / "events.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## `(\w+)`\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL))
    for cls in event_classes():
        assert cls.__name__ in sections, cls.__name__
        rows = re.findall(r"^\| `(\w+)` \|", sections[cls.__name__], re.MULTILINE)
        fields = [f.name for f in dataclasses.fields(cls) if f.name != "params"]
        assert sorted(rows) == sorted(fields), f"{cls.__name__}: table {rows}, class {fields}"
        assert len(set(rows)) == len(rows), cls.__name__


def test_lint_page_has_every_rule_with_bad_and_fixed() -> None:
    from kookoo.xml.lint import RULES

    text = (DOCS / "reference" / "lint-rules.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (KK\d{3})\b", text, re.MULTILINE)
    assert headings == sorted(RULES)
    titles = [b.title for b in blocks(DOCS / "reference" / "lint-rules.md") if b.lang == "xml"]
    for code in RULES:
        assert f"Bad ({code})" in titles, code
    assert titles.count("Fixed") == len(RULES)


def test_docstrings_render_as_markdown() -> None:
    """The docs build's griffe extension (docs/griffe_doctests.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("griffe_doctests", DOCS / "griffe_doctests.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (
        "See :class:`~kookoo.state.stores.CallStore` and :meth:`Simulator.call "
        "<kookoo.testing.Simulator.call>`.\nExample::\n\n    x = 1\n\n"
        ">>> [1]\n[1]\n\nAfter."
    )
    assert module.markdown(text) == (
        "See `CallStore` and `Simulator.call`.\nExample:\n\n    x = 1\n\n"
        "```pycon\n>>> [1]\n[1]\n```\n\nAfter."
    )


SAMPLES = {"PhoneNumber": "09876543210", "int": "20", "datetime": "2026-12-02 10:30:00"}


@pytest.mark.parametrize("cls", event_classes(), ids=lambda cls: cls.__name__)
def test_events_page_names_the_right_parameters(cls: type[kookoo.Event]) -> None:
    """Each row's KooKoo parameter, sent alone, fills that row's field."""
    text = (DOCS / "reference" / "events.md").read_text(encoding="utf-8")
    section = re.search(rf"^## `{cls.__name__}`\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section is not None
    rows = re.findall(r"^\| `(\w+)` \| `?([\w ()]+?)`? \| `(\w+)`(.*)\|$", section[1], re.M)
    assert rows, cls.__name__
    for field, kind, param, rest in rows:
        if field == "sid":
            continue
        params = {"event": cls.name, "sid": "1104528084461170"}
        if cls is UnknownEvent:
            params["event"] = "SomethingNew"
        process = re.search(r"when `process` is `(\w+)`", rest)
        if process:
            params["process"] = process[1]
        if cls is CallStatus:  # no event string: a status and one callback field tell it
            del params["event"]
            params.update(status="answered", phone_no="09876543210")
        value = SAMPLES.get(kind.split()[0], "http://recordings.kookoo.in/a/b.mp3")
        params[param] = value
        event = kookoo.parse_event(params)
        assert type(event) is cls, (field, params)
        assert getattr(event, field) is not None, f"{cls.__name__}.{field} is not from {param}"
