"""Import an app named on a command line or in a config file: ``module:app`` or
``path/to/file.py[:app]`` (used by the ``kookoo`` command and the pytest plugin)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["load_app", "load_object"]


def load_app(spec: str) -> Callable[..., Any]:
    """Import a WSGI app from ``module:attr``, ``path/to/file.py`` or ``path/to/file.py:attr``
    (``attr`` defaults to ``app``; it may be dotted).  The current directory is importable, as
    with gunicorn.

    Raises:
        ValueError: the spec is malformed, the module or file cannot be imported, or the
            attribute is missing or not callable.

    >>> load_app("examples.menu:app").name
    'menu'
    """
    obj = load_object(spec, "app", "module:app, path/to/file.py[:app] or a URL")
    if not callable(obj):
        raise ValueError(f"{spec!r} is {type(obj).__name__}, not a WSGI app")
    result: Callable[..., Any] = obj
    return result


def load_object(spec: str, default_attr: str, shapes: str) -> Any:
    """Import what ``module:attr`` or ``path/to/file.py[:attr]`` names (``attr`` defaults to
    ``default_attr`` and may be dotted); the current directory is importable.

    Args:
        spec: what the user wrote.
        default_attr: the attribute taken when ``spec`` names none (``"app"``, ``"bots"``).
        shapes: the accepted forms, for the error message.

    Raises:
        ValueError: the spec is malformed, the module or file cannot be imported, or the
            attribute is missing.
    """
    module_part, sep, attr = spec.partition(":")
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module = _import_file(Path(module_part))
    else:
        if not module_part or not all(p.isidentifier() for p in module_part.split(".")):
            raise ValueError(f"{spec!r} is not {shapes}")
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise ValueError(f"cannot import {module_part!r}: {exc}") from exc
    attr = attr if sep else default_attr
    obj: Any = module
    for name in attr.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise ValueError(f"{module_part!r} has no attribute {attr!r}") from None
    return obj


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    path = path.resolve()
    # Imports inside the file resolve like `python path/to/file.py`: from its directory first.
    # A file inside a package (examples/menu.py) is imported as its dotted module when its
    # package root is importable, so the module is not loaded twice under two names.
    name = _module_name(path)
    if name is not None:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise ValueError(f"cannot import {path}: {exc}") from exc
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    name = f"_kookoo_target_{path.stem}"
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:  # what the file imports is missing: say so plainly
        del sys.modules[name]
        raise ValueError(f"cannot import {path}: {exc}") from exc
    except BaseException:  # a bug in the file: its own traceback is the useful message
        del sys.modules[name]
        raise
    return module


def _module_name(path: Path) -> str | None:
    """``examples.menu`` for ``<root>/examples/menu.py`` when ``examples`` is a package;
    ``<root>`` is put on ``sys.path``."""
    parts = [path.stem]
    parent = path.parent
    while (parent / "__init__.py").is_file():
        parts.insert(0, parent.name)
        parent = parent.parent
    if len(parts) == 1:
        return None
    if str(parent) not in sys.path:
        sys.path.insert(0, str(parent))
    return ".".join(parts)
