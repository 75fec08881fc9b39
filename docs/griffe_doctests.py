"""A griffe extension for the docs build: kookoo's docstrings are written for Sphinx-style
readers (``:class:`~kookoo.Call``` roles, ``Example::`` literal blocks, doctests), and
mkdocstrings renders Markdown.  Before rendering, this turns each role into a code span (its
last name for ``~``, its title for ``Title <target>``), ``::`` at a line's end into ``:`` (the
indented block after it is code in Markdown too), and fences every doctest as ``pycon`` (else
Markdown reads ``['KK102']`` in a doctest's output as a link).  Only the rendering changes;
the doctests run under pytest."""

from __future__ import annotations

import re
from typing import Any

try:
    import griffe
except ImportError:  # only the build needs griffe; tests/test_docs.py checks markdown() without
    griffe = None

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):`([^`]+)`")


def _role(match: re.Match[str]) -> str:
    target = match[1]
    titled = re.fullmatch(r"(.+?)\s*<([^>]+)>", target)
    if titled:
        return f"`{titled[1]}`"
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def markdown(text: str) -> str:
    """``text`` with reST roles and literal-block markers turned into Markdown."""
    text = ROLE.sub(_role, text)
    text = re.sub(r"(?m)(\S)::$", r"\1:", text)
    text = re.sub(r"(?m)^(\s*)::$", "", text)
    return fence_doctests(text)


def fence_doctests(text: str) -> str:
    """``text`` with each run of doctest lines (prompt, continuation, output up to a blank line)
    wrapped in a ``pycon`` fence."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :])
                i += 1
            out.append(f"{indent}```pycon")
            out.extend(indent + b for b in block)
            out.append(f"{indent}```")
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


if griffe is not None:

    class DoctestFences(griffe.Extension):
        """Markdown for every docstring griffe loads."""

        def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value)
