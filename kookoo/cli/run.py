"""``kookoo run TARGET [--host H] [--port P] [--no-reload]``: serve an app with Werkzeug's
development server, reloading on code changes, one log line per request."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kookoo.cli.common import EXIT_OK, EXIT_USAGE, PROG, Subparsers, UsageError, print_error
from kookoo.cli.target import load_target

if TYPE_CHECKING:
    from werkzeug.serving import WSGIRequestHandler

__all__ = ["add_parser"]


def add_parser(subparsers: Subparsers) -> None:
    """Register ``kookoo run``."""
    parser = subparsers.add_parser(
        "run",
        help="serve an app with a development server",
        description=(
            "Serve TARGET (module:app or path/to/file.py[:app]) with Werkzeug's development "
            "server, reloading on code changes, one log line per request. Use gunicorn in "
            "production."
        ),
    )
    parser.add_argument("target", metavar="TARGET")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--no-reload", action="store_true", help="do not restart when the code changes"
    )
    parser.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    import logging

    from werkzeug.serving import WSGIRequestHandler, is_running_from_reloader, run_simple

    try:
        app = load_target(args.target)
    except UsageError as exc:
        print_error("run", exc)
        if args.no_reload or not is_running_from_reloader():
            return EXIT_USAGE
        # A reload hit broken code: keep serving (a 500 that says why) and watching, so
        # saving the fixed file brings the app back.
        print_error("run", "waiting for the code to be fixed...")
        app = _broken_app(str(exc))
    from kookoo.web.app import KooKoo

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    handler: type[WSGIRequestHandler] = WSGIRequestHandler
    if isinstance(app, KooKoo):
        # The app logs its own line per request (sid, event, handler, status, time); the
        # server's access line would repeat it.
        handler = _quiet_handler()
    run_simple(
        args.host,
        args.port,
        app,
        use_reloader=not args.no_reload,
        # The stat reloader behaves the same whether or not watchdog is installed (mkdocs
        # brings it), and watches the target's file even while it does not import.
        reloader_type="stat",
        request_handler=handler,
        extra_files=_target_files(args.target),
    )
    return EXIT_OK


def _broken_app(message: str) -> Callable[..., Any]:
    body = f"{PROG} run: the app could not be loaded: {message}\n".encode()

    def app(environ: Any, start_response: Callable[..., Any]) -> list[bytes]:
        start_response(
            "500 INTERNAL SERVER ERROR",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


def _target_files(target: str) -> list[str]:
    """The file a TARGET names, for the reloader to watch even when it does not import."""
    import importlib.util

    name = target.rpartition(":")[0] if target.count(":") == 1 else target
    if name.endswith(".py"):
        return [os.path.abspath(name)]
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    return [spec.origin] if spec is not None and spec.origin else []


def _quiet_handler() -> type[WSGIRequestHandler]:
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    return Quiet
